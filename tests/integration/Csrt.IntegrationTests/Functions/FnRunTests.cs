using System.Diagnostics;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Functions;

/// <summary>`csrt fn run` as root: the ResourceList function from an OCI archive, and the function contract.</summary>
public sealed class FnRunTests : IDisposable
{
    private const string ResourceList = """
        apiVersion: config.kubernetes.io/v1
        kind: ResourceList
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: settings
            annotations:
              owner: team-a
          data:
            key: value
        - apiVersion: apps/v1
          kind: Deployment
          metadata:
            name: web
          spec:
            replicas: 2
        functionConfig:
          apiVersion: v1
          kind: ConfigMap

        """;

    private const string Annotated = """
        apiVersion: config.kubernetes.io/v1
        kind: ResourceList
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: settings
            annotations:
              fn.csrt.io/processed: "true"
              owner: team-a
          data:
            key: value
        - apiVersion: apps/v1
          kind: Deployment
          metadata:
            annotations:
              fn.csrt.io/processed: "true"
            name: web
          spec:
            replicas: 2
        functionConfig:
          apiVersion: v1
          kind: ConfigMap

        """;

    private readonly FnHarness _fn = new("run");

    public void Dispose() => _fn.Dispose();

    [Fact]
    public void ResourceListFunction_FromAnOciArchive_AnnotatesEveryItem_AndLeavesNothingBehind()
    {
        var result = _fn.Pipe(ResourceList, "--image", _fn.FnImage);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(Annotated, result.Stdout);
        Assert.Equal("", result.Stderr);
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void ResourceListFunction_OnMalformedInput_WritesAnErrorOnStderr_AndExits1()
    {
        var result = _fn.Pipe("just: some\nyaml: [that is not a ResourceList\n", "--image", _fn.FnImage);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        Assert.Contains("malformed ResourceList", result.Stderr, StringComparison.Ordinal);
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void ImageUser_IsHonoured_TheFunctionImageRunsAsUser1000()
    {
        // The fn image's Entrypoint is the function; a layout of our own shows User with a shell.
        var layout = _fn.Layout("user").BusyboxLayer().Write(new JsonObject { ["User"] = "user", ["Cmd"] = new JsonArray("id") });

        var result = _fn.Run("--image", "oci:" + layout.Dir);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("uid=1000(user) gid=1000(user)\n", result.Stdout);
    }

    [Fact]
    public void NewNetworkNamespace_HoldsOnlyLo_AndNetworkHost_SeesTheHostsInterfaces()
    {
        var isolated = _fn.Run("--image", _fn.BusyboxImage, "--", "ls", "/sys/class/net");
        // Other work on the host may add or remove interfaces meanwhile: what the call sees must
        // lie between what was there both before and after it, and what was there at either time.
        var before = HostInterfaces();
        var host = _fn.Run("--image", _fn.BusyboxImage, "--network", "host", "--", "ls", "/sys/class/net");
        var after = HostInterfaces();

        Assert.True(isolated.Succeeded, isolated.ToString());
        Assert.Equal("lo\n", isolated.Stdout);
        Assert.True(host.Succeeded, host.ToString());
        var seen = host.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("lo", seen);
        Assert.True(seen.Count > 1, $"--network host shows only {host.Stdout.Trim()}");
        Assert.Subset(before.Union(after).ToHashSet(StringComparer.Ordinal), seen);
        Assert.Superset(before.Intersect(after).ToHashSet(StringComparer.Ordinal), seen);
    }

    private static HashSet<string> HostInterfaces() =>
        Directory.GetFileSystemEntries("/sys/class/net").Select(p => Path.GetFileName(p)).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void Rootfs_IsReadOnly_OnlyTmpIsWritable_AndTmpIsPrivate()
    {
        var result = _fn.Run("--rootfs", _fn.Images.RootfsDir, "--", "sh", "-c",
            "touch /etc/fn-write 2>&1; echo etc=$?; touch /fn-write 2>&1; echo root=$?; echo x > /tmp/ok && echo tmp=$?; grep ' /tmp ' /proc/self/mounts | cut -d' ' -f3");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("Read-only file system", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("etc=1\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("root=1\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("tmp=0\ntmpfs\n", result.Stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_fn.Images.RootfsDir, "tmp", "ok")));
        Assert.False(File.Exists(Path.Combine(_fn.Images.RootfsDir, "etc", "fn-write")));
    }

    [Fact]
    public void Environment_IsTheCallersWithoutTmpdir_PlusTheImagesEnv_AndEnvFlags()
    {
        var env = new Dictionary<string, string> { ["TMPDIR"] = "/var/tmp/caller", ["FN_CALLER_VAR"] = "from-caller", ["FN_OVERRIDDEN"] = "caller" };
        var layout = _fn.Layout("env").BusyboxLayer().Write(new JsonObject
        {
            ["Env"] = new JsonArray("PATH=/bin", "FN_IMAGE_VAR=from-image", "FN_OVERRIDDEN=image"),
            ["Cmd"] = new JsonArray("env"),
        });

        var passed = _fn.Run(null, env, "--image", "oci:" + layout.Dir, "--env", "FN_FLAG=from-flag");
        var cleared = _fn.Run(null, env, "--image", "oci:" + layout.Dir, "--env-clear");

        Assert.True(passed.Succeeded, passed.ToString());
        var lines = passed.Stdout.Split('\n');
        Assert.DoesNotContain(lines, l => l.StartsWith("TMPDIR=", StringComparison.Ordinal));
        Assert.Contains("FN_CALLER_VAR=from-caller", lines);
        Assert.Contains("FN_IMAGE_VAR=from-image", lines);
        Assert.Contains("FN_OVERRIDDEN=image", lines);
        Assert.Contains("FN_FLAG=from-flag", lines);
        Assert.Contains("PATH=/bin", lines);
        Assert.True(cleared.Succeeded, cleared.ToString());
        Assert.DoesNotContain("FN_CALLER_VAR", cleared.Stdout, StringComparison.Ordinal);
        Assert.Contains("FN_IMAGE_VAR=from-image", cleared.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Process_HasNoCapabilities_NoNewPrivs_AndTheDefaultSeccompProfile()
    {
        var result = _fn.Run("--rootfs", _fn.Images.RootfsDir, "--", "sh", "-c",
            "grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; unshare -n true 2>&1; echo unshare=$?");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("CapPrm:\t0000000000000000", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("CapEff:\t0000000000000000", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("CapBnd:\t0000000000000000", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("NoNewPrivs:\t1", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Seccomp:\t2", result.Stdout, StringComparison.Ordinal);
        // unshare is not in containerd's allow list: EPERM from the filter.
        Assert.Contains("unshare=1", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ExitStatus_IsTheProgramsOwn_AndNothingIsLeftInStateCgroupsOrMounts()
    {
        var result = _fn.Run("--rootfs", _fn.Images.RootfsDir, "--", "sh", "-c", "cat /proc/self/cgroup; exit 7");

        Assert.Equal(7, result.ExitCode);
        Assert.Contains(":pids:/", result.Stdout, StringComparison.Ordinal);
        _fn.AssertNothingLeft(result.Stdout);
    }

    [Fact]
    public void Timeout_KillsTheProgram_ExitStatus137_WithAMessage()
    {
        var result = _fn.Run("--rootfs", _fn.Images.RootfsDir, "--timeout", "300ms", "--", "sleep", "100");

        Assert.Equal(128 + Signals.SIGKILL, result.ExitCode);
        Assert.Contains("--timeout 300ms", result.Stderr, StringComparison.Ordinal);
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void SigtermToCsrt_ReachesTheProgram()
    {
        var psi = Commands.StartInfo(RepoPaths.CsrtBinary, ["--root", _fn.StateRoot, "fn", "run", "--image-cache", _fn.Cache, "--rootfs", _fn.Images.RootfsDir, "--", "sh", "-c",
            "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.05; done"]);
        using var p = Process.Start(psi)!;
        try
        {
            var ready = p.StandardOutput.ReadLineAsync();
            Assert.True(ready.Wait(FnHarness.Timeout), "the program never printed ready");
            if (ready.Result != "ready")
                Assert.Fail($"expected \"ready\", got {ready.Result ?? "end of output"}; stderr: {p.StandardError.ReadToEnd()}");

            Signals.Send(p.Id, Signals.SIGTERM);

            Assert.True(p.WaitForExit(FnHarness.Timeout), "csrt fn run did not exit after SIGTERM");
            Assert.Equal(42, p.ExitCode);
            Assert.Equal("got TERM", p.StandardOutput.ReadLine());
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void ArgumentsAfterDashDash_ReplaceCmd_KeepEntrypoint_InWorkingDir()
    {
        var layout = _fn.Layout("cmd").BusyboxLayer().Write(new JsonObject
        {
            ["Entrypoint"] = new JsonArray("/bin/sh", "-c", "echo \"$(pwd) $0 $*\""),
            ["Cmd"] = new JsonArray("from-cmd", "a"),
            ["WorkingDir"] = "/etc",
        });

        var defaults = _fn.Run("--image", "oci:" + layout.Dir + ":latest");
        var replaced = _fn.Run("--image", "oci:" + layout.Dir, "--", "given", "x", "y");

        Assert.True(defaults.Succeeded, defaults.ToString());
        Assert.Equal("/etc from-cmd a\n", defaults.Stdout);
        Assert.True(replaced.Succeeded, replaced.ToString());
        Assert.Equal("/etc given x y\n", replaced.Stdout);
    }

    [Fact]
    public void Mount_BindsAHostPath_ReadOnlyWithRo()
    {
        var input = Path.Combine(_fn.Work, "input");
        Directory.CreateDirectory(input);
        File.WriteAllText(Path.Combine(input, "doc"), "host content\n");

        var result = _fn.Run("--rootfs", _fn.Images.RootfsDir, "--mount", input + ":/input:ro", "--", "sh", "-c",
            "cat /input/doc; touch /input/new 2>/dev/null; echo write=$?");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("host content\nwrite=1\n", result.Stdout);
        Assert.False(File.Exists(Path.Combine(input, "new")));
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void Limits_MemoryCpusPids_AreWrittenToTheContainersCgroups()
    {
        var result = _fn.Run("--rootfs", _fn.Images.RootfsDir, "--memory", "64m", "--cpus", "0.5", "--pids", "20",
            "--mount", "/sys/fs/cgroup:/cg:ro", "--", "sh", "-c",
            "p=$(grep :pids: /proc/self/cgroup | cut -d: -f3); cat /cg/pids$p/pids.max; " +
            "m=$(grep :memory: /proc/self/cgroup | cut -d: -f3); cat /cg/memory$m/memory.limit_in_bytes; " +
            "c=$(grep -E ':cpu,cpuacct:|:cpu:' /proc/self/cgroup | head -1 | cut -d: -f3); cat /cg/cpu$c/cpu.cfs_quota_us /cg/cpu$c/cpu.cfs_period_us");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("20\n67108864\n50000\n100000\n", result.Stdout);
    }

    [Fact]
    public void CommandNotInTheImage_Exits127_WithAMessage()
    {
        var result = _fn.Run("--image", _fn.BusyboxImage, "--", "no-such-command");

        Assert.Equal(127, result.ExitCode);
        Assert.Contains("\"no-such-command\": executable file not found", result.Stderr, StringComparison.Ordinal);
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void Terminal_WithT_GivesTheProgramAPty()
    {
        var result = _fn.Run("--rootfs", _fn.Images.RootfsDir, "-t", "--", "sh", "-c", "test -t 0 && readlink /proc/self/fd/1");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("/dev/pts/", result.Stdout, StringComparison.Ordinal);
    }
}
