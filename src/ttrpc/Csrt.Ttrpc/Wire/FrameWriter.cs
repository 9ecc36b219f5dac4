namespace Csrt.Ttrpc.Wire;

/// <summary>
/// Writes whole frames to a byte stream, one at a time: concurrent writers wait for each other, so
/// frames never interleave (each frame is one contiguous buffer, usually one send). The semaphore
/// is never disposed: it holds no OS handle unless asked for one, and waiters may still be queued
/// when a connection dies.
/// </summary>
internal sealed class FrameWriter
{
    private readonly Stream _stream;
    private readonly SemaphoreSlim _lock = new(1, 1);

    internal FrameWriter(Stream stream)
    {
        _stream = stream;
    }

    /// <summary>Writes one complete frame.</summary>
    internal async ValueTask WriteAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Writes one frame if <paramref name="beforeWrite"/>, run under the write lock, returns true.
    /// The client uses it to pick the stream id and register the call in the same critical section
    /// as the send, so ids go on the wire in increasing order (ttrpc v1.2 servers reject anything
    /// else, and the Go client holds its send lock the same way). Returns whether it wrote.
    /// </summary>
    internal async ValueTask<bool> WriteAsync<TState>(ReadOnlyMemory<byte> frame, Func<TState, bool> beforeWrite, TState state, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!beforeWrite(state))
            {
                return false;
            }
            await _stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            return true;
        }
        finally
        {
            _lock.Release();
        }
    }
}
