using System.Net.Sockets;
using Csrt.Ttrpc.Transport;
using Csrt.Ttrpc.Wire;
using Grpc.Core;

namespace Csrt.Ttrpc.Client;

/// <summary>
/// A ttrpc client connection, usable as the <see cref="CallInvoker"/> of any generated client:
/// <c>new Task.TaskClient(channel)</c>. Calls are multiplexed on one Unix socket (odd stream ids
/// from 1, +2 per call) and may complete in any order. A call's deadline
/// (<see cref="CallOptions.Deadline"/>) is sent as <c>timeout_nano</c> and enforced locally;
/// cancelling or disposing a call stops waiting for it (ttrpc has no cancel frame; a late answer is
/// dropped); <see cref="CallOptions.Headers"/> travel as request metadata. When the connection
/// closes, every pending call and every later call fails with UNAVAILABLE. Unary calls only.
/// </summary>
public sealed class TtrpcChannel : CallInvoker, IDisposable, IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly FrameReader _reader;
    private readonly FrameWriter _writer;
    private readonly object _lock = new();
    private readonly Dictionary<uint, PendingCall> _pending = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private uint _nextStreamId = 1;
    private Status? _closedStatus;

    /// <summary>Wraps a connected stream socket (the channel owns it from now on) and starts reading.</summary>
    public TtrpcChannel(Socket connectedSocket)
    {
        ArgumentNullException.ThrowIfNull(connectedSocket);
        _socket = connectedSocket;
        var stream = new NetworkStream(connectedSocket, ownsSocket: false);
        _reader = new FrameReader(stream);
        _writer = new FrameWriter(stream);
        _ = ReadLoopAsync();
    }

    /// <summary>Connects to a ttrpc server at <paramref name="endpoint"/>; see
    /// <see cref="UnixSocketAddress"/> for turning containerd's address strings into endpoints.</summary>
    public static async Task<TtrpcChannel> ConnectAsync(UnixDomainSocketEndPoint endpoint, CancellationToken cancellationToken = default)
    {
        Socket socket = await UnixSocketAddress.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
        return new TtrpcChannel(socket);
    }

    /// <summary>Completes when the connection has closed, for whatever reason.</summary>
    public Task Completion => _completion.Task;

    /// <summary>True once the connection has closed; every call then fails with UNAVAILABLE.</summary>
    public bool IsClosed
    {
        get
        {
            lock (_lock)
            {
                return _closedStatus is not null;
            }
        }
    }

    /// <inheritdoc/>
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request)
    {
        ArgumentNullException.ThrowIfNull(method);
        var call = new UnaryCall<TResponse>(this, method.ResponseMarshaller);
        Start(call, method, options, request);
        return new AsyncUnaryCall<TResponse>(call.ResponseTask, UnaryCall<TResponse>.ResponseHeaders,
            UnaryCall<TResponse>.GetStatus, UnaryCall<TResponse>.GetTrailers, UnaryCall<TResponse>.Dispose, call);
    }

    /// <inheritdoc/>
    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        AsyncUnaryCall(method, host, options, request).ResponseAsync.GetAwaiter().GetResult();

    /// <summary>Not available over ttrpc here: throws <see cref="RpcException"/> UNIMPLEMENTED.</summary>
    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        throw StreamingNotSupported(method);

    /// <summary>Not available over ttrpc here: throws <see cref="RpcException"/> UNIMPLEMENTED.</summary>
    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw StreamingNotSupported(method);

    /// <summary>Not available over ttrpc here: throws <see cref="RpcException"/> UNIMPLEMENTED.</summary>
    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        throw StreamingNotSupported(method);

    /// <summary>Closes the connection; pending calls fail with UNAVAILABLE.</summary>
    public void Dispose() => Close(new Status(StatusCode.Unavailable, "ttrpc: channel disposed"));

    /// <summary>Closes the connection; pending calls fail with UNAVAILABLE.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Removes a finished call from the table of pending calls.</summary>
    internal void Forget(PendingCall call)
    {
        lock (_lock)
        {
            if (call.StreamId != 0 && _pending.TryGetValue(call.StreamId, out PendingCall? registered) && registered == call)
            {
                _pending.Remove(call.StreamId);
            }
        }
    }

    private void Start<TRequest, TResponse>(UnaryCall<TResponse> call, Method<TRequest, TResponse> method, CallOptions options, TRequest request)
        where TRequest : class
        where TResponse : class
    {
        long timeoutNano = 0;
        TimeSpan? timeout = null;
        if (options.Deadline is DateTime deadline && deadline != DateTime.MaxValue)
        {
            TimeSpan remaining = deadline.ToUniversalTime() - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                call.Fail(new Status(StatusCode.DeadlineExceeded, "ttrpc: deadline exceeded before the call was sent"));
                return;
            }
            timeout = remaining;
            timeoutNano = remaining.Ticks > long.MaxValue / 100 ? long.MaxValue : remaining.Ticks * 100;
        }
        if (options.CancellationToken.IsCancellationRequested)
        {
            call.Fail(new Status(StatusCode.Cancelled, "ttrpc: call cancelled by the client"));
            return;
        }

        FrameBuilder? frame = null;
        try
        {
            var fields = new Envelope.RequestFields(method.ServiceName, method.Name, timeoutNano, options.Headers);
            frame = new FrameBuilder(fields.PrefixCapacity);
            method.RequestMarshaller.ContextualSerializer(request, frame);
            if (!frame.IsCompleted)
            {
                throw new InvalidOperationException($"the request marshaller of {method.FullName} did not complete its serialization context");
            }
            fields.Complete(frame);
        }
        catch (RpcException ex)
        {
            frame?.Dispose();
            call.Fail(ex.Status);
            return;
        }
        catch (Exception ex)
        {
            frame?.Dispose();
            call.Fail(new Status(StatusCode.Internal, $"ttrpc: error marshaling request of {method.FullName}: {ex.Message}"));
            return;
        }

        call.Watch(timeout, options.CancellationToken);
        _ = SendAsync(call, frame);
    }

    private async Task SendAsync(PendingCall call, FrameBuilder frame)
    {
        try
        {
            await _writer.WriteAsync(frame.Frame, static state => state.Channel.Register(state.Call, state.Frame), (Channel: this, Call: call, Frame: frame), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Close(new Status(StatusCode.Unavailable, $"ttrpc: sending on the connection failed: {ex.Message}"));
        }
        finally
        {
            frame.Dispose();
        }
    }

    /// <summary>Runs under the write lock: gives the call the next stream id and registers it, unless
    /// it already finished (cancelled, timed out) or the connection is closed.</summary>
    private bool Register(PendingCall call, FrameBuilder frame)
    {
        Status? closed;
        lock (_lock)
        {
            closed = _closedStatus;
            if (closed is null)
            {
                if (call.IsCompleted)
                {
                    return false;
                }
                uint streamId = _nextStreamId;
                _nextStreamId += 2;
                call.StreamId = streamId;
                _pending.Add(streamId, call);
                Envelope.SetStreamId(frame.ClaimedFrameSpan, streamId);
                return true;
            }
        }
        call.Fail(closed.Value);
        return false;
    }

    private async Task ReadLoopAsync()
    {
        var closeStatus = new Status(StatusCode.Unavailable, "ttrpc: connection closed by the server");
        try
        {
            while (true)
            {
                FrameReadResult frame = await _reader.ReadAsync(CancellationToken.None).ConfigureAwait(false);
                if (frame.Kind is FrameReadKind.EndOfStream or FrameReadKind.Truncated)
                {
                    break;
                }
                if (frame.Kind == FrameReadKind.Oversized)
                {
                    Take(frame.Header.StreamId)?.Fail(new Status(StatusCode.ResourceExhausted,
                        $"message length {frame.Header.Length} exceed maximum message size of {TtrpcLimits.MaxMessageLength}"));
                    continue;
                }
                try
                {
                    // Data frames (no streams here) and answers to calls that were already given up
                    // (cancelled, timed out) are dropped, as the Go client does.
                    if (frame.Header.Type == MessageType.Response && Take(frame.Header.StreamId) is PendingCall call)
                    {
                        call.OnResponse(frame.Payload);
                    }
                }
                finally
                {
                    frame.ReturnBuffer();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            closeStatus = new Status(StatusCode.Unavailable, $"ttrpc: connection lost: {ex.Message}");
        }
        finally
        {
            Close(closeStatus);
        }
    }

    private PendingCall? Take(uint streamId)
    {
        lock (_lock)
        {
            return _pending.Remove(streamId, out PendingCall? call) ? call : null;
        }
    }

    private void Close(Status status)
    {
        PendingCall[] pending;
        lock (_lock)
        {
            if (_closedStatus is not null)
            {
                return;
            }
            _closedStatus = status;
            pending = [.. _pending.Values];
            _pending.Clear();
        }
        _socket.Dispose();
        foreach (PendingCall call in pending)
        {
            call.Fail(status);
        }
        _completion.TrySetResult();
    }

    private static RpcException StreamingNotSupported(IMethod method) =>
        new(new Status(StatusCode.Unimplemented, $"ttrpc: {method.FullName} is a streaming method; this client makes unary calls only"));
}
