using System.Globalization;
using System.Net.Sockets;
using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Runtime;
using Csrt.Linux;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// An exec child's descriptors never depend on the numbers of its parent's: a parent holding more
/// descriptors than the container's RLIMIT_NOFILE (1024 in these bundles, set on the child before
/// it arranges its fd table) still runs the process, with exactly its stdio.
/// </summary>
public sealed class ExecWithManyFdsTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("manyfds");

    public void Dispose() => _csrt.Dispose();

    [Fact]
    public void CsrtExec_FromAParentHolding1100Fds_RunsTheProcessWithOnlyItsStdio()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);

        var result = Commands.Run("/bin/bash", ["-c", """
            ulimit -n 4096
            for i in $(seq 1100); do exec {fd}</dev/null; done
            exec "$1" --root "$2" exec "$3" sh -c 'echo hello; ls /proc/$$/fd; true'
            """, "exec", _csrt.Binary, _csrt.Root, bundle.Id], RuntimeRoot.Timeout);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("hello\n0\n1\n2\n", result.Stdout);
    }
}

/// <summary>The shim under many clients: held connections raise its descriptor count past the
/// container's RLIMIT_NOFILE, and a burst of connects must queue rather than fail.</summary>
[Collection(ContainerdCollection.Name)]
public sealed class ShimWithManyClientsTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(50);
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public ShimWithManyClientsTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    private void RunDetached(string id) =>
        _containerd.Ctr("run", "-d", "--runtime", PrivateContainerd.CsrtRuntime, TestImages.BusyboxImage, id, "sleep", "1000").EnsureSuccess();

    /// <summary>The shim's socket path (from the address file containerd keeps in the bundle) and pid.</summary>
    private (string Socket, int Pid) Shim(string id)
    {
        var dir = _containerd.BundleDir(id);
        var address = File.ReadAllText(Path.Combine(dir, "address")).Trim();
        var pid = int.Parse(File.ReadAllText(Path.Combine(dir, "shim.pid")).Trim(), CultureInfo.InvariantCulture);
        return (address.StartsWith("unix://", StringComparison.Ordinal) ? address[7..] : address, pid);
    }

    private static int FdCount(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    [Fact]
    public void AShimHolding1100ClientConnections_StillRunsAnExecWithItsOutputAndOnlyItsStdio()
    {
        var id = TestBundle.NewId("manyconn");
        var clients = new List<Socket>();
        try
        {
            RunDetached(id);
            var (path, pid) = Shim(id);
            for (var i = 0; i < 1100; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                clients.Add(s);
                s.Connect(new UnixDomainSocketEndPoint(path));
            }
            for (var i = 0; i < 300 && FdCount(pid) < 1100; i++)
                Thread.Sleep(100);
            Assert.True(FdCount(pid) >= 1100, $"the shim holds {FdCount(pid)} fds, not the 1100 connections");

            var r = _containerd.Ctr(Bound, "tasks", "exec", "--exec-id", "many", id, "sh", "-c", "echo hello; ls /proc/$$/fd; true");

            _log.WriteLine(r.ToString());
            Assert.True(r.Succeeded, r.ToString());
            Assert.Equal("hello\n0\n1\n2\n", r.Stdout);
        }
        finally
        {
            clients.ForEach(s => s.Dispose());
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void AShimSocket_Queues1000ConnectsMadeWhileTheShimIsNotAccepting()
    {
        var id = TestBundle.NewId("flood");
        var clients = new List<Socket>();
        var stopped = 0;
        try
        {
            RunDetached(id);
            var (path, pid) = Shim(id);
            // Stopped, the shim accepts nothing: every connect must find room in the backlog.
            Signals.Send(pid, Signals.SIGSTOP);
            stopped = pid;
            var refused = 0;
            for (var i = 0; i < 1000; i++)
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
                clients.Add(s);
                try
                {
                    s.Connect(new UnixDomainSocketEndPoint(path));
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.TryAgain)
                {
                    refused++;
                }
            }
            Signals.Send(pid, Signals.SIGCONT);
            stopped = 0;

            Assert.Equal(0, refused);
            var r = _containerd.Ctr(Bound, "tasks", "exec", "--exec-id", "after", id, "echo", "served");
            Assert.Equal("served\n", r.Stdout);
        }
        finally
        {
            if (stopped > 0)
                Signals.Send(stopped, Signals.SIGCONT);
            clients.ForEach(s => s.Dispose());
            _containerd.RemoveTask(id);
        }
    }
}
