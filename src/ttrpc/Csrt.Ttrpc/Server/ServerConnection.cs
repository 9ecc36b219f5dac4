using System.Net.Sockets;
using Request = Csrt.Ttrpc.Protocol.Request;
using Csrt.Ttrpc.Wire;
using Grpc.Core;

namespace Csrt.Ttrpc.Server;

/// <summary>
/// One accepted connection: an async read loop (no dedicated thread, only a 10-byte header buffer
/// while idle) that checks each frame, answers protocol errors itself and hands requests to the
/// thread pool; responses are written whole, in completion order.
/// </summary>
internal sealed class ServerConnection
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly FrameReader _reader;
    private readonly FrameWriter _writer;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private uint _lastStreamId;
    private int _activeCalls;
    private int _closeWhenIdle;
    private int _aborted;

    internal ServerConnection(TtrpcServer server, Socket socket, string peer)
    {
        Server = server;
        _socket = socket;
        Peer = peer;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new FrameReader(_stream);
        _writer = new FrameWriter(_stream);
    }

    internal TtrpcServer Server { get; }

    internal string Peer { get; }

    /// <summary>Cancelled when the connection ends; every handler's token is linked to it.</summary>
    internal CancellationToken ClosedToken => _closed.Token;

    /// <summary>Completes when the read loop has ended and the socket is closed.</summary>
    internal Task Completion => _completion.Task;

    /// <summary>Runs the read loop until the peer closes or the connection is aborted.</summary>
    internal async Task RunAsync()
    {
        try
        {
            while (true)
            {
                FrameReadResult frame;
                try
                {
                    frame = await _reader.ReadAsync(CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (IsConnectionError(ex))
                {
                    break;
                }

                if (frame.Kind is FrameReadKind.EndOfStream or FrameReadKind.Truncated)
                {
                    break;
                }

                Status? error;
                if (frame.Kind == FrameReadKind.Oversized)
                {
                    error = new Status(StatusCode.ResourceExhausted,
                        $"message length {frame.Header.Length} exceed maximum message size of {TtrpcLimits.MaxMessageLength}");
                }
                else
                {
                    try
                    {
                        error = Accept(frame.Header, frame.Payload);
                    }
                    finally
                    {
                        frame.ReturnBuffer();
                    }
                }

                if (error is Status status && !await SendAsync(Envelope.ErrorResponse(frame.Header.StreamId, Envelope.ToProtocolStatus(status))).ConfigureAwait(false))
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            Server.Log($"ttrpc: connection from {Peer} failed unexpectedly; closing it", ex);
        }
        finally
        {
            Abort();
            _completion.TrySetResult();
            Server.RemoveConnection(this);
        }
    }

    /// <summary>
    /// Applies the stream rules to one frame and starts the call it carries. Returns the status to
    /// answer on the frame's stream id when the frame is refused (the Go server's messages), or null.
    /// </summary>
    private Status? Accept(FrameHeader header, ReadOnlySpan<byte> data)
    {
        if (!header.IsClientStreamId)
        {
            return new Status(StatusCode.InvalidArgument, "StreamID must be odd for client initiated streams");
        }
        if (header.Type == MessageType.Data)
        {
            // Only unary calls are served, so no stream is ever open for Data.
            return new Status(StatusCode.InvalidArgument, "StreamID is no longer active");
        }
        if (header.Type != MessageType.Request)
        {
            // Other types are ignored, as ttrpc v1.1.1 does "for future compat".
            return null;
        }
        if (header.StreamId <= _lastStreamId)
        {
            return new Status(StatusCode.InvalidArgument, "StreamID cannot be re-used and must increment");
        }
        _lastStreamId = header.StreamId;

        Request request;
        try
        {
            request = Request.Parser.ParseFrom(data);
        }
        catch (Exception ex)
        {
            // Any failure to parse untrusted bytes is the peer's error, answered on its stream.
            return new Status(StatusCode.InvalidArgument, $"unmarshal request error: {ex.Message}");
        }

        if (!Server.TryFindService(request.Service, out Dictionary<string, ServerMethod>? methods))
        {
            return new Status(StatusCode.Unimplemented, $"service {request.Service}");
        }
        if (!methods.TryGetValue(request.Method, out ServerMethod? method))
        {
            return new Status(StatusCode.Unimplemented, $"method {request.Method}");
        }

        var call = new ServerCall(this, header.StreamId, method, request);
        Interlocked.Increment(ref _activeCalls);
        ThreadPool.UnsafeQueueUserWorkItem(call, preferLocal: false);
        return null;
    }

    /// <summary>Sends a finished frame and disposes it; false (and the connection aborted) when the
    /// socket is gone.</summary>
    internal async ValueTask<bool> SendAsync(FrameBuilder frame)
    {
        try
        {
            await _writer.WriteAsync(frame.Frame, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (IsConnectionError(ex))
        {
            Abort();
            return false;
        }
        finally
        {
            frame.Dispose();
        }
    }

    /// <summary>Called once per finished call; closes the connection if it was asked to close when idle.</summary>
    internal void OnCallFinished()
    {
        if (Interlocked.Decrement(ref _activeCalls) == 0 && Volatile.Read(ref _closeWhenIdle) != 0)
        {
            Abort();
        }
    }

    /// <summary>Graceful shutdown: close now if no call is running, else after the last one answers.</summary>
    internal void CloseWhenIdle()
    {
        Volatile.Write(ref _closeWhenIdle, 1);
        if (Volatile.Read(ref _activeCalls) == 0)
        {
            Abort();
        }
    }

    /// <summary>Closes the socket and cancels the handlers still running. Idempotent.</summary>
    internal void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }
        // Socket first: handlers that finish because of the cancellation must find it closed
        // rather than send answers on a connection that is being torn down.
        _socket.Dispose();
        try
        {
            _closed.Cancel();
        }
        catch (AggregateException ex)
        {
            Server.Log($"ttrpc: a cancellation callback of a handler on the connection from {Peer} threw", ex);
        }
    }

    private static bool IsConnectionError(Exception ex) =>
        ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException;
}
