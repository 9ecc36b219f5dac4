using System.Collections.Concurrent;
using System.Net.Sockets;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Server;
using Csrt.Ttrpc.Tests.Protos;
using Csrt.Ttrpc.Transport;

namespace Csrt.Ttrpc.Tests;

/// <summary>A <see cref="TtrpcServer"/> serving <see cref="TestService"/> on a fresh abstract socket.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(TtrpcServer server, TestService service, UnixDomainSocketEndPoint endpoint, Task serving, ConcurrentQueue<(string, Exception?)> log)
    {
        Server = server;
        Service = service;
        Endpoint = endpoint;
        Serving = serving;
        Log = log;
    }

    public TtrpcServer Server { get; }
    public TestService Service { get; }
    public UnixDomainSocketEndPoint Endpoint { get; }
    public Task Serving { get; }

    /// <summary>Everything the server reported through <see cref="TtrpcServerOptions.ErrorLog"/>.</summary>
    public ConcurrentQueue<(string Message, Exception? Exception)> Log { get; }

    public static TestServer Start(Func<Exception, Grpc.Core.Status?>? mapper = null, bool requireSameUser = false)
    {
        var log = new ConcurrentQueue<(string, Exception?)>();
        var server = new TtrpcServer(new TtrpcServerOptions
        {
            ExceptionMapper = mapper,
            RequireSameUser = requireSameUser,
            ErrorLog = (message, exception) => log.Enqueue((message, exception)),
        });
        var service = new TestService();
        Echo.BindService(server, service);
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.Abstract($"csrt-ttrpc-test-{Guid.NewGuid():N}");
        Task serving = server.ListenAndServeAsync(endpoint);
        return new TestServer(server, service, endpoint, serving, log);
    }

    public async Task<TtrpcChannel> ConnectAsync() => await TtrpcChannel.ConnectAsync(Endpoint);

    public async Task<Echo.EchoClient> ClientAsync() => new(await ConnectAsync());

    public async Task<RawPeer> RawAsync() => new(await UnixSocketAddress.ConnectAsync(Endpoint));

    public async ValueTask DisposeAsync() => await Server.DisposeAsync();
}
