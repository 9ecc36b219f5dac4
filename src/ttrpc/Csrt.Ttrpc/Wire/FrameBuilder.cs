using System.Buffers;
using Grpc.Core;

namespace Csrt.Ttrpc.Wire;

/// <summary>
/// One outgoing frame, built in a single pooled buffer: the message marshaller writes the method's
/// request or response message (the "body") through <see cref="SerializationContext"/>, leaving
/// room in front for the frame header and the envelope fields, which <see cref="Envelope"/> fills
/// in once the body length is known. The whole frame is then one contiguous write, and the body is
/// never copied.
/// </summary>
internal sealed class FrameBuilder : SerializationContext, IBufferWriter<byte>, IDisposable
{
    private const int MinimumGrowth = 256;

    private readonly int _bodyStart;
    private byte[] _buffer = [];
    private int _bodyLength;
    private int _frameStart = -1;
    private bool _completed;

    /// <param name="prefixCapacity">Bytes reserved in front of the body for header and envelope.</param>
    internal FrameBuilder(int prefixCapacity)
    {
        _bodyStart = prefixCapacity;
    }

    /// <summary>True once the marshaller called one of the <c>Complete</c> methods.</summary>
    internal bool IsCompleted => _completed;

    internal int BodyLength => _bodyLength;

    internal ReadOnlySpan<byte> Body => _buffer.AsSpan(_bodyStart, _bodyLength);

    /// <summary>The finished frame (header, envelope, body); valid after <see cref="ClaimPrefix"/>.</summary>
    internal ReadOnlyMemory<byte> Frame => _buffer.AsMemory(FrameStart, _bodyStart - FrameStart + _bodyLength);

    /// <summary>The finished frame, writable (the client stamps the stream id in at send time).</summary>
    internal Span<byte> ClaimedFrameSpan => _buffer.AsSpan(FrameStart, _bodyStart - FrameStart + _bodyLength);

    private int FrameStart => _frameStart >= 0 ? _frameStart : throw new InvalidOperationException("the frame prefix has not been written");

    /// <summary>Returns the <paramref name="length"/> bytes right before the body, where the caller
    /// writes header and envelope fields; the frame then starts there.</summary>
    internal Span<byte> ClaimPrefix(int length)
    {
        if (length > _bodyStart)
        {
            throw new InvalidOperationException($"frame prefix of {length} bytes does not fit the {_bodyStart} bytes reserved");
        }
        EnsureCapacity(0);
        _frameStart = _bodyStart - length;
        return _buffer.AsSpan(_frameStart, length);
    }

    /// <inheritdoc/>
    public override void SetPayloadLength(int payloadLength)
    {
        if (payloadLength > TtrpcLimits.MaxMessageLength)
        {
            throw Envelope.OversizedMessage(payloadLength);
        }
        EnsureCapacity(payloadLength);
    }

    /// <inheritdoc/>
    public override IBufferWriter<byte> GetBufferWriter() => this;

    /// <inheritdoc/>
    public override void Complete() => _completed = true;

    /// <inheritdoc/>
    public override void Complete(byte[] payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        if (payload.Length > TtrpcLimits.MaxMessageLength)
        {
            throw Envelope.OversizedMessage(payload.Length);
        }
        payload.CopyTo(GetSpan(payload.Length));
        Advance(payload.Length);
        _completed = true;
    }

    /// <inheritdoc/>
    public void Advance(int count)
    {
        if (count < 0 || (count > 0 && _bodyStart + _bodyLength + count > _buffer.Length))
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, "advanced past the memory handed out");
        }
        _bodyLength += count;
    }

    /// <inheritdoc/>
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureCapacity(Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_bodyStart + _bodyLength);
    }

    /// <inheritdoc/>
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureCapacity(Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_bodyStart + _bodyLength);
    }

    private void EnsureCapacity(int additional)
    {
        int needed = _bodyStart + _bodyLength + additional;
        if (needed <= _buffer.Length && _buffer.Length != 0)
        {
            return;
        }
        int size = Math.Max(needed, _buffer.Length == 0 ? _bodyStart + MinimumGrowth : _buffer.Length * 2);
        byte[] grown = BufferPool.Rent(size);
        if (_bodyLength != 0)
        {
            _buffer.AsSpan(_bodyStart, _bodyLength).CopyTo(grown.AsSpan(_bodyStart));
        }
        byte[] old = _buffer;
        _buffer = grown;
        BufferPool.Return(old);
    }

    /// <summary>Gives the buffer back to the pool; the frame must not be used afterwards.</summary>
    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        _bodyLength = 0;
        _frameStart = -1;
        BufferPool.Return(buffer);
    }
}
