using System.Net.Sockets;
using Csrt.Ttrpc.Transport;

namespace Csrt.Ttrpc.Tests;

public class UnixSocketAddressTests
{
    [Fact]
    public void ShimAddressWithUnixSchemeIsAFilesystemPath()
    {
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.FromShimAddress("unix:///run/containerd/s/abc");

        Assert.False(UnixSocketAddress.IsAbstract(endpoint));
        Assert.Equal("/run/containerd/s/abc", UnixSocketAddress.Describe(endpoint));
    }

    [Fact]
    public void ShimAddressWithoutSchemeIsAnAbstractName()
    {
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.FromShimAddress("/containerd-shim/k8s.io/abc/shim.sock");

        Assert.True(UnixSocketAddress.IsAbstract(endpoint));
        Assert.Equal("@/containerd-shim/k8s.io/abc/shim.sock", UnixSocketAddress.Describe(endpoint));
    }

    [Theory]
    [InlineData("/run/containerd/containerd.sock.ttrpc")]
    [InlineData("unix:///run/containerd/containerd.sock.ttrpc")]
    public void PlainSocketPathIsAlwaysAFilesystemPath(string address)
    {
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.FromPath(address);

        Assert.False(UnixSocketAddress.IsAbstract(endpoint));
        Assert.Equal("/run/containerd/containerd.sock.ttrpc", UnixSocketAddress.Describe(endpoint));
    }

    [Fact]
    public void FilesystemPathStartingWithAtSignIsNotTakenForAbstract()
    {
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.FromPath("@relative.sock");

        Assert.False(UnixSocketAddress.IsAbstract(endpoint));
        Assert.Equal("@relative.sock", UnixSocketAddress.Describe(endpoint));
    }

    [Fact]
    public void PathLongerThanSunPathIsRefusedWithItsLength()
    {
        string path = "/" + new string('a', 107);

        var error = Assert.Throws<ArgumentException>(() => UnixSocketAddress.FromPath(path));

        Assert.Contains("108 bytes", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("unix://")]
    public void EmptyPathIsRefused(string address)
    {
        Assert.Throws<ArgumentException>(() => UnixSocketAddress.FromPath(address));
    }

    [Fact]
    public void ContainerdStyleShimSocketPathFits()
    {
        string address = "unix:///run/containerd/s/" + new string('f', 64);

        Assert.Equal(82, UnixSocketAddress.Describe(UnixSocketAddress.FromShimAddress(address)).Length);
    }

    [Fact]
    public async Task FilesystemSocketListensConnectsAndIsRemovedAtShutdown()
    {
        string directory = Directory.CreateTempSubdirectory("csrt-ttrpc-").FullName;
        try
        {
            string path = Path.Combine(directory, "t.sock");
            var server = new Server.TtrpcServer();
            Protos.Echo.BindService(server, new TestService());
            Task serving = server.ListenAndServeAsync(UnixSocketAddress.FromShimAddress("unix://" + path));
            Assert.True(File.Exists(path));

            await using (var channel = await Client.TtrpcChannel.ConnectAsync(UnixSocketAddress.FromPath(path)))
            {
                var reply = await new Protos.Echo.EchoClient(channel).EchoAsync(new Protos.EchoRequest { Text = "fs" });
                Assert.Equal("fs", reply.Text);
            }

            await server.ShutdownAsync();
            await serving;
            Assert.False(File.Exists(path));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
