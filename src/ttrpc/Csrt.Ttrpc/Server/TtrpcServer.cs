using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using Csrt.Ttrpc.Transport;
using Csrt.Ttrpc.Wire;
using Grpc.Core;

namespace Csrt.Ttrpc.Server;

/// <summary>
/// A ttrpc server. It is a <see cref="ServiceBinderBase"/>: bind generated services with
/// <c>MyService.BindService(server, implementation)</c>, then serve on one or more listening Unix
/// sockets. Each connection is read by an async loop; each request runs as its own thread-pool
/// work item with a <see cref="ServerCallContext"/> carrying the request's deadline
/// (<c>timeout_nano</c>), metadata and a cancellation token that also fires when the connection
/// closes. Unary methods only; streaming methods are answered UNIMPLEMENTED.
/// </summary>
public sealed class TtrpcServer : ServiceBinderBase, IAsyncDisposable
{
    private readonly Dictionary<string, Dictionary<string, ServerMethod>> _services = new(StringComparer.Ordinal);
    private readonly TtrpcServerOptions _options;
    private readonly object _lock = new();
    private readonly HashSet<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly HashSet<ServerConnection> _connections = [];
    private readonly (uint UserId, uint GroupId) _ownIds;
    private bool _serving;
    private bool _shuttingDown;

    /// <summary>Creates a server with no services bound yet.</summary>
    public TtrpcServer(TtrpcServerOptions? options = null)
    {
        _options = options ?? new TtrpcServerOptions();
        if (_options.RequireSameUser)
        {
            _ownIds = PeerCredentials.CurrentEffectiveIds();
        }
    }

    /// <summary>Binds a unary method (called by generated <c>BindService</c> code).</summary>
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
    {
        ArgumentNullException.ThrowIfNull(method);
        if (handler is not null)
        {
            Register(method.ServiceName, method.Name, new UnaryMethod<TRequest, TResponse>(method, handler));
        }
    }

    /// <summary>Registers a client-streaming method so callers get UNIMPLEMENTED with the reason.</summary>
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
        RegisterStreaming(method, handler is not null);

    /// <summary>Registers a server-streaming method so callers get UNIMPLEMENTED with the reason.</summary>
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
        RegisterStreaming(method, handler is not null);

    /// <summary>Registers a duplex-streaming method so callers get UNIMPLEMENTED with the reason.</summary>
    public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
        RegisterStreaming(method, handler is not null);

    /// <summary>
    /// Serves the methods already bound for <paramref name="service"/> under a second service name
    /// as well, e.g. <c>containerd.task.v3.Task</c> for the v2 task service (same messages).
    /// </summary>
    public void AddServiceAlias(string alias, string service)
    {
        ArgumentException.ThrowIfNullOrEmpty(alias);
        ArgumentException.ThrowIfNullOrEmpty(service);
        lock (_lock)
        {
            ThrowIfServing();
            if (!_services.TryGetValue(service, out Dictionary<string, ServerMethod>? methods))
            {
                throw new InvalidOperationException($"cannot alias '{alias}' to service '{service}': no method of '{service}' is bound");
            }
            if (!_services.TryAdd(alias, methods))
            {
                throw new InvalidOperationException($"cannot alias '{alias}' to service '{service}': '{alias}' is already bound");
            }
        }
    }

    /// <summary>
    /// Accepts connections on an already listening socket until shutdown; the server owns the
    /// socket from now on and closes it at shutdown. This is how a shim daemon serves the socket
    /// its <c>start</c> command bound and passed as fd 3:
    /// <c>new Socket(new SafeSocketHandle(3, ownsHandle: true))</c>.
    /// </summary>
    /// <returns>A task that completes when the listener is closed by shutdown, or faults on a
    /// non-transient accept error.</returns>
    public Task ServeAsync(Socket listener) => StartAcceptLoop(listener, unlinkPath: null);

    /// <summary>
    /// Binds a stream socket to <paramref name="endpoint"/>, listens, and serves it like
    /// <see cref="ServeAsync(Socket)"/>. A filesystem socket file created here is removed at shutdown.
    /// </summary>
    public Task ListenAndServeAsync(System.Net.Sockets.UnixDomainSocketEndPoint endpoint)
    {
        Socket listener = UnixSocketAddress.Listen(endpoint);
        string? path = UnixSocketAddress.IsAbstract(endpoint) ? null : UnixSocketAddress.Describe(endpoint);
        return StartAcceptLoop(listener, path);
    }

    /// <summary>
    /// Graceful shutdown: stops accepting, closes idle connections, and lets every request in flight
    /// finish and send its answer before closing its connection. If
    /// <paramref name="cancellationToken"/> fires first, the remaining connections are closed at once
    /// (their handlers see cancellation) and the method returns.
    /// </summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        Socket[] listeners;
        ServerConnection[] connections;
        Task[] acceptLoops;
        lock (_lock)
        {
            _shuttingDown = true;
            listeners = [.. _listeners];
            connections = [.. _connections];
            acceptLoops = [.. _acceptLoops];
        }
        foreach (Socket listener in listeners)
        {
            listener.Dispose();
        }
        foreach (ServerConnection connection in connections)
        {
            connection.CloseWhenIdle();
        }

        Task drained = Task.WhenAll(connections.Select(c => c.Completion));
        try
        {
            await drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            foreach (ServerConnection connection in connections)
            {
                connection.Abort();
            }
            await drained.ConfigureAwait(false);
        }
        // Accept loops end once their listener is closed; waiting makes socket files gone on return.
        await Task.WhenAll(acceptLoops.Select(t => t.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default))).ConfigureAwait(false);
    }

    /// <summary>Closes listeners and connections at once, cancelling running handlers.</summary>
    public ValueTask DisposeAsync() => new(ShutdownAsync(new CancellationToken(canceled: true)));

    internal bool TryFindService(string service, [NotNullWhen(true)] out Dictionary<string, ServerMethod>? methods) =>
        _services.TryGetValue(service, out methods);

    internal void Log(string message, Exception? exception) => _options.ErrorLog?.Invoke(message, exception);

    /// <summary>The Response frame for a failed call; the exception→status mapping lives in
    /// <see cref="StatusMapping"/>.</summary>
    internal FrameBuilder ErrorResponse(uint streamId, Exception exception, ServerCall call)
    {
        Protocol.Status status = StatusMapping.ToWireStatus(exception, call, _options.ExceptionMapper);
        try
        {
            return Envelope.ErrorResponse(streamId, status);
        }
        catch (RpcException tooLarge)
        {
            // The status itself exceeds the frame limit (a megabytes-long message): say so instead.
            return Envelope.ErrorResponse(streamId, Envelope.ToProtocolStatus(new Status((StatusCode)status.Code,
                $"error message of {status.Message.Length} characters dropped: {tooLarge.Status.Detail}")));
        }
    }

    internal void RemoveConnection(ServerConnection connection)
    {
        lock (_lock)
        {
            _connections.Remove(connection);
        }
    }

    private void Register(string service, string method, ServerMethod handler)
    {
        lock (_lock)
        {
            ThrowIfServing();
            if (!_services.TryGetValue(service, out Dictionary<string, ServerMethod>? methods))
            {
                methods = new Dictionary<string, ServerMethod>(StringComparer.Ordinal);
                _services.Add(service, methods);
            }
            if (!methods.TryAdd(method, handler))
            {
                throw new InvalidOperationException($"method {handler.FullName} is bound twice");
            }
        }
    }

    private void RegisterStreaming<TRequest, TResponse>(Method<TRequest, TResponse> method, bool hasHandler)
        where TRequest : class
        where TResponse : class
    {
        ArgumentNullException.ThrowIfNull(method);
        if (hasHandler)
        {
            Register(method.ServiceName, method.Name, new StreamingMethod(method.FullName));
        }
    }

    private void ThrowIfServing()
    {
        if (_serving)
        {
            // The method table is read without locks while serving, so it is frozen then.
            throw new InvalidOperationException("services must be bound before the server starts serving");
        }
    }

    private Task StartAcceptLoop(Socket listener, string? unlinkPath)
    {
        ArgumentNullException.ThrowIfNull(listener);
        lock (_lock)
        {
            if (_shuttingDown)
            {
                listener.Dispose();
                throw new InvalidOperationException("the ttrpc server is shut down");
            }
            _serving = true;
            _listeners.Add(listener);
            Task loop = AcceptLoopAsync(listener, unlinkPath);
            _acceptLoops.Add(loop);
            return loop;
        }
    }

    private async Task AcceptLoopAsync(Socket listener, string? unlinkPath)
    {
        // Leave the caller's context before the first accept.
        await Task.Yield();
        string description = listener.LocalEndPoint is UnixDomainSocketEndPoint unix ? UnixSocketAddress.Describe(unix) : "socket";
        TimeSpan backoff = TimeSpan.Zero;
        try
        {
            while (true)
            {
                Socket client;
                try
                {
                    client = await listener.AcceptAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (IsShuttingDown() && ex is ObjectDisposedException or SocketException)
                {
                    return;
                }
                catch (SocketException ex) when (IsTransient(ex.SocketErrorCode))
                {
                    // Out of descriptors or memory, or an aborted handshake: wait and go on, as Go does.
                    backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(1) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.TicksPerSecond));
                    Log($"ttrpc: accept on {description} failed; retrying in {backoff.TotalMilliseconds} ms", ex);
                    await Task.Delay(backoff).ConfigureAwait(false);
                    continue;
                }
                backoff = TimeSpan.Zero;
                StartConnection(client, description);
            }
        }
        finally
        {
            lock (_lock)
            {
                _listeners.Remove(listener);
            }
            listener.Dispose();
            if (unlinkPath is not null)
            {
                try
                {
                    File.Delete(unlinkPath);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    Log($"ttrpc: removing socket file {unlinkPath} failed", ex);
                }
            }
        }
    }

    private void StartConnection(Socket client, string listenerDescription)
    {
        if (_options.RequireSameUser)
        {
            try
            {
                PeerCredentials peer = PeerCredentials.Read(client);
                if (!peer.IsSameUserAs(_ownIds.UserId, _ownIds.GroupId))
                {
                    Log($"ttrpc: refusing connection on {listenerDescription} from pid {peer.ProcessId} uid {peer.UserId} gid {peer.GroupId}: expected uid {_ownIds.UserId} gid {_ownIds.GroupId}", null);
                    client.Dispose();
                    return;
                }
            }
            catch (Exception ex) when (ex is SocketException or InvalidOperationException or ObjectDisposedException)
            {
                Log($"ttrpc: refusing connection on {listenerDescription}: reading its peer credentials failed", ex);
                client.Dispose();
                return;
            }
        }

        var connection = new ServerConnection(this, client, "unix:" + listenerDescription);
        lock (_lock)
        {
            if (_shuttingDown)
            {
                client.Dispose();
                return;
            }
            _connections.Add(connection);
        }
        // Not inline: frames already queued on the socket would otherwise be read on this loop.
        ThreadPool.UnsafeQueueUserWorkItem(static c => _ = c.RunAsync(), connection, preferLocal: false);
    }

    private bool IsShuttingDown()
    {
        lock (_lock)
        {
            return _shuttingDown;
        }
    }

    private static bool IsTransient(SocketError error) => error is SocketError.TooManyOpenSockets
        or SocketError.NoBufferSpaceAvailable or SocketError.ConnectionAborted or SocketError.Interrupted
        or SocketError.TryAgain or SocketError.WouldBlock;
}
