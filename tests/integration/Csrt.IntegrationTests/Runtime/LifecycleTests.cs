using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>create/start/run/state/kill/delete/list and pid files with the published csrt, runc as the reference.</summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("lifecycle");
    private readonly RuntimeRoot _runc = RuntimeRoot.Runc("lifecycle");

    public void Dispose()
    {
        try
        {
            _csrt.Dispose();
        }
        finally
        {
            _runc.Dispose();
        }
    }

    [Fact]
    public void CreateThenStart_FromSeparateProcesses_RunsTheUserProcessOnlyAfterStart()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo started > /tmp/marker; exec sleep 1000"], readonlyRoot: false);
        var marker = Path.Combine(bundle.UpperDir, "tmp", "marker");

        _csrt.Create(bundle);

        Assert.Equal("created", _csrt.Status(bundle.Id));
        var init = _csrt.Pid(bundle.Id);
        Assert.True(HostState.IsAlive(init), "the init of a created container is not alive");
        Assert.False(File.Exists(marker), "the user process ran before start");

        _csrt.Ok("start", bundle.Id);

        WaitUntil(() => File.Exists(marker), "the user process did not run after start");
        Assert.Equal("running", _csrt.Status(bundle.Id));
        Assert.Equal(init, _csrt.Pid(bundle.Id));
        WaitUntil(() => File.ReadAllText($"/proc/{init}/comm").Trim() == "sleep", "the init did not become the user process");
    }

    [Fact]
    public void State_GoesCreatedRunningStopped_WithRuncsFields()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        var reference = _runc.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);
        _runc.Create(reference);

        var created = _csrt.State(bundle.Id);
        var runcCreated = _runc.State(reference.Id);

        Assert.Equal(runcCreated.Select(p => p.Key).Order(), created.Select(p => p.Key).Order());
        Assert.Equal("created", created["status"]!.GetValue<string>());
        Assert.Equal(bundle.Id, created["id"]!.GetValue<string>());
        Assert.Equal(bundle.Dir, created["bundle"]!.GetValue<string>());
        Assert.Equal(bundle.RootfsDir, created["rootfs"]!.GetValue<string>());
        Assert.Equal("root", created["owner"]!.GetValue<string>());
        Assert.True(DateTimeOffset.Parse(created["created"]!.GetValue<string>()) > DateTimeOffset.UtcNow.AddMinutes(-5));
        Assert.True(created["pid"]!.GetValue<int>() > 0);

        _csrt.Ok("start", bundle.Id);
        Assert.Equal("running", _csrt.Status(bundle.Id));

        _csrt.Ok("kill", bundle.Id, "KILL");
        _csrt.WaitForStatus(bundle.Id, "stopped");
        Assert.Equal(0, _csrt.Pid(bundle.Id));
    }

    [Fact]
    public void RunInTheForeground_PassesStdinStdoutStderrAndTheExitCode()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "read line; echo \"out:$line\"; echo \"err:$line\" >&2; exit 9"]);

        var result = _csrt.RunForeground(bundle, stdin: "hello\n");

        Assert.Equal(9, result.ExitCode);
        Assert.Equal("out:hello\n", result.Stdout);
        Assert.Contains("err:hello", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void RunInTheForeground_ReportsADeathBySignalAs128PlusTheSignal()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "kill -KILL $$"], namespaces: ["mount", "uts", "ipc", "network"]);

        var result = _csrt.RunForeground(bundle);

        Assert.Equal(128 + 9, result.ExitCode);
    }

    [Fact]
    public void RunInTheForeground_ForwardsSignalsToTheContainerProcess()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.1; done"]);
        using var csrt = _csrt.StartPiped(["run", "--bundle", bundle.Dir, bundle.Id]);
        try
        {
            var ready = csrt.StandardOutput.ReadLineAsync();
            Assert.True(ready.Wait(RuntimeRoot.Timeout), "the container did not print ready");
            Assert.Equal("ready", ready.Result);

            Signals.Send(csrt.Id, Signals.SIGTERM);

            var rest = csrt.StandardOutput.ReadToEndAsync();
            Assert.True(csrt.WaitForExit(RuntimeRoot.Timeout), "csrt run did not exit after SIGTERM");
            Assert.Equal(42, csrt.ExitCode);
            Assert.True(rest.Wait(RuntimeRoot.Timeout));
            Assert.Equal("got TERM\n", rest.Result);
        }
        finally
        {
            if (!csrt.HasExited)
                csrt.Kill(entireProcessTree: true);
        }
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void RunInTheForeground_ForwardsSigcontSigpwrAndRealTimeSignals_ButNotSigwinchWithoutATerminal()
    {
        int[] forwarded = [Signals.SIGCONT, Signals.SIGPWR, ForegroundSignals.RealTime];
        var bundle = _csrt.Bundle(ForegroundSignals.Script([.. forwarded, Signals.SIGWINCH]));

        ForegroundSignals.AssertForwardedOneByOne(_csrt, ["run", "--bundle", bundle.Dir, bundle.Id], forwarded, notForwarded: [Signals.SIGWINCH]);

        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void RunInTheForeground_HoldsASignalThatArrivesDuringCreate_AndForwardsItOnceTheProcessRuns()
    {
        // A createRuntime hook holds `run` inside create until the signal has been sent. Without a
        // pid namespace the container process has no pid-1 protection: SIGTERM's default action
        // ends it, and `run` exits 128 + 15 after deleting the container.
        var marker = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("hold"));
        var release = marker + ".release";
        var script = marker + ".sh";
        File.WriteAllText(script, "#!/bin/sh\ntouch \"$1\"\ni=0\nwhile [ ! -e \"$2\" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n");
        File.SetUnixFileMode(script, (UnixFileMode)FileModes.UserAllOthersReadExecute);
        var bundle = _csrt.Bundle(["sleep", "1000"], c => c["hooks"] = new JsonObject
        {
            ["createRuntime"] = new JsonArray(new JsonObject { ["path"] = script, ["args"] = new JsonArray("hook", marker, release) }),
        }, namespaces: ["mount", "uts", "ipc", "network"]);
        using var csrt = _csrt.StartPiped(["run", "--bundle", bundle.Dir, bundle.Id]);
        try
        {
            var stderr = csrt.StandardError.ReadToEndAsync();
            Assert.True(SpinWait.SpinUntil(() => File.Exists(marker), RuntimeRoot.Timeout), "the createRuntime hook did not run");

            Signals.Send(csrt.Id, Signals.SIGTERM);
            File.WriteAllText(release, "");

            Assert.True(csrt.WaitForExit(RuntimeRoot.Timeout), "csrt run did not exit");
            Assert.True(stderr.Wait(RuntimeRoot.Timeout));
            Assert.True(csrt.ExitCode == 128 + Signals.SIGTERM, $"csrt exited {csrt.ExitCode}; stderr: {stderr.Result}");
        }
        finally
        {
            if (!csrt.HasExited)
                csrt.Kill(entireProcessTree: true);
            File.Delete(marker);
            File.Delete(release);
            File.Delete(script);
        }
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void RunDetached_ReturnsWithTheContainerRunning_AndDeleteForceRemovesEverything()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);

        _csrt.RunDetached(bundle);

        Assert.Equal("running", _csrt.Status(bundle.Id));
        var pid = _csrt.Pid(bundle.Id);
        Assert.True(HostState.IsAlive(pid));
        Assert.NotEmpty(RuntimeRoot.ProcessesOf(bundle.Id));

        _csrt.Ok("delete", "--force", bundle.Id);

        Assert.True(HostState.WaitGone([pid], TimeSpan.FromSeconds(10)), "the init survived delete --force");
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void Delete_OfAStoppedContainer_RemovesItsStateAndCgroups()
    {
        var bundle = _csrt.Bundle(["true"]);
        _csrt.RunDetached(bundle);
        _csrt.WaitForStatus(bundle.Id, "stopped");

        _csrt.Ok("delete", bundle.Id);

        _csrt.AssertNothingLeft(bundle);
        Assert.Contains("does not exist", _csrt.Run("state", bundle.Id).Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Kill_SendsTheGivenSignalToTheInit()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "trap 'exit 3' USR1; touch /tmp/trapped; while true; do sleep 0.1; done"], readonlyRoot: false);
        _csrt.RunDetached(bundle);
        // As pid 1 of its namespace the shell ignores USR1 until its trap is set.
        WaitUntil(() => File.Exists(Path.Combine(bundle.UpperDir, "tmp", "trapped")), "the container never set its trap");

        _csrt.Ok("kill", bundle.Id, "SIGUSR1");

        _csrt.WaitForStatus(bundle.Id, "stopped");
    }

    [Fact]
    public void Kill_WithoutAll_SignalsOnlyTheInit_WhileAllReachesEveryProcessOfTheContainer()
    {
        // No pid namespace: the init's death does not take the other processes with it.
        var bundle = _csrt.Bundle(["sleep", "1000"], namespaces: ["mount", "uts", "ipc", "network"]);
        _csrt.RunDetached(bundle);
        var pidFile = Path.Combine(bundle.Dir, "exec.pid");
        _csrt.Detached(bundle, "exec", "--detach", "--pid-file", pidFile, bundle.Id, "sleep", "1001").EnsureSuccess();
        var other = int.Parse(File.ReadAllText(pidFile));
        var init = _csrt.Pid(bundle.Id);

        _csrt.Ok("kill", bundle.Id, "KILL");

        Assert.True(HostState.WaitGone([init], TimeSpan.FromSeconds(10)), "the init survived SIGKILL");
        Assert.True(HostState.IsAlive(other), "kill without --all reached a process other than the init");
        _csrt.WaitForStatus(bundle.Id, "stopped");

        _csrt.Ok("kill", "--all", bundle.Id, "KILL");

        Assert.True(HostState.WaitGone([other], TimeSpan.FromSeconds(10)), "kill --all did not reach the exec'd process");
        _csrt.Ok("delete", bundle.Id);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void List_PrintsRuncsTableAndJson()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        var reference = _runc.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);
        _runc.Create(reference);

        var table = _csrt.Ok("list").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var runcTable = _runc.Ok("list").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var json = JsonNode.Parse(_csrt.Ok("list", "--format", "json"))!.AsArray();
        var runcJson = JsonNode.Parse(_runc.Ok("list", "--format", "json"))!.AsArray();

        Assert.Equal(2, table.Length);
        Assert.Equal(runcTable[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), table[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var row = table[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([bundle.Id, _csrt.Pid(bundle.Id).ToString(), "created", bundle.Dir], row[..4]);
        Assert.Equal("root", row[^1]);
        var entry = Assert.Single(json)!.AsObject();
        Assert.Equal(runcJson[0]!.AsObject().Select(p => p.Key).Order(), entry.Select(p => p.Key).Order());
        Assert.Equal(bundle.Id, entry["id"]!.GetValue<string>());
        Assert.Equal("created", entry["status"]!.GetValue<string>());
        Assert.Equal(bundle.Id + "\n", _csrt.Ok("list", "-q"));
    }

    [Fact]
    public void List_OfAnEmptyOrMissingRoot_PrintsOnlyTheHeader()
    {
        var header = _csrt.Ok("list");

        Assert.Equal(["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], header.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("[]", _csrt.Ok("list", "--format", "json").Trim());
    }

    [Fact]
    public void CreateWithPidFile_WritesTheInitPid()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        var pidFile = Path.Combine(bundle.Dir, "init.pid");

        _csrt.Create(bundle, "--pid-file", pidFile);

        Assert.Equal(_csrt.Pid(bundle.Id).ToString(), File.ReadAllText(pidFile));
    }

    [Fact]
    public void ACreatedInit_KeepsLittleOfTheRuntimesCodeResident_AndStillExecsTheProcessOnStart()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo started > /tmp/marker; exec sleep 1000"], readonlyRoot: false);
        var marker = Path.Combine(bundle.UpperDir, "tmp", "marker");
        _csrt.Create(bundle);
        var pid = _csrt.Pid(bundle.Id);

        // The init runs the runtime binary; its executable mapping is the one with "r-xp". It
        // releases it right after telling `create` it is ready, so give it a moment.
        (long Rss, long Mapped) Code()
        {
            var smaps = File.ReadAllText($"/proc/{pid}/smaps");
            var text = smaps.Split('\n').Select((line, i) => (line, i)).First(l => l.line.Contains(" r-xp ") && l.line.TrimEnd().EndsWith("/csrt", StringComparison.Ordinal));
            var range = text.line[..text.line.IndexOf(' ')].Split('-').Select(h => Convert.ToInt64(h, 16)).ToArray();
            var rssKb = long.Parse(smaps.Split('\n').Skip(text.i).First(l => l.StartsWith("Rss:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
            return (rssKb, (range[1] - range[0]) / 1024);
        }
        var code = Code();
        for (var i = 0; i < 250 && code.Rss * 4 >= code.Mapped; i++)
        {
            Thread.Sleep(20);
            code = Code();
        }
        Assert.True(code.Rss * 4 < code.Mapped, $"the created init holds {code.Rss} KB of the runtime's {code.Mapped} KB of code");

        _csrt.Ok("start", bundle.Id);
        WaitUntil(() => File.Exists(marker), "the user process did not run after start");
        WaitUntil(() => File.ReadAllText($"/proc/{pid}/comm").Trim() == "sleep", "the init did not become the user process");
    }

    [Fact]
    public void Create_GivesTheContainerItsOwnSessionKeyring_UnlessNoNewKeyring()
    {
        var own = _csrt.Bundle(["sleep", "1000"]);
        var shared = _csrt.Bundle(["sleep", "1000"]);

        _csrt.Create(own);
        _csrt.Create(shared, "--no-new-keyring");

        // /proc/keys lists the keyrings the reader may view; the init's is named as runc names it.
        var keys = File.ReadAllLines("/proc/keys");
        Assert.Contains(keys, l => l.Contains(" keyring ", StringComparison.Ordinal) && l.Contains($"_ses.{own.Id}:", StringComparison.Ordinal));
        Assert.DoesNotContain(keys, l => l.Contains($"_ses.{shared.Id}", StringComparison.Ordinal));
    }

    [Fact]
    public void RunWithRelativePidFileAndBundle_ResolvesThemAgainstTheCurrentDirectory()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);

        var result = Commands.Run("/bin/sh", ["-c", $"cd {bundle.Dir} && exec {_csrt.Binary} --root {_csrt.Root} run -d --pid-file ./relative.pid {bundle.Id} </dev/null >/dev/null 2>&1"], RuntimeRoot.Timeout);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(_csrt.Pid(bundle.Id).ToString(), File.ReadAllText(Path.Combine(bundle.Dir, "relative.pid")));
        Assert.Equal(bundle.Dir, _csrt.State(bundle.Id)["bundle"]!.GetValue<string>());
    }

    [Fact]
    public void Log_InJsonFormat_HoldsRuncStyleErrorLines()
    {
        var log = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("log") + ".json");
        try
        {
            var result = Commands.Run(_csrt.Binary, ["--root", _csrt.Root, "--log", log, "--log-format", "json", "state", "no-such-container"], RuntimeRoot.Timeout);

            Assert.Equal(1, result.ExitCode);
            var line = JsonNode.Parse(File.ReadAllLines(log).Single())!.AsObject();
            Assert.Equal("error", line["level"]!.GetValue<string>());
            Assert.Contains("no-such-container", line["msg"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.True(DateTimeOffset.TryParse(line["time"]!.GetValue<string>(), out _));
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public void Debug_WritesDebugLinesForTheCommand_OnlyWhenAsked()
    {
        var log = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("debug") + ".log");
        try
        {
            Commands.Run(_csrt.Binary, ["--root", _csrt.Root, "--log", log, "list"], RuntimeRoot.Timeout).EnsureSuccess();
            Assert.False(File.Exists(log) && File.ReadAllText(log).Contains("level=debug", StringComparison.Ordinal), "debug lines without --debug");

            Commands.Run(_csrt.Binary, ["--root", _csrt.Root, "--log", log, "--debug", "list"], RuntimeRoot.Timeout).EnsureSuccess();

            var lines = File.ReadAllLines(log).Where(l => l.Contains("level=debug", StringComparison.Ordinal)).ToList();
            Assert.Contains(lines, l => l.Contains("list:", StringComparison.Ordinal) && l.Contains("exit status 0", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public void ConcurrentCreatesOfOneId_CreateItOnce()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);

        var results = Enumerable.Range(0, 4).AsParallel().WithDegreeOfParallelism(4)
            .Select(_ => _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id)).ToList();

        Assert.Equal(1, results.Count(r => r.Succeeded));
        Assert.All(results.Where(r => !r.Succeeded), r => Assert.Contains("already exists", r.Stderr, StringComparison.Ordinal));
        Assert.Equal("created", _csrt.Status(bundle.Id));
        Assert.Single(RuntimeRoot.ProcessesOf(bundle.Id));
    }

    [Fact]
    public void ConcurrentStarts_StartItOnce()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);

        var results = Enumerable.Range(0, 4).AsParallel().WithDegreeOfParallelism(4).Select(_ => _csrt.Run("start", bundle.Id)).ToList();

        Assert.Equal(1, results.Count(r => r.Succeeded));
        Assert.Equal("running", _csrt.Status(bundle.Id));
    }

    private static void WaitUntil(Func<bool> condition, string message)
    {
        var deadline = DateTime.UtcNow + RuntimeRoot.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            Thread.Sleep(20);
        }
    }
}
