using System.Diagnostics;
using System.Net.Sockets;
using Csrt.Ttrpc.Client;
using Request = Csrt.Ttrpc.Protocol.Request;
using Response = Csrt.Ttrpc.Protocol.Response;
using Status = Grpc.Core.Status;
using Csrt.Ttrpc.Server;
using Csrt.Ttrpc.Tests.Protos;
using Csrt.Ttrpc.Transport;
using Csrt.Ttrpc.Wire;
using Google.Protobuf;
using Grpc.Core;

namespace Csrt.Ttrpc.Tests;

public class ServerTests
{
    private const string EchoService = "csrt.ttrpc.test.Echo";

    [Fact]
    public async Task GeneratedClientRoundTripsThroughBoundGeneratedService()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        EchoReply reply = await client.EchoAsync(new EchoRequest { Text = "hi", Id = 7, Blob = ByteString.CopyFrom(new byte[1000]) });

        Assert.Equal("hi", reply.Text);
        Assert.Equal(7, reply.Id);
        Assert.Equal(1000, reply.BlobLength);
        Assert.Equal(-1, reply.DeadlineMs);
    }

    [Fact]
    public async Task RequestWithAllDefaultFieldsIsAnEmptyPayloadAndStillDispatches()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        EchoReply reply = await client.EchoAsync(new EchoRequest());

        Assert.Equal("", reply.Text);
    }

    [Fact]
    public async Task RequestMetadataIsExposedAsRequestHeaders()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();
        var headers = new Metadata { { "containerd-namespace-ttrpc", "k8s.io" }, { "trace-bin", new byte[] { 1, 2 } } };

        EchoReply reply = await client.EchoAsync(new EchoRequest(), headers);

        Assert.Equal(new[] { "containerd-namespace-ttrpc=k8s.io", "trace-bin=0102" }, reply.Headers);
    }

    [Fact]
    public async Task UnknownServiceIsUnimplementedNamingTheService()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(1, MessageType.Request, RawPeer.EchoRequest("Echo", "x", service: "containerd.task.v2.Task"));
        (FrameHeader header, Response response) = await peer.ReadResponseAsync();

        Assert.Equal(1u, header.StreamId);
        Assert.Equal((int)StatusCode.Unimplemented, response.Status.Code);
        Assert.Equal("service containerd.task.v2.Task", response.Status.Message);
    }

    [Fact]
    public async Task UnknownMethodIsUnimplementedNamingTheMethod()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(1, MessageType.Request, RawPeer.EchoRequest("Nope", "x"));
        (_, Response response) = await peer.ReadResponseAsync();

        Assert.Equal((int)StatusCode.Unimplemented, response.Status.Code);
        Assert.Equal("method Nope", response.Status.Message);
    }

    [Fact]
    public async Task StreamingMethodIsUnimplementedWithTheReason()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(1, MessageType.Request, RawPeer.EchoRequest("Watch", "x"), FrameFlags.RemoteOpen);
        (_, Response response) = await peer.ReadResponseAsync();

        Assert.Equal((int)StatusCode.Unimplemented, response.Status.Code);
        Assert.Contains("streaming", response.Status.Message);
    }

    [Fact]
    public async Task EvenStreamIdIsInvalidArgumentOnThatIdAndTheConnectionGoesOn()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(2, MessageType.Request, RawPeer.EchoRequest("Echo", "even"));
        (FrameHeader header, Response response) = await peer.ReadResponseAsync();
        Assert.Equal(2u, header.StreamId);
        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.Equal("StreamID must be odd for client initiated streams", response.Status.Message);

        await peer.SendFrameAsync(3, MessageType.Request, RawPeer.EchoRequest("Echo", "odd"));
        (header, response) = await peer.ReadResponseAsync();
        Assert.Equal(3u, header.StreamId);
        Assert.Equal("odd", EchoReply.Parser.ParseFrom(response.Payload).Text);
    }

    [Fact]
    public async Task ReusedOrDecreasingStreamIdIsInvalidArgument()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(5, MessageType.Request, RawPeer.EchoRequest("Echo", "first"));
        await peer.ReadResponseAsync();
        await peer.SendFrameAsync(5, MessageType.Request, RawPeer.EchoRequest("Echo", "again"));
        (FrameHeader header, Response response) = await peer.ReadResponseAsync();

        Assert.Equal(5u, header.StreamId);
        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.Equal("StreamID cannot be re-used and must increment", response.Status.Message);
    }

    [Fact]
    public async Task UndecodableRequestEnvelopeIsInvalidArgument()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        // Field 1, length-delimited, claiming 100 bytes that are not there.
        await peer.SendFrameAsync(1, MessageType.Request, [0x0A, 100, 1, 2]);
        (_, Response response) = await peer.ReadResponseAsync();

        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.StartsWith("unmarshal request error: ", response.Status.Message);
    }

    [Fact]
    public async Task UndecodablePayloadIsInternal()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();
        byte[] request = new Request { Service = EchoService, Method = "Echo", Payload = ByteString.CopyFrom(0x0A, 0x50, 0x01) }.ToByteArray();

        await peer.SendFrameAsync(1, MessageType.Request, request);
        (_, Response response) = await peer.ReadResponseAsync();

        Assert.Equal((int)StatusCode.Internal, response.Status.Code);
        Assert.StartsWith("ttrpc: error unmarshalling payload: ", response.Status.Message);
    }

    [Fact]
    public async Task OversizedFrameIsDiscardedAnsweredResourceExhaustedAndTheConnectionStaysUsable()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendAsync(RawPeer.Frame(1, MessageType.Request, new byte[TtrpcLimits.MaxMessageLength + 10]));
        (FrameHeader header, Response response) = await peer.ReadResponseAsync();
        Assert.Equal(1u, header.StreamId);
        Assert.Equal((int)StatusCode.ResourceExhausted, response.Status.Code);
        Assert.Equal("message length 4194314 exceed maximum message size of 4194304", response.Status.Message);

        await peer.SendFrameAsync(3, MessageType.Request, RawPeer.EchoRequest("Echo", "after"));
        (header, response) = await peer.ReadResponseAsync();
        Assert.Equal(3u, header.StreamId);
        Assert.Equal("after", EchoReply.Parser.ParseFrom(response.Payload).Text);
    }

    [Fact]
    public async Task DataFrameForNoOpenStreamIsInvalidArgument()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(1, MessageType.Data, [1, 2, 3], FrameFlags.RemoteClosed);
        (FrameHeader header, Response response) = await peer.ReadResponseAsync();

        Assert.Equal(1u, header.StreamId);
        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.Equal("StreamID is no longer active", response.Status.Message);
    }

    [Fact]
    public async Task UnknownMessageTypeIsIgnoredLikeGoTtrpcV1()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(1, (MessageType)0x7F, [1, 2, 3]);
        await peer.SendFrameAsync(3, MessageType.Response, []);
        await peer.SendFrameAsync(5, MessageType.Request, RawPeer.EchoRequest("Echo", "next"));
        (FrameHeader header, Response response) = await peer.ReadResponseAsync();

        // The first frame that comes back answers the Request; the other two got nothing.
        Assert.Equal(5u, header.StreamId);
        Assert.Equal("next", EchoReply.Parser.ParseFrom(response.Payload).Text);
    }

    [Fact]
    public async Task RpcExceptionKeepsItsStatus()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.FailAsync(new EchoRequest { Text = "rpc-not-found" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("container x: not found", error.Status.Detail);
    }

    [Theory]
    [InlineData("invalid-operation", "boom")]
    [InlineData("async-invalid-operation", "boom later")]
    public async Task UnmappedExceptionIsUnknownWithItsMessage(string kind, string message)
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.FailAsync(new EchoRequest { Text = kind }).ResponseAsync);

        Assert.Equal(StatusCode.Unknown, error.StatusCode);
        Assert.Equal(message, error.Status.Detail);
    }

    [Fact]
    public async Task ExceptionMapperChoosesTheStatusAndNullFallsBackToUnknown()
    {
        await using TestServer server = TestServer.Start(mapper: ex => ex is KeyNotFoundException ? new Status(StatusCode.NotFound, ex.Message + ": not found") : null);
        var client = await server.ClientAsync();

        var mapped = await Assert.ThrowsAsync<RpcException>(() => client.FailAsync(new EchoRequest { Text = "key-not-found" }).ResponseAsync);
        var fallback = await Assert.ThrowsAsync<RpcException>(() => client.FailAsync(new EchoRequest { Text = "invalid-operation" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, mapped.StatusCode);
        Assert.Equal("no such key: not found", mapped.Status.Detail);
        Assert.Equal(StatusCode.Unknown, fallback.StatusCode);
    }

    [Fact]
    public async Task ExceptionMapperThatThrowsStillYieldsUnknown()
    {
        await using TestServer server = TestServer.Start(mapper: _ => throw new InvalidCastException("mapper bug"));
        var client = await server.ClientAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.FailAsync(new EchoRequest { Text = "invalid-operation" }).ResponseAsync);

        Assert.Equal(StatusCode.Unknown, error.StatusCode);
        Assert.Contains("mapper bug", error.Status.Detail);
    }

    [Fact]
    public async Task StatusDetailsTravelBothWays()
    {
        var server = new TtrpcServer();
        var detail = new Google.Protobuf.WellKnownTypes.Any { TypeUrl = "csrt.Detail", Value = ByteString.CopyFromUtf8("why") };
        server.AddMethod(new Method<EchoRequest, EchoReply>(MethodType.Unary, EchoService, "Echo",
                Marshallers.Create((EchoRequest m, SerializationContext c) => { c.Complete(m.ToByteArray()); }, c => EchoRequest.Parser.ParseFrom(c.PayloadAsNewBuffer())),
                Marshallers.Create((EchoReply m, SerializationContext c) => { c.Complete(m.ToByteArray()); }, c => EchoReply.Parser.ParseFrom(c.PayloadAsNewBuffer()))),
            (EchoRequest _, ServerCallContext _) =>
            {
                var status = new Protocol.Status { Code = (int)StatusCode.FailedPrecondition, Message = "not running" };
                status.Details.Add(detail);
                throw new RpcException(new Status(StatusCode.FailedPrecondition, "not running"), new Metadata { { "grpc-status-details-bin", status.ToByteArray() } });
            });
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.Abstract($"csrt-ttrpc-test-{Guid.NewGuid():N}");
        _ = server.ListenAndServeAsync(endpoint);
        await using var _server = server;
        await using var channel = await TtrpcChannel.ConnectAsync(endpoint);

        var error = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel).EchoAsync(new EchoRequest()).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        byte[]? serialized = error.Trailers.GetValueBytes("grpc-status-details-bin");
        Assert.NotNull(serialized);
        Assert.Equal(detail, Assert.Single(Protocol.Status.Parser.ParseFrom(serialized).Details));
    }

    [Fact]
    public async Task HandlerSeesTheDeadlineFromTimeoutNano()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(1, MessageType.Request, RawPeer.EchoRequest("Echo", "d", timeoutNano: 30_000_000_000));
        (_, Response response) = await peer.ReadResponseAsync();

        long deadlineMs = EchoReply.Parser.ParseFrom(response.Payload).DeadlineMs;
        Assert.InRange(deadlineMs, 25_000, 30_000);
    }

    [Fact]
    public async Task ExpiredDeadlineCancelsTheHandlerAndAnswersDeadlineExceeded()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();
        var watch = Stopwatch.StartNew();

        // Block waits on a gate nobody opens; only the 200 ms deadline can end it.
        await peer.SendFrameAsync(1, MessageType.Request, RawPeer.EchoRequest("Block", "never", timeoutNano: 200_000_000));
        (_, Response response) = await peer.ReadResponseAsync();

        Assert.Equal((int)StatusCode.DeadlineExceeded, response.Status.Code);
        Assert.Equal("context deadline exceeded", response.Status.Message);
        Assert.InRange(watch.ElapsedMilliseconds, 150, 5_000);
    }

    [Fact]
    public async Task BlockedCallDoesNotDelayAnotherOnTheSameConnection()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        AsyncUnaryCall<EchoReply> blocked = client.BlockAsync(new EchoRequest { Text = "wait-gate", Id = 1 });
        await server.Service.Entered("wait-gate").WaitAsync(TimeSpan.FromSeconds(10));
        EchoReply quick = await client.EchoAsync(new EchoRequest { Text = "kill", Id = 2 }).ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("kill", quick.Text);
        Assert.False(blocked.ResponseAsync.IsCompleted);

        server.Service.Release("wait-gate");
        Assert.Equal(1, (await blocked.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10))).Id);
    }

    [Fact]
    public async Task SynchronouslyBlockingHandlerDoesNotDelayAnotherOnTheSameConnection()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        AsyncUnaryCall<EchoReply> sleeping = client.SleepSyncAsync(new EchoRequest { Id = 3000 });
        await Task.Delay(100);
        var watch = Stopwatch.StartNew();
        EchoReply quick = await client.EchoAsync(new EchoRequest { Text = "quick" });

        Assert.Equal("quick", quick.Text);
        Assert.True(watch.ElapsedMilliseconds < 2000, $"the quick call took {watch.ElapsedMilliseconds} ms behind a handler blocking its thread");
        Assert.False(sleeping.ResponseAsync.IsCompleted);
        await sleeping;
    }

    [Fact]
    public async Task ResponsesGoOutInCompletionOrderNotRequestOrder()
    {
        await using TestServer server = TestServer.Start();
        using RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(1, MessageType.Request, RawPeer.EchoRequest("Block", "order-gate"));
        await server.Service.Entered("order-gate").WaitAsync(TimeSpan.FromSeconds(10));
        await peer.SendFrameAsync(3, MessageType.Request, RawPeer.EchoRequest("Echo", "second"));
        (FrameHeader first, _) = await peer.ReadResponseAsync();
        server.Service.Release("order-gate");
        (FrameHeader second, _) = await peer.ReadResponseAsync();

        Assert.Equal(3u, first.StreamId);
        Assert.Equal(1u, second.StreamId);
    }

    [Fact]
    public async Task ClosingTheConnectionCancelsRunningHandlers()
    {
        await using TestServer server = TestServer.Start();
        RawPeer peer = await server.RawAsync();

        await peer.SendFrameAsync(1, MessageType.Request, RawPeer.EchoRequest("Block", "close-gate"));
        CancellationToken handlerToken = await server.Service.Entered("close-gate").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(handlerToken.IsCancellationRequested);
        var cancelled = new TaskCompletionSource();
        handlerToken.Register(() => cancelled.TrySetResult());
        peer.Dispose();

        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task GracefulShutdownFinishesInFlightCallsAndStopsAccepting()
    {
        TestServer server = TestServer.Start();
        var channel = await server.ConnectAsync();
        var client = new Echo.EchoClient(channel);
        AsyncUnaryCall<EchoReply> inFlight = client.BlockAsync(new EchoRequest { Text = "shutdown-gate", Id = 9 });
        await server.Service.Entered("shutdown-gate").WaitAsync(TimeSpan.FromSeconds(10));

        Task shutdown = server.Server.ShutdownAsync();
        await Task.Delay(200);
        Assert.False(shutdown.IsCompleted);
        await Assert.ThrowsAsync<SocketException>(() => UnixSocketAddress.ConnectAsync(server.Endpoint));

        server.Service.Release("shutdown-gate");
        Assert.Equal(9, (await inFlight.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10))).Id);
        await shutdown.WaitAsync(TimeSpan.FromSeconds(10));
        await server.Serving.WaitAsync(TimeSpan.FromSeconds(10));
        await channel.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ShutdownWhoseTokenFiresClosesConnectionsAndCancelsHandlers()
    {
        TestServer server = TestServer.Start();
        var client = await server.ClientAsync();
        AsyncUnaryCall<EchoReply> inFlight = client.BlockAsync(new EchoRequest { Text = "forced-gate" });
        CancellationToken handlerToken = await server.Service.Entered("forced-gate").WaitAsync(TimeSpan.FromSeconds(10));

        await server.Server.ShutdownAsync(new CancellationTokenSource(100).Token).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(handlerToken.IsCancellationRequested);
        var error = await Assert.ThrowsAsync<RpcException>(() => inFlight.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
    }

    [Fact]
    public async Task ServesAListeningSocketHandedOverAsAFileDescriptor()
    {
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.Abstract($"csrt-ttrpc-fd-{Guid.NewGuid():N}");
        using Socket original = UnixSocketAddress.Listen(endpoint);
        // What the shim daemon does with fd 3: wrap a raw descriptor it did not create as a Socket.
        var inherited = new Socket(new SafeSocketHandle(original.Handle, ownsHandle: false));
        await using var server = new TtrpcServer();
        Echo.BindService(server, new TestService());
        _ = server.ServeAsync(inherited);

        await using var channel = await TtrpcChannel.ConnectAsync(endpoint);
        EchoReply reply = await new Echo.EchoClient(channel).EchoAsync(new EchoRequest { Text = "fd3" });

        Assert.Equal("fd3", reply.Text);
    }

    [Fact]
    public async Task SameUserPeerIsAcceptedWhenPeerCredentialsAreRequired()
    {
        await using TestServer server = TestServer.Start(requireSameUser: true);
        var client = await server.ClientAsync();

        Assert.Equal("me", (await client.EchoAsync(new EchoRequest { Text = "me" })).Text);
        Assert.Empty(server.Log);
    }

    [Fact]
    public async Task PeerCredentialsNameThisProcess()
    {
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.Abstract($"csrt-ttrpc-cred-{Guid.NewGuid():N}");
        using Socket listener = UnixSocketAddress.Listen(endpoint);
        using Socket client = await UnixSocketAddress.ConnectAsync(endpoint);
        using Socket accepted = await listener.AcceptAsync();

        PeerCredentials peer = PeerCredentials.Read(accepted);
        (uint uid, uint gid) = PeerCredentials.CurrentEffectiveIds();

        Assert.Equal(Environment.ProcessId, peer.ProcessId);
        Assert.True(peer.IsSameUserAs(uid, gid));
    }

    [Theory]
    [InlineData(1000u, 1000u, true)]
    [InlineData(0u, 1000u, false)]
    [InlineData(1000u, 0u, false)]
    public void SameUserRuleNeedsUidAndGidToMatch(uint peerUid, uint peerGid, bool expected)
    {
        Assert.Equal(expected, new PeerCredentials(1, peerUid, peerGid).IsSameUserAs(1000, 1000));
    }

    [Fact]
    public void BindingAfterServingStartedIsRefused()
    {
        var server = new TtrpcServer();
        Echo.BindService(server, new TestService());
        _ = server.ListenAndServeAsync(UnixSocketAddress.Abstract($"csrt-ttrpc-late-{Guid.NewGuid():N}"));

        var error = Assert.Throws<InvalidOperationException>(() => server.AddServiceAlias("other.Echo", EchoService));

        Assert.Contains("before the server starts serving", error.Message);
        server.DisposeAsync().AsTask().Wait();
    }

    [Fact]
    public async Task ServiceAliasServesTheSameMethodsUnderASecondName()
    {
        var server = new TtrpcServer();
        Echo.BindService(server, new TestService());
        server.AddServiceAlias("csrt.ttrpc.test.v3.Echo", EchoService);
        UnixDomainSocketEndPoint endpoint = UnixSocketAddress.Abstract($"csrt-ttrpc-alias-{Guid.NewGuid():N}");
        _ = server.ListenAndServeAsync(endpoint);
        await using var _server = server;
        using var peer = new RawPeer(await UnixSocketAddress.ConnectAsync(endpoint));

        await peer.SendFrameAsync(1, MessageType.Request, RawPeer.EchoRequest("Echo", "v3", service: "csrt.ttrpc.test.v3.Echo"));
        (_, Response response) = await peer.ReadResponseAsync();

        Assert.Equal(0, response.Status.Code);
        Assert.Equal("v3", EchoReply.Parser.ParseFrom(response.Payload).Text);
    }
}
