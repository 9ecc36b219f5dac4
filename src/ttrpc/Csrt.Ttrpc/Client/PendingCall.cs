using Csrt.Ttrpc.Wire;
using Google.Protobuf;
using Grpc.Core;
using Response = Csrt.Ttrpc.Protocol.Response;

namespace Csrt.Ttrpc.Client;

/// <summary>A call waiting for its Response, with the response type erased for the channel's table.</summary>
internal abstract class PendingCall
{
    /// <summary>The stream id, set when the request is registered (0 before).</summary>
    internal uint StreamId { get; set; }

    internal abstract bool IsCompleted { get; }

    /// <summary>Decodes a Response frame's data and completes the call with it.</summary>
    internal abstract void OnResponse(ReadOnlySpan<byte> data);

    /// <summary>Completes the call with an error status, unless it already completed.</summary>
    internal abstract void Fail(Status status, Metadata? trailers = null);
}

/// <summary>
/// One unary call of a <see cref="TtrpcChannel"/>. Completes exactly once, by whichever comes first:
/// the response, the deadline, the caller's cancellation or dispose, or the connection closing.
/// Continuations run asynchronously so a caller can never stall the channel's read loop.
/// </summary>
internal sealed class UnaryCall<TResponse> : PendingCall
    where TResponse : class
{
    // ttrpc has no response headers.
    private static readonly Task<Metadata> s_noHeaders = Task.FromResult(Metadata.Empty);

    internal static readonly Func<object, Task<Metadata>> ResponseHeaders = static _ => s_noHeaders;
    internal static readonly Func<object, Status> GetStatus = static state => ((UnaryCall<TResponse>)state).Status;
    internal static readonly Func<object, Metadata> GetTrailers = static state => ((UnaryCall<TResponse>)state).Trailers;
    internal static readonly Action<object> Dispose = static state =>
        ((UnaryCall<TResponse>)state).Fail(new Status(StatusCode.Cancelled, "ttrpc: call disposed before it finished"));

    private readonly TaskCompletionSource<TResponse> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TtrpcChannel _channel;
    private readonly Marshaller<TResponse> _marshaller;
    private CancellationTokenRegistration _cancellation;
    private CancellationTokenSource? _deadlineTimer;
    private Status _status;
    private Metadata _trailers = Metadata.Empty;
    private int _completed;

    internal UnaryCall(TtrpcChannel channel, Marshaller<TResponse> marshaller)
    {
        _channel = channel;
        _marshaller = marshaller;
    }

    internal Task<TResponse> ResponseTask => _result.Task;

    internal override bool IsCompleted => Volatile.Read(ref _completed) != 0;

    private Status Status => _result.Task.IsCompleted
        ? _status
        : throw new InvalidOperationException("the status of a ttrpc call is known only once the call has finished");

    private Metadata Trailers => _result.Task.IsCompleted
        ? _trailers
        : throw new InvalidOperationException("the trailers of a ttrpc call are known only once the call has finished");

    /// <summary>Arms the deadline timer and the cancellation callback.</summary>
    internal void Watch(TimeSpan? timeout, CancellationToken cancellationToken)
    {
        if (timeout is TimeSpan remaining && remaining.TotalMilliseconds < uint.MaxValue - 1)
        {
            _deadlineTimer = new CancellationTokenSource(remaining);
            _deadlineTimer.Token.UnsafeRegister(static state =>
                ((UnaryCall<TResponse>)state!).Fail(new Status(StatusCode.DeadlineExceeded, "ttrpc: deadline exceeded before the response arrived")), this);
        }
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static state =>
                ((UnaryCall<TResponse>)state!).Fail(new Status(StatusCode.Cancelled, "ttrpc: call cancelled by the client")), this);
        }
    }

    internal override void OnResponse(ReadOnlySpan<byte> data)
    {
        Response response;
        try
        {
            response = Response.Parser.ParseFrom(data);
        }
        catch (Exception ex)
        {
            Fail(new Status(StatusCode.Internal, $"ttrpc: undecodable Response envelope: {ex.Message}"));
            return;
        }

        if (response.Status is { Code: not 0 } status)
        {
            Metadata? trailers = null;
            if (status.Details.Count > 0)
            {
                // The gRPC convention, so Grpc.StatusProto-style readers find the details.
                trailers = new Metadata { { "grpc-status-details-bin", status.ToByteArray() } };
            }
            Fail(new Status((StatusCode)status.Code, status.Message), trailers);
            return;
        }

        TResponse value;
        try
        {
            value = _marshaller.ContextualDeserializer(new PayloadDeserializationContext(response.Payload.Memory));
        }
        catch (Exception ex)
        {
            Fail(new Status(StatusCode.Internal, $"ttrpc: error unmarshalling response payload: {ex.Message}"));
            return;
        }
        if (TryMarkCompleted())
        {
            _status = Status.DefaultSuccess;
            Cleanup();
            _result.TrySetResult(value);
        }
    }

    internal override void Fail(Status status, Metadata? trailers = null)
    {
        if (TryMarkCompleted())
        {
            _status = status;
            _trailers = trailers ?? Metadata.Empty;
            Cleanup();
            _result.TrySetException(new RpcException(status, _trailers));
        }
    }

    private bool TryMarkCompleted() => Interlocked.Exchange(ref _completed, 1) == 0;

    private void Cleanup()
    {
        // Unregister never waits, so it is safe from inside the callback being unregistered.
        _cancellation.Unregister();
        _deadlineTimer?.Dispose();
        _channel.Forget(this);
    }
}
