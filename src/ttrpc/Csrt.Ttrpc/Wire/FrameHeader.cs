using System.Buffers.Binary;

namespace Csrt.Ttrpc.Wire;

/// <summary>The type byte of a ttrpc frame (containerd/ttrpc channel.go).</summary>
public enum MessageType : byte
{
    /// <summary>Client → server: starts a stream; the data is a <c>ttrpc.Request</c>.</summary>
    Request = 0x01,
    /// <summary>Server → client: ends a stream; the data is a <c>ttrpc.Response</c>.</summary>
    Response = 0x02,
    /// <summary>Either way, ttrpc v1.2+: a payload of a streaming call.</summary>
    Data = 0x03,
}

/// <summary>The flags byte of a ttrpc frame (ttrpc v1.2+; unary calls send 0).</summary>
[Flags]
public enum FrameFlags : byte
{
    /// <summary>No flag: a unary Request, or any Response.</summary>
    None = 0,
    /// <summary>The sender will send no more Data on this stream.</summary>
    RemoteClosed = 0x01,
    /// <summary>On a Request: the client will send Data frames after it.</summary>
    RemoteOpen = 0x02,
    /// <summary>On a Data frame: the frame carries no payload.</summary>
    NoData = 0x04,
}

/// <summary>Protocol limits shared by every peer.</summary>
public static class TtrpcLimits
{
    /// <summary>Size of the frame header in bytes.</summary>
    public const int HeaderLength = 10;

    /// <summary>Largest data length a frame may carry: 4 MiB, as in containerd/ttrpc (<c>4 &lt;&lt; 20</c>).</summary>
    public const int MaxMessageLength = 4 << 20;
}

/// <summary>
/// The 10-byte ttrpc frame header: data length (uint32), stream id (uint32), type (uint8),
/// flags (uint8), integers big-endian. The data follows immediately.
/// </summary>
public readonly record struct FrameHeader(uint Length, uint StreamId, MessageType Type, FrameFlags Flags)
{
    /// <summary>Writes the header into the first 10 bytes of <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        if (destination.Length < TtrpcLimits.HeaderLength)
        {
            throw new ArgumentException($"a ttrpc frame header needs {TtrpcLimits.HeaderLength} bytes, the destination has {destination.Length}", nameof(destination));
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination, Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], StreamId);
        destination[8] = (byte)Type;
        destination[9] = (byte)Flags;
    }

    /// <summary>Reads a header from the first 10 bytes of <paramref name="source"/>. Any 10 bytes are a
    /// structurally valid header; the caller checks the length limit and the stream id rules.</summary>
    public static FrameHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < TtrpcLimits.HeaderLength)
        {
            throw new ArgumentException($"a ttrpc frame header is {TtrpcLimits.HeaderLength} bytes, got {source.Length}", nameof(source));
        }
        return new FrameHeader(
            BinaryPrimitives.ReadUInt32BigEndian(source),
            BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            (MessageType)source[8],
            (FrameFlags)source[9]);
    }

    /// <summary>True when the stream id may start a client-initiated stream (odd ids only).</summary>
    public bool IsClientStreamId => (StreamId & 1) == 1;
}
