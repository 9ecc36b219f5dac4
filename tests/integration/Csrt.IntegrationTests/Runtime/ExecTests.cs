using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>`csrt exec` into a running container: argv or --process, tty, detach, pid file, cwd, env, user, exit codes.</summary>
public sealed class ExecTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("exec");

    public void Dispose() => _csrt.Dispose();

    private TestBundle Running(Action<JsonObject>? edit = null)
    {
        var bundle = _csrt.Bundle(["sleep", "1000"], edit);
        _csrt.RunDetached(bundle);
        return bundle;
    }

    [Fact]
    public void Exec_RunsTheArgvAsGiven_AndExitsWithItsStatus()
    {
        var bundle = Running();

        // Flags after the id belong to the command, as with runc (urfave/cli stops at the first argument).
        var result = _csrt.Exec(bundle.Id, "sh", "-c", "echo \"$0|$1|$2\"; exit 7", "-x", "--cwd", "two words");

        Assert.Equal(7, result.ExitCode);
        Assert.Equal("-x|--cwd|two words\n", result.Stdout);
    }

    [Fact]
    public void Exec_PassesStdinThrough()
    {
        var bundle = Running();

        var result = _csrt.Run("piped input\n", RuntimeRoot.Timeout, "exec", bundle.Id, "cat");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("piped input\n", result.Stdout);
    }

    [Fact]
    public void Exec_JoinsEveryNamespaceAndTheCgroupOfTheContainer()
    {
        var bundle = Running();
        var init = _csrt.Pid(bundle.Id);

        var result = _csrt.Exec(bundle.Id, "sh", "-c", "for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup");

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n');
        string[] names = ["pid", "net", "ipc", "uts", "mnt"];
        for (var i = 0; i < names.Length; i++)
            Assert.Equal(new FileInfo($"/proc/{init}/ns/{names[i]}").LinkTarget, lines[i]);
        Assert.Contains($"memory:{RuntimeRoot.CgroupsPathOf(bundle.Id)}", result.Stdout, StringComparison.Ordinal);
        Assert.Contains($"pids:{RuntimeRoot.CgroupsPathOf(bundle.Id)}", result.Stdout, StringComparison.Ordinal);
        // Every hierarchy, the cgroup2 one of a hybrid host included: the exec'd process is born
        // in one and joins the others itself.
        var initCgroups = File.ReadAllLines($"/proc/{init}/cgroup").Order(StringComparer.Ordinal);
        var execCgroups = lines.Skip(names.Length).Where(l => l.Length > 0).Order(StringComparer.Ordinal);
        Assert.Equal(initCgroups, execCgroups);
    }

    [Fact]
    public void Exec_StartsFromTheContainersProcess_EnvCwdUserAndHome()
    {
        var bundle = Running(c =>
        {
            c["process"]!["env"] = new JsonArray("PATH=/bin:/sbin", "FROM_CONFIG=yes");
            c["process"]!["cwd"] = "/etc";
        });

        var result = _csrt.Exec(bundle.Id, "sh", "-c", "echo $FROM_CONFIG; pwd; id -u; echo $HOME");

        Assert.Equal("yes\n/etc\n0\n/root\n", result.Stdout);
    }

    [Fact]
    public void Exec_CwdEnvAndUserFlags_OverrideTheContainersProcess()
    {
        var bundle = Running();

        var result = _csrt.Run("exec", "--cwd", "/tmp", "--env", "EXTRA=1", "--env", "TERM=dumb", "--user", "1000:1000",
            bundle.Id, "sh", "-c", "pwd; echo $EXTRA $TERM; id -u; id -g; echo $HOME");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("/tmp\n1 dumb\n1000\n1000\n/home/user\n", result.Stdout);
    }

    [Fact]
    public void Exec_WithAProcessJson_UsesItsArgsEnvCwdUserCapabilitiesAndNoNewPrivileges()
    {
        var bundle = Running();
        var processJson = Path.Combine(bundle.Dir, "process.json");
        File.WriteAllText(processJson, """
            {
              "args": ["sh", "-c", "echo $X; pwd; id -u; id -g; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status"],
              "env": ["PATH=/bin", "X=from-json"],
              "cwd": "/usr",
              "user": { "uid": 65534, "gid": 65534 },
              "capabilities": { "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"] },
              "noNewPrivileges": true
            }
            """);

        var result = _csrt.Run("exec", "--process", processJson, bundle.Id);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("from-json\n/usr\n65534\n65534\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000020\nNoNewPrivs:\t1\n", result.Stdout);
    }

    [Fact]
    public void Exec_WithAProcessJsonWithoutCapabilities_GetsTheContainersCapabilities()
    {
        var bundle = Running();
        var processJson = Path.Combine(bundle.Dir, "process.json");
        File.WriteAllText(processJson, """{ "args": ["grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status"], "cwd": "/", "user": { "uid": 0, "gid": 0 } }""");

        var exec = _csrt.Run("exec", "--process", processJson, bundle.Id);
        var init = File.ReadAllLines($"/proc/{_csrt.Pid(bundle.Id)}/status").Where(l => l.StartsWith("CapEff", StringComparison.Ordinal) || l.StartsWith("CapBnd", StringComparison.Ordinal));

        Assert.True(exec.Succeeded, exec.ToString());
        Assert.Equal(string.Concat(init.Select(l => l + "\n")), exec.Stdout);
        Assert.DoesNotContain("000001ffffffffff", exec.Stdout); // not every capability
    }

    [Fact]
    public void ExecDetached_ReturnsAtOnce_AndThePidFileNamesTheProcess()
    {
        var bundle = Running();
        var pidFile = Path.Combine(bundle.Dir, "exec.pid");

        _csrt.Detached(bundle, "exec", "--detach", "--pid-file", pidFile, bundle.Id, "sleep", "999").EnsureSuccess();

        var pid = int.Parse(File.ReadAllText(pidFile));
        Assert.True(HostState.IsAlive(pid), "the detached exec is not running");
        Assert.Equal(["sleep", "999"], HostState.CommandLine(pid));
        Assert.Contains(pid, RuntimeRoot.ProcessesOf(bundle.Id));
    }

    [Fact]
    public void ExecWithTty_SendsThePtyMasterToTheConsoleSocket_AndThePtyIsTheProcesssTerminal()
    {
        var bundle = Running();
        using var console = new ConsoleSocketReceiver();

        _csrt.Detached(bundle, "exec", "--tty", "--detach", "--console-socket", console.Path, bundle.Id,
            "sh", "-c", "echo tty=$(tty); stty size; sleep 2").EnsureSuccess();

        var (_, master) = console.Receive(RuntimeRoot.Timeout);
        using (master)
        {
            Terminals.SetWindowSize(master, 40, 120);
            var output = ConsoleSocketReceiver.ReadUntil(master, "\n", RuntimeRoot.Timeout);
            Assert.Matches(@"^tty=/dev/pts/\d+", output);
        }
    }

    [Fact]
    public void ExecInTheForeground_ForwardsSigcontSigpwrAndRealTimeSignals_ButNotSigwinchWithoutATerminal()
    {
        var bundle = Running();
        int[] forwarded = [Signals.SIGCONT, Signals.SIGPWR, ForegroundSignals.RealTime];

        ForegroundSignals.AssertForwardedOneByOne(_csrt, ["exec", bundle.Id, .. ForegroundSignals.Script([.. forwarded, Signals.SIGWINCH])],
            forwarded, notForwarded: [Signals.SIGWINCH]);

        Assert.Equal("running", _csrt.Status(bundle.Id));
    }

    [Fact]
    public void ExecWithTtyInTheForeground_RelaysThePty()
    {
        var bundle = Running();

        var result = _csrt.Run("exec", "--tty", bundle.Id, "sh", "-c", "tty; exit 5");

        Assert.Equal(5, result.ExitCode);
        Assert.Matches(@"^/dev/pts/\d+\r?\n", result.Stdout);
    }

    [Fact]
    public void Exec_GetsTheContainersRlimits_WhenItsProcessHasNone()
    {
        var bundle = Running(c => c["process"]!["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 512, ["soft"] = 256 }));

        var result = _csrt.Exec(bundle.Id, "sh", "-c", "ulimit -Sn; ulimit -Hn");

        Assert.Equal("256\n512\n", result.Stdout);
    }

    [Fact]
    public void Exec_InACreatedContainer_RunsBesideTheWaitingInit()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);

        var result = _csrt.Exec(bundle.Id, "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("csrt init ", result.Stdout);
        Assert.Equal("created", _csrt.Status(bundle.Id));
    }

    [Fact]
    public void Exec_OfAMissingProgram_Exits255NamingIt()
    {
        var bundle = Running();

        var result = _csrt.Exec(bundle.Id, "/no/such/program");

        Assert.Equal(255, result.ExitCode);
        Assert.Contains("/no/such/program", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("ENOENT", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Exec_KilledBySignal_Exits128PlusTheSignal()
    {
        var bundle = Running();

        var result = _csrt.Exec(bundle.Id, "sh", "-c", "kill -KILL $$");

        Assert.Equal(137, result.ExitCode);
    }
}
