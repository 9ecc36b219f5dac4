using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// Streaming Exec and Attach on csrt containers through containerd's CRI streaming server, as
/// kubectl exec/attach reach it: CRI returns a URL, the client speaks WebSocket v4.channel.k8s.io.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class CriStreamingTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    [Fact]
    public async Task StreamingExec_PassesStdinToTheProcess_ItsStdoutAndStderrBack_AndItsExitCode()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "stream-exec");
        var id = await pod.StartContainerAsync(CriPod.Busybox("main", "sleep", "1000"));
        var url = (await pod.Cri.ExecAsync(new ExecRequest
        {
            ContainerId = id,
            Cmd = { "sh", "-c", "read line; echo \"got $line\"; echo oops >&2; exit 3" },
            Stdin = true,
            Stdout = true,
            Stderr = true,
        }, deadline: CriPod.Deadline)).Url;
        _log.WriteLine(url);
        await using var stream = await CriStream.ConnectAsync(url);
        await stream.SendStdinAsync("hello csrt\n");
        var code = await stream.WaitForExitCodeAsync();
        _log.WriteLine($"stdout: {stream.Stdout}\nstderr: {stream.Stderr}");
        Assert.Equal("got hello csrt\n", stream.Stdout);
        Assert.Equal("oops\n", stream.Stderr);
        Assert.Equal(3, code);
    }

    [Fact]
    public async Task StreamingExec_WithATty_GetsATerminalThatFollowsResizes_AndReportsSuccess()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "stream-exec-tty");
        var id = await pod.StartContainerAsync(CriPod.Busybox("main", "sleep", "1000"));
        var url = (await pod.Cri.ExecAsync(new ExecRequest { ContainerId = id, Cmd = { "sh" }, Tty = true, Stdin = true, Stdout = true }, deadline: CriPod.Deadline)).Url;
        await using var stream = await CriStream.ConnectAsync(url);
        await stream.ResizeAsync(101, 37);
        await stream.SendStdinAsync("tty; echo size=$(stty size)\n");
        var output = await stream.WaitForStdoutAsync("size=37 101");
        Assert.Contains("/dev/pts/", output, StringComparison.Ordinal);
        await stream.ResizeAsync(120, 50);
        await stream.SendStdinAsync("echo size=$(stty size); exit\n");
        await stream.WaitForStdoutAsync("size=50 120");
        Assert.Equal(0, await stream.WaitForExitCodeAsync());
    }

    [Fact]
    public async Task Attach_ToAContainerWithStdin_WritesToItsStdin_AndReadsItsOutput()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "attach");
        var config = CriPod.Busybox("echo", "sh", "-c", "echo ready; while read line; do echo \"echo:$line\"; done; echo stdin closed");
        config.Stdin = true;
        var id = await pod.StartContainerAsync(config);
        await pod.WaitForLogAsync("echo", "ready");
        var url = (await pod.Cri.AttachAsync(new AttachRequest { ContainerId = id, Stdin = true, Stdout = true, Stderr = true }, deadline: CriPod.Deadline)).Url;
        await using (var stream = await CriStream.ConnectAsync(url))
        {
            await stream.SendStdinAsync("first\n");
            await stream.WaitForStdoutAsync("echo:first\n");
        }
        // A second session (each URL is good for one): the first one going away did not close the container's stdin.
        var second = (await pod.Cri.AttachAsync(new AttachRequest { ContainerId = id, Stdin = true, Stdout = true }, deadline: CriPod.Deadline)).Url;
        await using (var stream = await CriStream.ConnectAsync(second))
        {
            await stream.SendStdinAsync("second\n");
            await stream.WaitForStdoutAsync("echo:second\n");
        }
        Assert.Equal(ContainerState.ContainerRunning, (await pod.StatusAsync(id)).State);
        var log = await pod.WaitForLogAsync("echo", "echo:second");
        Assert.Contains("stdout F echo:first", log, StringComparison.Ordinal);
        Assert.DoesNotContain("stdin closed", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attach_WithStdinOnce_ClosesTheContainersStdinWhenTheSessionEnds()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "attach-once");
        var config = CriPod.Busybox("once", "sh", "-c", "echo ready; cat; echo stdin closed; exit 5");
        config.Stdin = true;
        config.StdinOnce = true;
        var id = await pod.StartContainerAsync(config);
        await pod.WaitForLogAsync("once", "ready");
        var url = (await pod.Cri.AttachAsync(new AttachRequest { ContainerId = id, Stdin = true, Stdout = true, Stderr = true }, deadline: CriPod.Deadline)).Url;
        await using (var stream = await CriStream.ConnectAsync(url))
        {
            await stream.SendStdinAsync("only line\n");
            await stream.WaitForStdoutAsync("only line\n");
        }
        // CRI closes its end of the stdin FIFO and sends CloseIO: the shim lets go of its own, cat sees EOF.
        var status = await pod.WaitForStateAsync(id, ContainerState.ContainerExited);
        Assert.Equal(5, status.ExitCode);
        var log = await pod.WaitForLogAsync("once", "stdin closed");
        Assert.Contains("stdout F only line", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attach_ToATtyContainer_ResizesItsTerminal_AndRunsCommandsTypedIntoIt()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "attach-tty");
        var config = CriPod.Busybox("shell", "sh");
        config.Stdin = true;
        config.Tty = true;
        var id = await pod.StartContainerAsync(config);
        var url = (await pod.Cri.AttachAsync(new AttachRequest { ContainerId = id, Stdin = true, Tty = true, Stdout = true }, deadline: CriPod.Deadline)).Url;
        await using var stream = await CriStream.ConnectAsync(url);
        await stream.ResizeAsync(91, 29);
        // The resize travels CRI → shim ResizePty; give it a moment before asking.
        await Task.Delay(500);
        await stream.SendStdinAsync("echo size=$(stty size) tty=$(tty)\n");
        var output = await stream.WaitForStdoutAsync("size=29 91");
        Assert.Contains("tty=/dev/pts/", output, StringComparison.Ordinal);
        await stream.SendStdinAsync("exit 4\n");
        var status = await pod.WaitForStateAsync(id, ContainerState.ContainerExited);
        Assert.Equal(4, status.ExitCode);
    }
}
