using System.Text.Json;
using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>containerd's own client (ctr) driving tasks on containerd-shim-csrt-v2.</summary>
[Collection(ContainerdCollection.Name)]
public sealed class CtrTaskTests
{
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public CtrTaskTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    /// <summary>Runs a ctr command line under <c>script</c>, which gives ctr a pty (ctr -t needs one), with a 33x99 window.</summary>
    private CommandResult CtrWithTty(string arguments)
    {
        var command = $"stty rows 33 cols 99; {PrivateContainerd.CtrBinary} --address {_containerd.Address} {arguments}";
        return Commands.Run("/usr/bin/script", ["-qec", command, "/dev/null"], TimeSpan.FromSeconds(60));
    }

    private void RunDetached(string id, params string[] command) =>
        _containerd.Ctr(new[] { "run", "-d", "--runtime", PrivateContainerd.CsrtRuntime, TestImages.BusyboxImage, id }.Concat(command).ToArray()).EnsureSuccess();

    /// <summary>The STATUS column of `ctr task ls` for <paramref name="id"/>.</summary>
    private string TaskStatus(string id)
    {
        var line = _containerd.CtrOk("tasks", "ls").Split('\n').FirstOrDefault(l => l.StartsWith(id + " ", StringComparison.Ordinal));
        return line is null ? "" : line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2];
    }

    private string WaitForTaskStatus(string id, string status)
    {
        for (var i = 0; i < 300; i++)
        {
            if (TaskStatus(id) == status)
                return status;
            Thread.Sleep(100);
        }
        return TaskStatus(id);
    }

    [Fact]
    public void CtrRunWithTheCsrtRuntimePrintsTheContainersOutputAndItsExitStatus()
    {
        var id = TestBundle.NewId("ctr-run");
        try
        {
            var r = _containerd.Ctr(TimeSpan.FromSeconds(60), "run", "--rm", "--runtime", PrivateContainerd.CsrtRuntime,
                TestImages.BusyboxImage, id, "sh", "-c", "echo hello from csrt; echo to stderr >&2; exit 7");
            _log.WriteLine($"stdout: {r.Stdout}\nstderr: {r.Stderr}");
            if (r.ExitCode != 7)
                _log.WriteLine(_containerd.ReadLog());
            Assert.Equal("hello from csrt\n", r.Stdout);
            Assert.Contains("to stderr\n", r.Stderr, StringComparison.Ordinal);
            Assert.Equal(7, r.ExitCode);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void CtrRunRm_ReusingTheSameIdAtOnce_GetsANewShimEachTime()
    {
        var id = TestBundle.NewId("ctr-again");
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var r = _containerd.Ctr(TimeSpan.FromSeconds(60), "run", "--rm", "--runtime", PrivateContainerd.CsrtRuntime, TestImages.BusyboxImage, id, "echo", $"run {i}");
                Assert.True(r.Succeeded, r.ToString());
                Assert.Equal($"run {i}\n", r.Stdout);
            }
            var socket = ShimSocketPath(id);
            Assert.True(HostState.WaitGone(HostState.ProcessesWithArgument(id).Where(HostState.IsCsrtShim), TimeSpan.FromSeconds(10)),
                "a shim of the finished task is still running");
            Assert.False(File.Exists(socket), $"the socket {socket} outlived its shim");
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    /// <summary>The shim socket of a task of the default namespace, by the runc shim's rule.</summary>
    private string ShimSocketPath(string id) =>
        "/run/containerd/s/" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{_containerd.Address}/default/{id}")));

    [Fact]
    public void CtrRunWithATty_GivesTheProcessATerminalWithTheClientsWindowSize_AndPassesItsExitStatus()
    {
        var id = TestBundle.NewId("ctr-tty");
        try
        {
            // ctr sends the window size after Start: give it a moment before asking.
            var r = CtrWithTty($"run --rm -t --runtime {PrivateContainerd.CsrtRuntime} {TestImages.BusyboxImage} {id} sh -c 'sleep 1; tty; stty size; exit 4'");
            _log.WriteLine(r.ToString());
            Assert.Contains("/dev/pts/", r.Stdout, StringComparison.Ordinal);
            Assert.Contains("33 99", r.Stdout, StringComparison.Ordinal);
            Assert.Equal(4, r.ExitCode);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void CtrTaskExec_InADetachedTask_WithAndWithoutTty_PassesOutputAndExitStatus()
    {
        var id = TestBundle.NewId("ctr-exec");
        try
        {
            RunDetached(id, "sleep", "1000");
            Assert.Equal("RUNNING", WaitForTaskStatus(id, "RUNNING"));

            var plain = _containerd.Ctr("tasks", "exec", "--exec-id", "plain", id, "sh", "-c", "echo exec out; echo exec err >&2; exit 5");
            Assert.Equal("exec out\n", plain.Stdout);
            Assert.Contains("exec err\n", plain.Stderr, StringComparison.Ordinal);
            Assert.Equal(5, plain.ExitCode);

            var stdin = Commands.Run(PrivateContainerd.CtrBinary, ["--address", _containerd.Address, "tasks", "exec", "--exec-id", "stdin", id, "sh", "-c", "read a; echo \"read $a\""],
                TimeSpan.FromSeconds(60), stdin: "from-ctr\n");
            Assert.Equal("read from-ctr\n", stdin.Stdout);
            Assert.Equal(0, stdin.ExitCode);

            var tty = CtrWithTty($"tasks exec -t --exec-id tty {id} sh -c 'sleep 1; tty; stty size; exit 6'");
            _log.WriteLine(tty.ToString());
            Assert.Contains("/dev/pts/", tty.Stdout, StringComparison.Ordinal);
            Assert.Contains("33 99", tty.Stdout, StringComparison.Ordinal);
            Assert.Equal(6, tty.ExitCode);

            // The task is unharmed and the exec ids are free again.
            Assert.Equal("RUNNING", TaskStatus(id));
            Assert.Equal(0, _containerd.Ctr("tasks", "exec", "--exec-id", "plain", id, "true").ExitCode);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    /// <summary>Names of the shim's threads (/proc/&lt;pid&gt;/task/*/comm).</summary>
    private static List<string> ThreadNames(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").Select(t => File.Exists(t + "/comm") ? File.ReadAllText(t + "/comm").TrimEnd('\n') : "").ToList();

    [Fact]
    public void ATtyExecWithStdin_LeavesNoCopierThreadBehind_OnceItIsDeleted()
    {
        var id = TestBundle.NewId("ctr-copiers");
        try
        {
            RunDetached(id, "sleep", "1000");
            Assert.Equal("RUNNING", WaitForTaskStatus(id, "RUNNING"));
            var shim = Assert.Single(HostState.ProcessesWithArgument(id), HostState.IsCsrtShim);
            string[] copiers = ["stdin→pty", "pty→stdout"];

            // ctr exec -t gives the exec stdin and a pty, and deletes the exec when it exits.
            var exec = Task.Run(() => CtrWithTty($"tasks exec -t --exec-id tty {id} sh -c 'sleep 2; exit 3'"));
            var seen = false;
            for (var i = 0; i < 100 && !seen && !exec.IsCompleted; i++)
            {
                seen = copiers.All(ThreadNames(shim).Contains);
                Thread.Sleep(20);
            }
            Assert.True(seen, "the copier threads never showed up under their names: " + string.Join(", ", ThreadNames(shim)));
            Assert.True(exec.Wait(TimeSpan.FromSeconds(60)));
            _log.WriteLine(exec.Result.ToString());
            Assert.Equal(3, exec.Result.ExitCode);

            // Delete joins them before it closes their fds, so none is left once ctr is back.
            Assert.DoesNotContain(ThreadNames(shim), copiers.Contains);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void CtrTaskPs_ListsTheInitAndExecProcesses_AndPauseResumeChangeTheStatus()
    {
        var id = TestBundle.NewId("ctr-ps");
        try
        {
            RunDetached(id, "sleep", "1000");
            _containerd.CtrOk("tasks", "exec", "-d", "--exec-id", "bg", id, "sleep", "1000");
            var ps = "";
            for (var i = 0; i < 50 && !ps.Contains("bg", StringComparison.Ordinal); i++)
                ps = _containerd.CtrOk("tasks", "ps", id);
            _log.WriteLine(ps);
            var rows = ps.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).ToList();
            Assert.Equal(2, rows.Count);
            Assert.Single(rows, r => r.Contains("ExecID:bg", StringComparison.Ordinal));

            _containerd.CtrOk("tasks", "pause", id);
            Assert.Equal("PAUSED", TaskStatus(id));
            var state = File.ReadAllText($"/proc/{rows[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0]}/status");
            Assert.Contains("State:\tD", state, StringComparison.Ordinal);
            _containerd.CtrOk("tasks", "resume", id);
            Assert.Equal("RUNNING", TaskStatus(id));
            Assert.Equal(0, _containerd.Ctr("tasks", "exec", "--exec-id", "after", id, "true").ExitCode);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void CtrTaskMetrics_DecodesTheShimsCgroupV1Metrics()
    {
        var id = TestBundle.NewId("ctr-metrics");
        try
        {
            RunDetached(id, "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64k count=10000; sleep 1000");
            var text = _containerd.CtrOk("tasks", "metrics", id);
            _log.WriteLine(text);
            Assert.Contains("memory.usage_in_bytes", text, StringComparison.Ordinal);
            Assert.Contains("cpuacct.usage", text, StringComparison.Ordinal);
            Assert.Contains("pids.current", text, StringComparison.Ordinal);
            // ctr decodes the Any by its type URL: it only works with the bare io.containerd.cgroups.v1.Metrics.
            using var json = JsonDocument.Parse(_containerd.CtrOk("tasks", "metrics", "--format", "json", id));
            Assert.True(json.RootElement.GetProperty("cpu").GetProperty("usage").GetProperty("total").GetUInt64() > 0);
            Assert.True(json.RootElement.GetProperty("memory").GetProperty("usage").GetProperty("usage").GetUInt64() > 0);
            Assert.True(json.RootElement.GetProperty("pids").GetProperty("current").GetUInt64() >= 1);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void CtrTaskKill_SignalsTheInit_AndKillAllEndsEveryProcessOfTheContainer()
    {
        var polite = TestBundle.NewId("ctr-kill");
        var stubborn = TestBundle.NewId("ctr-killall");
        try
        {
            RunDetached(polite, "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.2; done");
            RunDetached(stubborn, "sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000 & wait");
            Assert.Equal("RUNNING", WaitForTaskStatus(polite, "RUNNING"));
            Assert.Equal("RUNNING", WaitForTaskStatus(stubborn, "RUNNING"));

            _containerd.CtrOk("tasks", "kill", polite);
            Assert.Equal("STOPPED", WaitForTaskStatus(polite, "STOPPED"));
            var deleted = _containerd.Ctr("tasks", "delete", polite);
            Assert.True(deleted.Succeeded, deleted.ToString());
            Assert.Contains("non-zero exit code 3", deleted.Stderr, StringComparison.Ordinal);

            var pids = _containerd.CtrOk("tasks", "ps", stubborn).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(r => int.Parse(r.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(3, pids.Count);
            _containerd.CtrOk("tasks", "kill", stubborn);
            Thread.Sleep(500);
            Assert.Equal("RUNNING", TaskStatus(stubborn));
            _containerd.CtrOk("tasks", "kill", "--all", "-s", "KILL", stubborn);
            Assert.Equal("STOPPED", WaitForTaskStatus(stubborn, "STOPPED"));
            Assert.True(HostState.WaitGone(pids, TimeSpan.FromSeconds(10)), "processes of the container survived kill --all");

            // A finished task: delete works, and the shim reports its exit status.
            var r = _containerd.Ctr("tasks", "delete", stubborn);
            Assert.True(r.Succeeded, r.ToString());
        }
        finally
        {
            _containerd.RemoveTask(polite);
            _containerd.RemoveTask(stubborn);
        }
    }

    [Fact]
    public void CtrTaskDelete_RefusesARunningTask_AndDeleteForceEndsIt()
    {
        var id = TestBundle.NewId("ctr-delete");
        try
        {
            RunDetached(id, "sleep", "1000");
            var refused = _containerd.Ctr("tasks", "delete", id);
            Assert.False(refused.Succeeded);
            Assert.Contains("running", refused.Stderr, StringComparison.Ordinal);
            _containerd.CtrOk("tasks", "delete", "-f", id);
            Assert.Equal("", TaskStatus(id));
            Assert.False(Directory.Exists(Path.Combine("/run/containerd/csrt", PrivateContainerd.DefaultNamespace, id)), "csrt state is still there");
            Assert.False(Directory.Exists(_containerd.BundleDir(id)), "the bundle is still there");
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void CtrRunWithAFileLogUri_AppendsStdoutAndStderrToTheFile()
    {
        var id = TestBundle.NewId("ctr-file");
        var file = Path.Combine(_containerd.Dir, "ctr-logs", id, "out.log");
        try
        {
            var r = _containerd.Ctr("run", "--rm", "--log-uri", "file://" + file, "--runtime", PrivateContainerd.CsrtRuntime,
                TestImages.BusyboxImage, id, "sh", "-c", "echo to stdout; sleep 0.1; echo to stderr >&2; exit 2");
            Assert.Equal(2, r.ExitCode);
            Assert.Equal("to stdout\nto stderr\n", File.ReadAllText(file));
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void CtrRunWithABinaryLogUri_StartsTheLoggerWithItsProtocol_AndFeedsItTheOutput()
    {
        var id = TestBundle.NewId("ctr-binary");
        var dir = Path.Combine(_containerd.Dir, "ctr-logs", id);
        Directory.CreateDirectory(dir);
        var logger = Path.Combine(dir, "logger.sh");
        // containerd's logging protocol: fd 3 stdout, fd 4 stderr, fd 5 closed when ready; CONTAINER_ID, CONTAINER_NAMESPACE.
        File.WriteAllText(logger, $$"""
            #!/bin/sh
            out="{{dir}}/out.log"
            echo "args=$* id=$CONTAINER_ID ns=$CONTAINER_NAMESPACE" > "{{dir}}/env.log"
            exec 5>&-
            sed 's/^/out: /' <&3 >> "$out" &
            sed 's/^/err: /' <&4 >> "{{dir}}/err.log"
            wait
            """);
        File.SetUnixFileMode(logger, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var r = _containerd.Ctr("run", "--rm", "--log-uri", $"binary://{logger}?level=debug", "--runtime", PrivateContainerd.CsrtRuntime,
                TestImages.BusyboxImage, id, "sh", "-c", "echo to stdout; echo to stderr >&2; exit 3");
            Assert.Equal(3, r.ExitCode);
            for (var i = 0; i < 100 && !(File.Exists(Path.Combine(dir, "out.log")) && File.ReadAllText(Path.Combine(dir, "out.log")).Length > 0); i++)
                Thread.Sleep(100);
            Assert.Equal("out: to stdout\n", File.ReadAllText(Path.Combine(dir, "out.log")));
            Assert.Equal("err: to stderr\n", File.ReadAllText(Path.Combine(dir, "err.log")));
            Assert.Equal($"args=level debug id={id} ns=default\n", File.ReadAllText(Path.Combine(dir, "env.log")));
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }
}
