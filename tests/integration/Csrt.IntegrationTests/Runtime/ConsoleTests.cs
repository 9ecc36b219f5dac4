using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>process.terminal: the pty master over --console-socket (accepted only after create
/// returned, as containerd's shims do), /dev/console, window size, input; csrt's own relay in `run`.</summary>
public sealed class ConsoleTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("console");

    public void Dispose() => _csrt.Dispose();

    [Fact]
    public void Terminal_SendsTheMasterOverTheConsoleSocket_AndTheProcessRunsOnThePty()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "tty; stat -c '%t:%T' /dev/console $(tty); stty size; read line; echo \"got:$line\"; exit 3"],
            c => c["process"]!["consoleSize"] = new JsonObject { ["height"] = 33, ["width"] = 111 }, terminal: true);
        using var console = new ConsoleSocketReceiver();

        // create returns before anybody accepts the connection (the runc shim accepts afterwards).
        _csrt.Create(bundle, "--console-socket", console.Path);
        var (name, master) = console.Receive(RuntimeRoot.Timeout);
        using (master)
        {
            _csrt.Ok("start", bundle.Id);
            var output = ConsoleSocketReceiver.ReadUntil(master, "111", RuntimeRoot.Timeout);
            Files.WriteAll(master, "typed\n"u8);
            output += ConsoleSocketReceiver.ReadUntil(master, "got:typed", RuntimeRoot.Timeout);

            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Matches(@"^/dev/pts/\d+$", lines[0]);
            Assert.Equal(name, lines[0]);
            // /dev/console and the process's tty are the same device.
            Assert.Equal(lines[1], lines[2]);
            Assert.Equal("33 111", lines[3]);
            Assert.Contains("got:typed", lines);
        }
        _csrt.WaitForStatus(bundle.Id, "stopped");
    }

    [Fact]
    public void Terminal_TheInitDoesNotHoldTheCallersStdio()
    {
        // The runc shim reads `create`'s output until EOF: an init holding it open would hang it.
        var bundle = _csrt.Bundle(["sleep", "1000"], terminal: true);
        using var console = new ConsoleSocketReceiver();

        var result = _csrt.Run("create", "--bundle", bundle.Dir, "--console-socket", console.Path, bundle.Id);

        Assert.True(result.Succeeded, result.ToString());
        var init = _csrt.Pid(bundle.Id);
        for (var fd = 0; fd < 3; fd++)
            Assert.Equal("/dev/null", new FileInfo($"/proc/{init}/fd/{fd}").LinkTarget);
    }

    [Fact]
    public void TerminalWithoutAConsoleSocket_IsRefusedByCreate()
    {
        var bundle = _csrt.Bundle(["true"], terminal: true);

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--console-socket", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void RunInTheForegroundWithATerminal_RelaysThePtyItself()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "tty; exit 4"], terminal: true);

        var result = _csrt.RunForeground(bundle);

        Assert.Equal(4, result.ExitCode);
        Assert.Matches(@"^/dev/pts/\d+\r?\n", result.Stdout);
        _csrt.AssertNothingLeft(bundle);
    }
}
