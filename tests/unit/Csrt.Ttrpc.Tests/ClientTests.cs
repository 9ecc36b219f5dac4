using System.Diagnostics;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Tests.Protos;
using Csrt.Ttrpc.Wire;
using Google.Protobuf;
using Grpc.Core;
using Request = Csrt.Ttrpc.Protocol.Request;
using Response = Csrt.Ttrpc.Protocol.Response;

namespace Csrt.Ttrpc.Tests;

public class ClientTests
{
    private static async Task<(FrameHeader Header, Request Request)> ReadRequestAsync(RawPeer server, int timeoutMs = 10_000)
    {
        using var timeout = new CancellationTokenSource(timeoutMs);
        FrameReadResult frame = await server.ReadFrameAsync(timeout.Token);
        Assert.Equal(FrameReadKind.Frame, frame.Kind);
        Assert.Equal(MessageType.Request, frame.Header.Type);
        try
        {
            return (frame.Header, Request.Parser.ParseFrom(frame.Payload));
        }
        finally
        {
            frame.ReturnBuffer();
        }
    }

    private static Task ReplyAsync(RawPeer server, uint streamId, EchoReply reply) =>
        server.SendFrameAsync(streamId, MessageType.Response, new Response { Payload = reply.ToByteString() }.ToByteArray());

    [Fact]
    public async Task ConcurrentCallsUseOddIncreasingStreamIdsAndGetTheirOwnRepliesInAnyOrder()
    {
        using FakeServer fake = FakeServer.Start();
        (TtrpcChannel channel, RawPeer server) = await fake.ConnectAsync();
        using RawPeer serverScope = server;
        await using TtrpcChannel channelScope = channel;
        var client = new Echo.EchoClient(channel);

        var calls = Enumerable.Range(0, 5).Select(i => client.EchoAsync(new EchoRequest { Id = i }).ResponseAsync).ToArray();
        var received = new List<(uint StreamId, long Id)>();
        for (int i = 0; i < calls.Length; i++)
        {
            (FrameHeader header, Request request) = await ReadRequestAsync(server);
            Assert.Equal("csrt.ttrpc.test.Echo", request.Service);
            Assert.Equal("Echo", request.Method);
            Assert.Equal(FrameFlags.None, header.Flags);
            received.Add((header.StreamId, EchoRequest.Parser.ParseFrom(request.Payload).Id));
        }
        // Answer in reverse order.
        foreach ((uint streamId, long id) in Enumerable.Reverse(received))
        {
            await ReplyAsync(server, streamId, new EchoReply { Id = id * 10 });
        }

        Assert.Equal(new uint[] { 1, 3, 5, 7, 9 }, received.Select(r => r.StreamId));
        for (int i = 0; i < calls.Length; i++)
        {
            Assert.Equal(i * 10, (await calls[i].WaitAsync(TimeSpan.FromSeconds(10))).Id);
        }
    }

    [Fact]
    public async Task DeadlineIsSentAsTimeoutNanoAndEnforcedLocally()
    {
        using FakeServer fake = FakeServer.Start();
        (TtrpcChannel channel, RawPeer server) = await fake.ConnectAsync();
        using RawPeer serverScope = server;
        await using TtrpcChannel channelScope = channel;
        var watch = Stopwatch.StartNew();

        var call = new Echo.EchoClient(channel).EchoAsync(new EchoRequest(), deadline: DateTime.UtcNow.AddMilliseconds(300));
        (_, Request request) = await ReadRequestAsync(server);
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.InRange(request.TimeoutNano, 100_000_000, 300_000_000);
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.InRange(watch.ElapsedMilliseconds, 250, 5_000);
    }

    [Fact]
    public async Task PassedDeadlineFailsAtOnceWithoutSending()
    {
        using FakeServer fake = FakeServer.Start();
        (TtrpcChannel channel, RawPeer server) = await fake.ConnectAsync();
        using RawPeer serverScope = server;
        await using TtrpcChannel channelScope = channel;
        var client = new Echo.EchoClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.EchoAsync(new EchoRequest(), deadline: DateTime.UtcNow.AddSeconds(-1)).ResponseAsync);
        _ = client.EchoAsync(new EchoRequest { Text = "sent" });
        (FrameHeader header, Request request) = await ReadRequestAsync(server);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        // The first frame on the wire is the second call, with the first stream id.
        Assert.Equal(1u, header.StreamId);
        Assert.Equal("sent", EchoRequest.Parser.ParseFrom(request.Payload).Text);
    }

    [Fact]
    public async Task CancelledCallStopsWaitingAndItsLateReplyIsDropped()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();
        using var cancel = new CancellationTokenSource();

        var call = client.BlockAsync(new EchoRequest { Text = "cancel-gate" }, cancellationToken: cancel.Token);
        await server.Service.Entered("cancel-gate").WaitAsync(TimeSpan.FromSeconds(10));
        cancel.Cancel();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10)));
        server.Service.Release("cancel-gate");

        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        Assert.Equal(StatusCode.Cancelled, call.GetStatus().StatusCode);
        Assert.Equal("after", (await client.EchoAsync(new EchoRequest { Text = "after" })).Text);
    }

    [Fact]
    public async Task DisposingAPendingCallCancelsIt()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        var call = client.BlockAsync(new EchoRequest { Text = "dispose-gate" });
        await server.Service.Entered("dispose-gate").WaitAsync(TimeSpan.FromSeconds(10));
        call.Dispose();

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        server.Service.Release("dispose-gate");
    }

    [Fact]
    public async Task StatusAndTrailersAreAvailableOnlyAfterTheCallFinished()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        var call = client.BlockAsync(new EchoRequest { Text = "status-gate" });
        Assert.Throws<InvalidOperationException>(() => call.GetStatus());
        Assert.Throws<InvalidOperationException>(() => call.GetTrailers());
        server.Service.Release("status-gate");
        await call;

        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Empty(call.GetTrailers());
        Assert.Empty(await call.ResponseHeadersAsync);
    }

    [Fact]
    public async Task PeerCloseFailsPendingAndLaterCallsWithUnavailable()
    {
        using FakeServer fake = FakeServer.Start();
        (TtrpcChannel channel, RawPeer server) = await fake.ConnectAsync();
        await using TtrpcChannel channelScope = channel;
        var client = new Echo.EchoClient(channel);

        var pending = new[] { client.EchoAsync(new EchoRequest()).ResponseAsync, client.EchoAsync(new EchoRequest()).ResponseAsync };
        await ReadRequestAsync(server);
        await ReadRequestAsync(server);
        server.Dispose();

        foreach (Task<EchoReply> call in pending)
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        }
        await channel.Completion.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(channel.IsClosed);
        var later = await Assert.ThrowsAsync<RpcException>(() => client.EchoAsync(new EchoRequest()).ResponseAsync.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StatusCode.Unavailable, later.StatusCode);
        Assert.Contains("closed", later.Status.Detail);
    }

    [Fact]
    public async Task DisposedChannelFailsCallsWithUnavailable()
    {
        await using TestServer server = TestServer.Start();
        TtrpcChannel channel = await server.ConnectAsync();
        channel.Dispose();

        var error = await Assert.ThrowsAsync<RpcException>(() => new Echo.EchoClient(channel).EchoAsync(new EchoRequest()).ResponseAsync);

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal("ttrpc: channel disposed", error.Status.Detail);
    }

    [Fact]
    public async Task OversizedRequestFailsLocallyWithResourceExhaustedAndTheChannelStaysUsable()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.EchoAsync(new EchoRequest { Blob = ByteString.CopyFrom(new byte[TtrpcLimits.MaxMessageLength]) }).ResponseAsync);
        EchoReply nearLimit = await client.EchoAsync(new EchoRequest { Blob = ByteString.CopyFrom(new byte[TtrpcLimits.MaxMessageLength - 200]) });

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(TtrpcLimits.MaxMessageLength - 200, nearLimit.BlobLength);
    }

    [Fact]
    public async Task OversizedResponseFailsThatCallOnlyWithResourceExhausted()
    {
        using FakeServer fake = FakeServer.Start();
        (TtrpcChannel channel, RawPeer server) = await fake.ConnectAsync();
        using RawPeer serverScope = server;
        await using TtrpcChannel channelScope = channel;
        var client = new Echo.EchoClient(channel);

        var big = client.EchoAsync(new EchoRequest()).ResponseAsync;
        (FrameHeader first, _) = await ReadRequestAsync(server);
        await server.SendAsync(RawPeer.Frame(first.StreamId, MessageType.Response, new byte[TtrpcLimits.MaxMessageLength + 1]));
        var error = await Assert.ThrowsAsync<RpcException>(() => big.WaitAsync(TimeSpan.FromSeconds(10)));

        var next = client.EchoAsync(new EchoRequest()).ResponseAsync;
        (FrameHeader second, _) = await ReadRequestAsync(server);
        await ReplyAsync(server, second.StreamId, new EchoReply { Text = "fine" });

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("fine", (await next.WaitAsync(TimeSpan.FromSeconds(10))).Text);
    }

    [Fact]
    public async Task UndecodableResponseFailsThatCallWithInternal()
    {
        using FakeServer fake = FakeServer.Start();
        (TtrpcChannel channel, RawPeer server) = await fake.ConnectAsync();
        using RawPeer serverScope = server;
        await using TtrpcChannel channelScope = channel;

        var call = new Echo.EchoClient(channel).EchoAsync(new EchoRequest()).ResponseAsync;
        (FrameHeader header, _) = await ReadRequestAsync(server);
        await server.SendFrameAsync(header.StreamId, MessageType.Response, [0x12, 0x7F]);

        var error = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.False(channel.IsClosed);
    }

    [Fact]
    public async Task ResponseWithStatusCodeZeroAndPayloadIsSuccess()
    {
        // Some servers send an explicit OK status instead of leaving it out.
        using FakeServer fake = FakeServer.Start();
        (TtrpcChannel channel, RawPeer server) = await fake.ConnectAsync();
        using RawPeer serverScope = server;
        await using TtrpcChannel channelScope = channel;

        var call = new Echo.EchoClient(channel).EchoAsync(new EchoRequest()).ResponseAsync;
        (FrameHeader header, _) = await ReadRequestAsync(server);
        await server.SendFrameAsync(header.StreamId, MessageType.Response,
            new Response { Status = new Protocol.Status { Code = 0 }, Payload = new EchoReply { Text = "ok" }.ToByteString() }.ToByteArray());

        Assert.Equal("ok", (await call.WaitAsync(TimeSpan.FromSeconds(10))).Text);
    }

    [Fact]
    public async Task BlockingUnaryCallReturnsTheReply()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        EchoReply reply = await Task.Run(() => client.Echo(new EchoRequest { Text = "sync" }));

        Assert.Equal("sync", reply.Text);
    }

    [Fact]
    public async Task StreamingCallIsRefusedWithUnimplemented()
    {
        await using TestServer server = TestServer.Start();
        var client = await server.ClientAsync();

        var error = Assert.Throws<RpcException>(() => client.Watch(new EchoRequest()));

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }
}
