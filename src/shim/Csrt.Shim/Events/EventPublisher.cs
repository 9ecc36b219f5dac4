using System.Threading.Channels;
using Containerd;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Transport;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using EventsV1 = Containerd.Services.Events.Ttrpc.V1;

namespace Csrt.Shim.Events;

/// <summary>
/// Publishes task events to containerd: one unary Forward call per event on a ttrpc connection to
/// TTRPC_ADDRESS, from one queue in FIFO order (so TaskStart always precedes the TaskExit of the
/// same process). Envelopes carry the shim's namespace, a timestamp taken when the event happened,
/// and the event as an Any with containerd's bare type URL. A failed send is retried with growing
/// pauses (reconnecting), up to 5 times, as the runc shim does; then it is dropped with an error log.
/// </summary>
public sealed class EventPublisher : IAsyncDisposable
{
    private const string NamespaceHeader = "containerd-namespace-ttrpc";
    private readonly string _address;
    private readonly string _namespace;
    private readonly Channel<EventsV1.Envelope> _queue = Channel.CreateUnbounded<EventsV1.Envelope>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _worker;
    private TtrpcChannel? _channel;

    public EventPublisher(string ttrpcAddress, string ns)
    {
        _address = ttrpcAddress;
        _namespace = ns;
        _worker = Task.Run(RunAsync);
    }

    /// <summary>Queues an event; never blocks, never throws.</summary>
    public void Publish(string topic, IMessage message)
    {
        var envelope = new EventsV1.Envelope
        {
            Timestamp = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            Namespace = _namespace,
            Topic = topic,
            Event = TypeUrls.Pack(message),
        };
        _queue.Writer.TryWrite(envelope);
    }

    private async Task RunAsync()
    {
        await foreach (var envelope in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await SendAsync(envelope).ConfigureAwait(false);
                    break;
                }
                // Whatever the failure (containerd restarting, a refused connect, a bug), the worker
                // goes on: a worker that died would silently lose every later event.
                catch (Exception e)
                {
                    await DropChannelAsync().ConfigureAwait(false);
                    if (e is RpcException { StatusCode: StatusCode.InvalidArgument } || attempt >= 5)
                    {
                        Log.Error($"publishing {envelope.Topic} failed, event dropped", e);
                        break;
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * (1 << attempt))).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task SendAsync(EventsV1.Envelope envelope)
    {
        _channel ??= await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromPath(_address)).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        var client = new EventsV1.Events.EventsClient(_channel);
        await client.ForwardAsync(new EventsV1.ForwardRequest { Envelope = envelope },
            headers: new Metadata { { NamespaceHeader, _namespace } },
            deadline: DateTime.UtcNow.AddSeconds(5)).ResponseAsync.ConfigureAwait(false);
    }

    private async Task DropChannelAsync()
    {
        if (_channel is { } c)
        {
            _channel = null;
            await c.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Sends what is queued (up to <paramref name="timeout"/>), then closes.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        await Task.WhenAny(_worker, Task.Delay(timeout)).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await DropChannelAsync().ConfigureAwait(false);
    }
}
