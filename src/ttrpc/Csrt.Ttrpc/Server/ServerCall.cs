using Request = Csrt.Ttrpc.Protocol.Request;
using Csrt.Ttrpc.Wire;
using Grpc.Core;

namespace Csrt.Ttrpc.Server;

/// <summary>
/// One request being served: the <see cref="ServerCallContext"/> the handler sees, and the thread
/// pool work item that runs it (one object per call). Running every call as its own work item is
/// what lets calls on one connection proceed concurrently and finish out of order: a handler that
/// blocks (a task <c>Wait</c>) holds one pool thread, never the connection's read loop.
/// </summary>
internal sealed class ServerCall : ServerCallContext, IThreadPoolWorkItem
{
    private static readonly AuthContext s_noAuth = new(null, new Dictionary<string, List<AuthProperty>>());

    private readonly ServerConnection _connection;
    private readonly ServerMethod _method;
    private readonly Request _request;
    private readonly CancellationTokenSource? _deadlineSource;
    private readonly CancellationToken _cancellationToken;
    private readonly DateTime _deadline;
    private Metadata? _requestHeaders;
    private Metadata? _responseTrailers;
    private Status _status;
    private WriteOptions? _writeOptions;

    internal ServerCall(ServerConnection connection, uint streamId, ServerMethod method, Request request)
    {
        _connection = connection;
        StreamId = streamId;
        _method = method;
        _request = request;

        CancellationToken connectionClosed = connection.ClosedToken;
        if (request.TimeoutNano == 0)
        {
            _deadline = DateTime.MaxValue;
            _cancellationToken = connectionClosed;
            return;
        }

        // Round up so a timeout below 100 ns is not a zero-length one.
        long ticks = request.TimeoutNano <= 0 ? 0 : (request.TimeoutNano / 100) + (request.TimeoutNano % 100 == 0 ? 0 : 1);
        DateTime now = DateTime.UtcNow;
        _deadline = ticks >= (DateTime.MaxValue - now).Ticks ? DateTime.MaxValue : now.AddTicks(ticks);
        _deadlineSource = CancellationTokenSource.CreateLinkedTokenSource(connectionClosed);
        TimeSpan timeout = TimeSpan.FromTicks(ticks);
        if (timeout == TimeSpan.Zero)
        {
            _deadlineSource.Cancel();
        }
        else if (timeout.TotalMilliseconds < uint.MaxValue - 1)
        {
            // Longer timeouts (over 49 days) cannot be timed by CancelAfter; they never fire in practice.
            _deadlineSource.CancelAfter(timeout);
        }
        _cancellationToken = _deadlineSource.Token;
    }

    /// <summary>The ttrpc stream id this call answers on.</summary>
    internal uint StreamId { get; }

    /// <summary>True when the call was cancelled because its deadline passed (not the connection).</summary>
    internal bool DeadlineExpired => _deadlineSource is not null && _deadlineSource.IsCancellationRequested
        && !_connection.ClosedToken.IsCancellationRequested;

    void IThreadPoolWorkItem.Execute() => _ = RunAsync();

    private async Task RunAsync()
    {
        FrameBuilder? response;
        try
        {
            response = await _method.InvokeAsync(_request.Payload.Memory, this).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            response = _connection.Server.ErrorResponse(StreamId, ex, this);
        }
        finally
        {
            _deadlineSource?.Dispose();
        }
        await _connection.SendAsync(response).ConfigureAwait(false);
        _connection.OnCallFinished();
    }

    /// <inheritdoc/>
    protected override string MethodCore => _method.FullName;

    /// <inheritdoc/>
    protected override string HostCore => "";

    /// <inheritdoc/>
    protected override string PeerCore => _connection.Peer;

    /// <inheritdoc/>
    protected override DateTime DeadlineCore => _deadline;

    /// <inheritdoc/>
    protected override Metadata RequestHeadersCore => _requestHeaders ??= MetadataConversion.FromRequest(_request.Metadata);

    /// <inheritdoc/>
    protected override CancellationToken CancellationTokenCore => _cancellationToken;

    /// <inheritdoc/>
    /// <remarks>ttrpc has no trailers; only a <c>grpc-status-details-bin</c> entry set on an
    /// <see cref="RpcException"/> travels, as the status details.</remarks>
    protected override Metadata ResponseTrailersCore => _responseTrailers ??= new Metadata();

    /// <inheritdoc/>
    protected override Status StatusCore
    {
        get => _status;
        set => _status = value;
    }

    /// <inheritdoc/>
    protected override WriteOptions? WriteOptionsCore
    {
        get => _writeOptions;
        set => _writeOptions = value;
    }

    /// <inheritdoc/>
    protected override AuthContext AuthContextCore => s_noAuth;

    /// <inheritdoc/>
    /// <remarks>ttrpc has no response headers: they are accepted and dropped, so handlers written for
    /// gRPC keep working.</remarks>
    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;

    /// <inheritdoc/>
    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("ttrpc has no context propagation; pass Deadline and CancellationToken in the CallOptions of the outgoing call");
}
