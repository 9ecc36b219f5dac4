namespace Csrt.Ttrpc.Wire;

/// <summary>What <see cref="FrameReader.ReadAsync"/> found.</summary>
internal enum FrameReadKind
{
    /// <summary>A whole frame within the size limit; its data is in <see cref="FrameReadResult.Data"/>.</summary>
    Frame,
    /// <summary>A frame whose length exceeded the limit; its data was read and discarded.</summary>
    Oversized,
    /// <summary>The peer closed the stream at a frame boundary.</summary>
    EndOfStream,
    /// <summary>The peer closed the stream in the middle of a frame.</summary>
    Truncated,
}

/// <summary>One read from a <see cref="FrameReader"/>. When <see cref="Kind"/> is
/// <see cref="FrameReadKind.Frame"/>, <see cref="Data"/> is a pooled buffer whose first
/// <c>Header.Length</c> bytes are the frame data; give it back with <see cref="ReturnBuffer"/>.</summary>
internal readonly struct FrameReadResult
{
    internal FrameReadResult(FrameReadKind kind, FrameHeader header, byte[] data)
    {
        Kind = kind;
        Header = header;
        Data = data;
    }

    internal FrameReadKind Kind { get; }
    internal FrameHeader Header { get; }
    internal byte[] Data { get; }
    internal ReadOnlySpan<byte> Payload => Data.AsSpan(0, (int)Header.Length);

    internal void ReturnBuffer() => BufferPool.Return(Data);
}

/// <summary>
/// Reads ttrpc frames from a byte stream. Holds only the 10-byte header buffer between frames
/// (an idle connection costs no data buffer); the data of each frame goes into a buffer rented
/// for exactly that frame. A frame over the limit is never buffered: exactly <c>length</c> bytes
/// are read through a small scratch buffer and dropped, so the stream stays in sync and the
/// caller can answer RESOURCE_EXHAUSTED and go on (containerd/ttrpc channel.go behaves the same).
/// </summary>
internal sealed class FrameReader
{
    private const int DiscardChunkLength = 16 * 1024;

    private readonly Stream _stream;
    private readonly int _maxLength;
    private readonly byte[] _header = new byte[TtrpcLimits.HeaderLength];

    internal FrameReader(Stream stream, int maxLength = TtrpcLimits.MaxMessageLength)
    {
        _stream = stream;
        _maxLength = maxLength;
    }

    /// <summary>Reads the next frame. I/O errors of the stream propagate to the caller.</summary>
    internal async ValueTask<FrameReadResult> ReadAsync(CancellationToken cancellationToken)
    {
        int headerRead = await ReadFullyAsync(_header, cancellationToken).ConfigureAwait(false);
        if (headerRead == 0)
        {
            return new FrameReadResult(FrameReadKind.EndOfStream, default, []);
        }
        if (headerRead < _header.Length)
        {
            return new FrameReadResult(FrameReadKind.Truncated, default, []);
        }

        FrameHeader header = FrameHeader.Read(_header);
        if (header.Length > (uint)_maxLength)
        {
            bool complete = await DiscardAsync(header.Length, cancellationToken).ConfigureAwait(false);
            return new FrameReadResult(complete ? FrameReadKind.Oversized : FrameReadKind.Truncated, header, []);
        }

        int length = (int)header.Length;
        byte[] data = BufferPool.Rent(length);
        int dataRead;
        try
        {
            dataRead = await ReadFullyAsync(data.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            BufferPool.Return(data);
            throw;
        }
        if (dataRead < length)
        {
            BufferPool.Return(data);
            return new FrameReadResult(FrameReadKind.Truncated, header, []);
        }
        return new FrameReadResult(FrameReadKind.Frame, header, data);
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the count read.</summary>
    private async ValueTask<int> ReadFullyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int read = await _stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            total += read;
        }
        return total;
    }

    /// <summary>Reads and drops <paramref name="length"/> bytes; false when the stream ended first.</summary>
    private async ValueTask<bool> DiscardAsync(uint length, CancellationToken cancellationToken)
    {
        byte[] scratch = BufferPool.Rent((int)Math.Min(length, DiscardChunkLength));
        try
        {
            ulong remaining = length;
            while (remaining > 0)
            {
                int chunk = (int)Math.Min(remaining, (ulong)scratch.Length);
                int read = await _stream.ReadAsync(scratch.AsMemory(0, chunk), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return false;
                }
                remaining -= (ulong)read;
            }
            return true;
        }
        finally
        {
            BufferPool.Return(scratch);
        }
    }
}
