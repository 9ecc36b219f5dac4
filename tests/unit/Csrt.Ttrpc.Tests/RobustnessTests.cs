using System.Diagnostics;
using System.Net.Sockets;
using Csrt.Ttrpc.Tests.Protos;
using Csrt.Ttrpc.Transport;
using Csrt.Ttrpc.Wire;
using Google.Protobuf;
using Xunit.Abstractions;
using Request = Csrt.Ttrpc.Protocol.Request;

namespace Csrt.Ttrpc.Tests;

public class RobustnessTests
{
    private readonly ITestOutputHelper _output;

    public RobustnessTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public async Task ServerSurvivesOneHundredThousandRandomTruncatedAndOversizedFramesAndStillAnswers()
    {
        const int TargetFrames = 100_000;
        const int Connections = 4;
        const int Seed = 20261123;
        long unobserved = 0;
        EventHandler<UnobservedTaskExceptionEventArgs> countUnobserved = (_, e) =>
        {
            // Failed calls other tests dropped surface as RpcException; anything else escaped a loop.
            if (e.Exception.InnerExceptions.Any(ex => ex is not Grpc.Core.RpcException))
            {
                Interlocked.Increment(ref unobserved);
            }
        };
        TaskScheduler.UnobservedTaskException += countUnobserved;
        await using TestServer server = TestServer.Start();
        var watch = Stopwatch.StartNew();
        long framesSent = 0, responsesRead = 0, sessions = 0, truncatedTails = 0, oversized = 0;

        async Task RunWorker(int worker)
        {
            var random = new Random(Seed + worker);
            while (Interlocked.Read(ref framesSent) < TargetFrames)
            {
                Interlocked.Increment(ref sessions);
                using Socket socket = await UnixSocketAddress.ConnectAsync(server.Endpoint);
                var stream = new NetworkStream(socket, ownsSocket: false);
                // Drain whatever the server answers so it never blocks on a full socket.
                Task drain = DrainAsync(stream, () => Interlocked.Increment(ref responsesRead));
                int frames = random.Next(20, 3000);
                uint streamId = 1;
                for (int i = 0; i < frames; i++)
                {
                    byte[] frame = FuzzFrame(random, ref streamId, ref oversized);
                    await stream.WriteAsync(frame);
                    Interlocked.Increment(ref framesSent);
                }
                if (random.Next(3) == 0)
                {
                    // End the session in the middle of a frame: header only, data cut, or a huge claim.
                    byte[] tail = random.Next(3) switch
                    {
                        0 => RawPeer.Frame(streamId, MessageType.Request, [])[..random.Next(1, 10)],
                        1 => RawPeer.Frame(streamId, MessageType.Request, new byte[50])[..random.Next(11, 59)],
                        _ => RawPeer.Frame(streamId, MessageType.Request, new byte[100], declaredLength: (uint)random.Next(TtrpcLimits.MaxMessageLength + 1, int.MaxValue)),
                    };
                    await stream.WriteAsync(tail);
                    Interlocked.Increment(ref framesSent);
                    Interlocked.Increment(ref truncatedTails);
                }
                socket.Shutdown(SocketShutdown.Send);
                await drain.WaitAsync(TimeSpan.FromSeconds(60));
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Connections).Select(RunWorker)).WaitAsync(TimeSpan.FromMinutes(4));

        var client = await server.ClientAsync();
        EchoReply reply = await client.EchoAsync(new EchoRequest { Text = "still alive" }, deadline: DateTime.UtcNow.AddSeconds(10));
        _output.WriteLine($"{framesSent} frames ({oversized} oversized, {truncatedTails} truncated tails) in {sessions} connections, {responsesRead} responses, {watch.Elapsed.TotalSeconds:F1} s");

        GC.Collect();
        GC.WaitForPendingFinalizers();
        TaskScheduler.UnobservedTaskException -= countUnobserved;

        Assert.Equal("still alive", reply.Text);
        Assert.Equal(0, Interlocked.Read(ref unobserved));
        Assert.True(framesSent >= TargetFrames);
        Assert.True(responsesRead > TargetFrames / 2, $"only {responsesRead} responses came back");
        Assert.DoesNotContain(server.Log, entry => entry.Message.Contains("unexpectedly"));
        Assert.False(server.Serving.IsCompleted, "the accept loop ended");
    }

    [Fact]
    public async Task TenThousandConcurrentCallsOnOneConnectionAllGetTheirOwnReply()
    {
        const int Calls = 10_000;
        await using TestServer server = TestServer.Start();
        await using var channel = await server.ConnectAsync();
        var client = new Echo.EchoClient(channel);
        var watch = Stopwatch.StartNew();

        var calls = new Task<EchoReply>[Calls];
        for (int i = 0; i < Calls; i++)
        {
            calls[i] = client.EchoLaterAsync(new EchoRequest { Id = i, Text = $"call-{i}" }).ResponseAsync;
        }
        EchoReply[] replies = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromMinutes(2));
        _output.WriteLine($"{Calls} concurrent calls in {watch.ElapsedMilliseconds} ms");

        int mismatched = 0;
        for (int i = 0; i < Calls; i++)
        {
            if (replies[i].Id != i || replies[i].Text != $"call-{i}")
            {
                mismatched++;
            }
        }
        Assert.Equal(0, mismatched);
        Assert.False(channel.IsClosed);
    }

    private static async Task DrainAsync(Stream stream, Action onResponse)
    {
        var reader = new FrameReader(stream);
        while (true)
        {
            FrameReadResult frame;
            try
            {
                frame = await reader.ReadAsync(CancellationToken.None);
            }
            catch (IOException)
            {
                return;
            }
            if (frame.Kind != FrameReadKind.Frame)
            {
                return;
            }
            Assert.Equal(MessageType.Response, frame.Header.Type);
            frame.ReturnBuffer();
            onResponse();
        }
    }

    private static readonly string[] s_services = ["csrt.ttrpc.test.Echo", "containerd.task.v2.Task", "", "csrt.ttrpc.test.Echo\0", "é"];
    private static readonly string[] s_methods = ["Echo", "EchoLater", "Fail", "Watch", "Block", "Nope", ""];

    /// <summary>One frame from a mix of shapes: pure noise, noise typed as a Request, a well-formed
    /// envelope with random fields and payload, a valid call with bits flipped, Data frames, even
    /// ids, and rarely a real oversized frame.</summary>
    private static byte[] FuzzFrame(Random random, ref uint streamId, ref long oversized)
    {
        int shape = random.Next(100);
        if (shape == 0 && random.Next(50) == 0)
        {
            Interlocked.Increment(ref oversized);
            return RawPeer.Frame(NextId(random, ref streamId), MessageType.Request, new byte[TtrpcLimits.MaxMessageLength + random.Next(1, 4096)]);
        }
        if (shape < 20)
        {
            byte[] noise = RandomBytes(random, random.Next(0, 200));
            return RawPeer.Frame((uint)random.Next(), (MessageType)random.Next(256), noise, (FrameFlags)random.Next(256));
        }
        if (shape < 40)
        {
            return RawPeer.Frame(NextId(random, ref streamId), MessageType.Request, RandomBytes(random, random.Next(0, 300)));
        }
        if (shape < 50)
        {
            return RawPeer.Frame(NextId(random, ref streamId), MessageType.Data, RandomBytes(random, random.Next(0, 50)), (FrameFlags)random.Next(8));
        }

        var request = new Request
        {
            Service = s_services[random.Next(s_services.Length)],
            Method = s_methods[random.Next(s_methods.Length)],
            TimeoutNano = random.Next(4) == 0 ? random.NextInt64(-1_000, 1_000_000_000) : 0,
            Payload = random.Next(2) == 0
                ? ByteString.CopyFrom(RandomBytes(random, random.Next(0, 100)))
                : new EchoRequest { Text = random.Next(2) == 0 ? "invalid-operation" : "x", Id = random.Next(1000) }.ToByteString(),
        };
        for (int i = random.Next(3); i > 0; i--)
        {
            request.Metadata.Add(new Protocol.KeyValue { Key = random.Next(2) == 0 ? "Key With Spaces" : "k-bin", Value = "not base64 !" });
        }
        byte[] data = request.ToByteArray();
        if (shape >= 80 && data.Length > 0)
        {
            for (int flips = random.Next(1, 4); flips > 0; flips--)
            {
                data[random.Next(data.Length)] ^= (byte)(1 << random.Next(8));
            }
        }
        return RawPeer.Frame(NextId(random, ref streamId), MessageType.Request, data);
    }

    private static uint NextId(Random random, ref uint streamId)
    {
        // Mostly valid increasing odd ids; sometimes even, reused or going backwards.
        int choice = random.Next(20);
        if (choice == 0)
        {
            return (uint)random.Next() & ~1u;
        }
        if (choice == 1)
        {
            return streamId;
        }
        streamId += 2;
        return streamId;
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
