using System.Net.Sockets;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Transport;

namespace Csrt.Ttrpc.Tests;

/// <summary>A listening socket whose one accepted connection the test drives by hand as a
/// <see cref="RawPeer"/>, to play a server that misbehaves on purpose.</summary>
internal sealed class FakeServer : IDisposable
{
    private readonly Socket _listener;

    private FakeServer(Socket listener, UnixDomainSocketEndPoint endpoint)
    {
        _listener = listener;
        Endpoint = endpoint;
    }

    public UnixDomainSocketEndPoint Endpoint { get; }

    public static FakeServer Start()
    {
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.Abstract($"csrt-ttrpc-fake-{Guid.NewGuid():N}");
        return new FakeServer(UnixSocketAddress.Listen(endpoint), endpoint);
    }

    /// <summary>Connects a channel and accepts its connection on the server side.</summary>
    public async Task<(TtrpcChannel Channel, RawPeer Server)> ConnectAsync()
    {
        Task<Socket> accepted = _listener.AcceptAsync();
        TtrpcChannel channel = await TtrpcChannel.ConnectAsync(Endpoint);
        return (channel, new RawPeer(await accepted.WaitAsync(TimeSpan.FromSeconds(10))));
    }

    public void Dispose() => _listener.Dispose();
}
