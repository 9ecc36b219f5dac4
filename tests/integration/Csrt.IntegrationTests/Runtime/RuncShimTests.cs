using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// containerd's own runc shim (io.containerd.runc.v2, unmodified) driving csrt as its runc binary
/// (`ctr run --runc-binary`), against the shared private containerd. A wrapper script records
/// every call the shim makes, so the tests also prove which commands and flags that client uses.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class RuncShimTests : IDisposable
{
    private readonly PrivateContainerd _ctd;
    private readonly string _dir = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("runcshim"));
    private readonly List<string> _ids = new();

    public RuncShimTests(ContainerdFixture fixture)
    {
        _ctd = fixture.Containerd;
        Directory.CreateDirectory(_dir);
        var csrt = RepoPaths.RequireBinary(RepoPaths.CsrtBinary);
        File.WriteAllText(Wrapper, $"#!/bin/sh\necho \"$*\" >> {CallLog}\nexec {csrt} \"$@\"\n");
        File.SetUnixFileMode(Wrapper, (UnixFileMode)FileModes.UserAllOthersReadExecute);
    }

    private string Wrapper => Path.Combine(_dir, "csrt-as-runc");

    private string CallLog => Path.Combine(_dir, "calls.log");

    /// <summary>The csrt commands the shim ran, e.g. "create", "start", "exec", with their flags.</summary>
    private List<string> Calls => File.Exists(CallLog) ? File.ReadAllLines(CallLog).ToList() : new List<string>();

    private static string CommandOf(string call)
    {
        // Global flags (--root X --log Y --log-format json) come first.
        var words = call.Split(' ');
        for (var i = 0; i < words.Length; i++)
        {
            if (words[i] is "--root" or "--log" or "--log-format")
                i++;
            else if (!words[i].StartsWith('-'))
                return words[i];
        }
        return "";
    }

    private string NewId()
    {
        var id = TestBundle.NewId("runcshim");
        _ids.Add(id);
        return id;
    }

    private string[] RunArgs(string id, params string[] command) =>
        new[] { "run", "--runc-binary", Wrapper, "--runtime", PrivateContainerd.RuncRuntime }
            .Concat(command).ToArray();

    public void Dispose()
    {
        try
        {
            foreach (var id in _ids)
            {
                _ctd.Ctr("tasks", "kill", "-s", "SIGKILL", id);
                for (var i = 0; i < 50; i++)
                {
                    var delete = _ctd.Ctr("tasks", "delete", "-f", id);
                    if (delete.Succeeded || delete.Stderr.Contains("not found", StringComparison.Ordinal))
                        break;
                    Thread.Sleep(100);
                }
                _ctd.Ctr("containers", "delete", id);
            }
        }
        finally
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void CtrRun_ThroughTheRuncShim_RunsBusyboxOnCsrt_WithItsOutputAndExitCode()
    {
        var id = NewId();

        var result = _ctd.Ctr(RunArgs(id, "--rm", TestImages.BusyboxImage, id, "sh", "-c", "echo hello from csrt; cat /proc/1/cmdline; exit 3"));

        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.StartsWith("hello from csrt\nsh", result.Stdout);
        var commands = Calls.Select(CommandOf).ToList();
        Assert.Equal(["create", "start"], commands.Take(2));
        Assert.Contains("delete", commands);
        var create = Calls.First(c => CommandOf(c) == "create");
        Assert.Contains("--log-format json", create, StringComparison.Ordinal);
        Assert.Contains($"--bundle {_ctd.BundleDir(id)}", create, StringComparison.Ordinal);
        Assert.Contains("--pid-file", create, StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/run/containerd/runc/default/{id}"), "csrt's state for the container is still there");
    }

    [Fact]
    public void CtrTaskExecKillAndDelete_ThroughTheRuncShim_WorkOnCsrt()
    {
        var id = NewId();
        _ctd.CtrOk(RunArgs(id, "-d", TestImages.BusyboxImage, id, "sleep", "1000"));

        var exec = _ctd.Ctr("tasks", "exec", "--exec-id", "e1", id, "sh", "-c", "echo in exec; exit 4");
        var ps = _ctd.CtrOk("tasks", "ps", id);
        _ctd.CtrOk("tasks", "pause", id);
        var paused = _ctd.CtrOk("tasks", "ls");
        _ctd.CtrOk("tasks", "resume", id);
        _ctd.CtrOk("tasks", "kill", "-s", "SIGKILL", id);
        var deadline = DateTime.UtcNow + RuntimeRoot.Timeout;
        while (!_ctd.CtrOk("tasks", "ls").Split('\n').Any(l => l.StartsWith(id + " ", StringComparison.Ordinal) && l.Contains("STOPPED", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "the task did not stop after SIGKILL");
            Thread.Sleep(50);
        }
        _ctd.CtrOk("tasks", "delete", id);
        _ctd.CtrOk("containers", "delete", id);

        Assert.Equal(4, exec.ExitCode);
        Assert.Equal("in exec\n", exec.Stdout);
        Assert.Equal(2, ps.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains(paused.Split('\n'), l => l.StartsWith(id + " ", StringComparison.Ordinal) && l.Contains("PAUSED", StringComparison.Ordinal));
        var calls = Calls;
        var commands = calls.Select(CommandOf).ToList();
        foreach (var command in new[] { "create", "start", "exec", "ps", "pause", "resume", "kill", "delete" })
            Assert.Contains(command, commands);
        var execCall = calls.First(c => CommandOf(c) == "exec");
        Assert.Contains("--process", execCall, StringComparison.Ordinal);
        Assert.Contains("--detach", execCall, StringComparison.Ordinal);
        Assert.Contains("--pid-file", execCall, StringComparison.Ordinal);
        Assert.Contains("--format json", calls.First(c => CommandOf(c) == "ps"), StringComparison.Ordinal);
        Assert.False(Directory.Exists($"/run/containerd/runc/default/{id}"), "csrt's state for the container is still there");
    }

    [Fact]
    public void CtrRunWithTty_ThroughTheRuncShim_GetsThePtyFromCsrt()
    {
        var id = NewId();
        var command = string.Join(' ', new[] { PrivateContainerd.CtrBinary, "--address", _ctd.Address }.Concat(RunArgs(id, "--rm", "-t", TestImages.BusyboxImage, id, "sh", "-c", "'tty; echo tty-ok; sleep 1; exit 6'")));

        // ctr -t needs a terminal of its own: script gives it one. The process lingers a second
        // after its output: ctr can tear the task's IO down before copying the last of it when the
        // process exits at once (seen on this loaded machine, not a property of the runtime).
        var result = Commands.Run("script", ["-qec", command, "/dev/null"], RuntimeRoot.Timeout);

        Assert.True(result.ExitCode == 6, result.ToString());
        Assert.Matches(@"/dev/pts/\d+\r*\ntty-ok", result.Stdout); // two ptys on the way: \r\r\n
        Assert.Contains("--console-socket", Calls.First(c => CommandOf(c) == "create"), StringComparison.Ordinal);
    }

    [Fact]
    public void CtrTaskExecWithTty_ThroughTheRuncShim_GetsThePtyFromCsrt()
    {
        var id = NewId();
        _ctd.CtrOk(RunArgs(id, "-d", TestImages.BusyboxImage, id, "sleep", "1000"));
        var command = $"{PrivateContainerd.CtrBinary} --address {_ctd.Address} tasks exec -t --exec-id t1 {id} sh -c 'tty; sleep 1; exit 7'";

        var result = Commands.Run("script", ["-qec", command, "/dev/null"], RuntimeRoot.Timeout);

        Assert.True(result.ExitCode == 7, result.ToString());
        Assert.Matches(@"/dev/pts/\d+", result.Stdout);
        Assert.Contains("--console-socket", Calls.First(c => CommandOf(c) == "exec"), StringComparison.Ordinal);
    }
}
