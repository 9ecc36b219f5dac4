using Csrt.Linux;
using Xunit;

namespace Csrt.Linux.Tests;

// Not beside tests that start processes: a child between fork and exec holds a copy of every fd,
// so a closed listener could still answer the probe below.
[Collection(ChildProcessCollection.Name)]
public sealed class UnixSocketsTests
{
    [Theory]
    [InlineData(UnixSockets.Kind.Stream)]
    [InlineData(UnixSockets.Kind.SeqPacket)]
    public void OneFdSentWithAMessageArrivesAsExactlyOneFdThatWorks(UnixSockets.Kind kind)
    {
        var (a, b) = UnixSockets.Pair(kind);
        using var _a = a;
        using var _b = b;
        var (r, w) = Files.Pipe();
        using var _r = r;
        using (w)
            UnixSockets.Send(a, "/dev/ptmx"u8, new[] { w.Number });
        var fds = new List<FileDescriptor>();
        var buffer = new byte[4096];
        var n = UnixSockets.Receive(b, buffer, fds);
        Assert.Equal("/dev/ptmx", System.Text.Encoding.UTF8.GetString(buffer, 0, n));
        Assert.Single(fds);
        using (var received = fds[0])
            Files.WriteAll(received, "x"u8);
        var got = new byte[8];
        Assert.Equal(1, Files.Read(r, got));
        Assert.Equal((byte)'x', got[0]);
        Assert.Equal(0, Files.Read(r, got)); // no other copy of the write end travelled along
    }

    [Fact]
    public void MessagesWithoutFdsCarryNone()
    {
        var (a, b) = UnixSockets.Pair(UnixSockets.Kind.SeqPacket);
        using var _a = a;
        using var _b = b;
        UnixSockets.Send(a, "hello"u8);
        var fds = new List<FileDescriptor>();
        var n = UnixSockets.Receive(b, new byte[64], fds);
        Assert.Equal(5, n);
        Assert.Empty(fds);
    }

    [Fact]
    public void ListenBindsAPathThatProbeAndConnectReachAndASecondListenFindsInUse()
    {
        var dir = Directory.CreateTempSubdirectory("csrt-sock-");
        try
        {
            var path = Path.Combine(dir.FullName, "s");
            Assert.False(UnixSockets.Probe(path));
            using (UnixSockets.Listen(path, 4))
            {
                Assert.True(UnixSockets.Probe(path));
                using (UnixSockets.Connect(path))
                {
                }
                var e = Assert.Throws<SyscallException>(() => UnixSockets.Listen(path, 4));
                Assert.Equal(Errno.EADDRINUSE, e.Errno);
            }
            // Closed: the file stays behind, stale; nobody answers there.
            Assert.True(File.Exists(path));
            Assert.False(UnixSockets.Probe(path));
            var refused = Assert.Throws<SyscallException>(() => UnixSockets.Connect(path));
            Assert.Equal(Errno.ECONNREFUSED, refused.Errno);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
