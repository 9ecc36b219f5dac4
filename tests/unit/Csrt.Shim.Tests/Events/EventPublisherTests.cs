using System.Threading.Channels;
using Containerd.Events;
using Csrt.Shim.Events;
using Csrt.Ttrpc.Server;
using Csrt.Ttrpc.Transport;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Xunit;
using EventsV1 = Containerd.Services.Events.Ttrpc.V1;

namespace Csrt.Shim.Tests.Events;

public class EventPublisherTests
{
    /// <summary>containerd's side of TTRPC_ADDRESS: records what it is forwarded, refusing the
    /// first <c>failFirst</c> calls with a status the publisher has no special case for.</summary>
    private sealed class Containerd(int failFirst) : EventsV1.Events.EventsBase
    {
        private int _calls;

        public Channel<EventsV1.Envelope> Received { get; } = Channel.CreateUnbounded<EventsV1.Envelope>();

        public override Task<Empty> Forward(EventsV1.ForwardRequest request, ServerCallContext context)
        {
            if (Interlocked.Increment(ref _calls) <= failFirst)
                throw new RpcException(new Status(StatusCode.Unavailable, "containerd is starting"));
            Received.Writer.TryWrite(request.Envelope);
            return Task.FromResult(new Empty());
        }
    }

    private static async Task<EventsV1.Envelope> Next(Containerd containerd)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        return await containerd.Received.Reader.ReadAsync(timeout.Token);
    }

    [Fact]
    public async Task EventsPublishedWhileContainerdIsAwayOrFailing_ArriveLater_InOrder_WithTheirNamespace()
    {
        var dir = Directory.CreateTempSubdirectory("csrt-events-");
        var path = Path.Combine(dir.FullName, "ttrpc.sock");
        try
        {
            await using var publisher = new EventPublisher(path, "k8s.io");
            publisher.Publish("/tasks/create", new TaskCreate { ContainerId = "a" });
            publisher.Publish("/tasks/start", new TaskStart { ContainerId = "a", Pid = 7 });
            await Task.Delay(300); // nothing listens yet: the first sends fail to connect

            var containerd = new Containerd(failFirst: 1);
            await using var server = new TtrpcServer();
            EventsV1.Events.BindService(server, containerd);
            var serving = server.ListenAndServeAsync(UnixSocketAddress.FromPath(path));

            var first = await Next(containerd);
            var second = await Next(containerd);
            Assert.Equal(("/tasks/create", "k8s.io"), (first.Topic, first.Namespace));
            Assert.Equal("/tasks/start", second.Topic);
            Assert.Equal(7u, TaskStart.Parser.ParseFrom(second.Event.Value).Pid);
            Assert.True(first.Timestamp.Seconds > 0);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
