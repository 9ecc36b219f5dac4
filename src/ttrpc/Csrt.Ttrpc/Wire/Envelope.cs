using System.Text;
using Google.Protobuf;
using Grpc.Core;
using ProtocolStatus = Csrt.Ttrpc.Protocol.Status;

namespace Csrt.Ttrpc.Wire;

/// <summary>
/// Writes the <c>ttrpc.Request</c> and <c>ttrpc.Response</c> envelopes (proto/ttrpc/request.proto)
/// around a body that is already in a <see cref="FrameBuilder"/>. The envelope fields are encoded
/// by hand so the body (the method's message) never has to be copied into a <c>bytes</c> field.
/// The payload field is written last; protobuf parsers accept fields in any order. Reading uses the
/// generated <c>Request</c>/<c>Response</c> parsers.
/// </summary>
internal static class Envelope
{
    // Tags: field number << 3 | wire type (0 = varint, 2 = length-delimited).
    private const byte RequestServiceTag = (1 << 3) | 2;
    private const byte RequestMethodTag = (2 << 3) | 2;
    private const byte RequestPayloadTag = (3 << 3) | 2;
    private const byte RequestTimeoutNanoTag = (4 << 3) | 0;
    private const byte RequestMetadataTag = (5 << 3) | 2;
    private const byte KeyValueKeyTag = (1 << 3) | 2;
    private const byte KeyValueValueTag = (2 << 3) | 2;
    private const byte ResponseStatusTag = (1 << 3) | 2;
    private const byte ResponsePayloadTag = (2 << 3) | 2;

    private const int MaxLengthVarint = 5;

    /// <summary>
    /// An explicit <c>status</c> of code OK (an empty message: tag, length 0). The Go server of today
    /// leaves the status out on success, which current clients accept; older ttrpc clients (the one
    /// vendored in earlier containerd releases) fail with "no status provided on response" without
    /// it, and every client version accepts code 0.
    /// </summary>
    private static ReadOnlySpan<byte> OkStatusField => [ResponseStatusTag, 0];

    /// <summary>Header + OK status + tag + longest length varint: room a Response needs before its body.</summary>
    internal const int ResponsePrefixCapacity = TtrpcLimits.HeaderLength + 2 + 1 + MaxLengthVarint;

    private static readonly UTF8Encoding s_utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    internal static RpcException OversizedMessage(long length) =>
        new(new Grpc.Core.Status(StatusCode.ResourceExhausted,
            $"message length {length} exceed maximum message size of {TtrpcLimits.MaxMessageLength}"));

    /// <summary>A builder for a Response whose body will be the method's response message.</summary>
    internal static FrameBuilder NewResponse() => new(ResponsePrefixCapacity);

    /// <summary>Wraps the body as <c>Response.payload</c> after an OK status and writes the header.</summary>
    internal static void CompleteResponse(FrameBuilder frame, uint streamId) =>
        CompleteSingleField(frame, ResponsePayloadTag, streamId, MessageType.Response, OkStatusField);

    /// <summary>A complete Response frame carrying only <paramref name="status"/>.</summary>
    internal static FrameBuilder ErrorResponse(uint streamId, ProtocolStatus status)
    {
        var frame = new FrameBuilder(ResponsePrefixCapacity);
        try
        {
            frame.SetPayloadLength(status.CalculateSize());
            status.WriteTo(frame);
            CompleteSingleField(frame, ResponseStatusTag, streamId, MessageType.Response, []);
            return frame;
        }
        catch
        {
            frame.Dispose();
            throw;
        }
    }

    /// <summary>The wire status for a Grpc.Core status, with details when there are any.</summary>
    internal static ProtocolStatus ToProtocolStatus(Grpc.Core.Status status, IEnumerable<Google.Protobuf.WellKnownTypes.Any>? details = null)
    {
        var wire = new ProtocolStatus { Code = (int)status.StatusCode, Message = status.Detail ?? "" };
        if (details is not null)
        {
            wire.Details.AddRange(details);
        }
        return wire;
    }

    private static void CompleteSingleField(FrameBuilder frame, byte tag, uint streamId, MessageType type, ReadOnlySpan<byte> leadingFields)
    {
        int body = frame.BodyLength;
        // An empty bytes/message field is left out, as the Go encoder does.
        int fieldPrefix = body == 0 ? 0 : 1 + VarintLength((uint)body);
        long dataLength = (long)leadingFields.Length + fieldPrefix + body;
        if (dataLength > TtrpcLimits.MaxMessageLength)
        {
            throw OversizedMessage(dataLength);
        }
        Span<byte> prefix = frame.ClaimPrefix(TtrpcLimits.HeaderLength + leadingFields.Length + fieldPrefix);
        new FrameHeader((uint)dataLength, streamId, type, FrameFlags.None).WriteTo(prefix);
        Span<byte> rest = prefix[TtrpcLimits.HeaderLength..];
        leadingFields.CopyTo(rest);
        rest = rest[leadingFields.Length..];
        if (fieldPrefix != 0)
        {
            rest[0] = tag;
            WriteVarint(rest[1..], (uint)body);
        }
    }

    /// <summary>The fields of a Request other than its payload, measured once so the prefix can be
    /// reserved before the body is serialized.</summary>
    internal readonly struct RequestFields
    {
        private readonly string _service;
        private readonly string _method;
        private readonly long _timeoutNano;
        private readonly Metadata? _metadata;

        internal RequestFields(string service, string method, long timeoutNano, Metadata? metadata)
        {
            _service = service;
            _method = method;
            _timeoutNano = timeoutNano;
            _metadata = metadata;
            Length = StringFieldLength(service) + StringFieldLength(method)
                + (timeoutNano == 0 ? 0 : 1 + VarintLength((ulong)timeoutNano));
            if (metadata is not null)
            {
                foreach (Metadata.Entry entry in metadata)
                {
                    int entryLength = KeyValueLength(entry);
                    Length += 1 + VarintLength((uint)entryLength) + entryLength;
                }
            }
        }

        /// <summary>Encoded length of these fields.</summary>
        internal int Length { get; }

        /// <summary>Room a Request needs before its body.</summary>
        internal int PrefixCapacity => TtrpcLimits.HeaderLength + Length + 1 + MaxLengthVarint;

        /// <summary>Writes header and fields in front of the body, which becomes <c>Request.payload</c>.
        /// The stream id is written later with <see cref="SetStreamId"/>, under the send lock.</summary>
        internal void Complete(FrameBuilder frame)
        {
            int body = frame.BodyLength;
            int payloadPrefix = body == 0 ? 0 : 1 + VarintLength((uint)body);
            long dataLength = (long)Length + payloadPrefix + body;
            if (dataLength > TtrpcLimits.MaxMessageLength)
            {
                throw OversizedMessage(dataLength);
            }
            Span<byte> prefix = frame.ClaimPrefix(TtrpcLimits.HeaderLength + Length + payloadPrefix);
            new FrameHeader((uint)dataLength, 0, MessageType.Request, FrameFlags.None).WriteTo(prefix);
            Span<byte> rest = prefix[TtrpcLimits.HeaderLength..];
            rest = WriteStringField(rest, RequestServiceTag, _service);
            rest = WriteStringField(rest, RequestMethodTag, _method);
            if (_timeoutNano != 0)
            {
                rest[0] = RequestTimeoutNanoTag;
                rest = rest[(1 + WriteVarint(rest[1..], (ulong)_timeoutNano))..];
            }
            if (_metadata is not null)
            {
                foreach (Metadata.Entry entry in _metadata)
                {
                    rest[0] = RequestMetadataTag;
                    int entryLength = KeyValueLength(entry);
                    rest = rest[(1 + WriteVarint(rest[1..], (uint)entryLength))..];
                    rest = WriteStringField(rest, KeyValueKeyTag, entry.Key);
                    rest = WriteStringField(rest, KeyValueValueTag, MetadataValue(entry));
                }
            }
            if (payloadPrefix != 0)
            {
                rest[0] = RequestPayloadTag;
                rest = rest[(1 + WriteVarint(rest[1..], (uint)body))..];
            }
            if (!rest.IsEmpty)
            {
                throw new InvalidOperationException($"request envelope encoding left {rest.Length} bytes unwritten");
            }
        }

        private static int KeyValueLength(Metadata.Entry entry) =>
            StringFieldLength(entry.Key) + StringFieldLength(MetadataValue(entry));
    }

    /// <summary>Stamps the stream id into a finished frame (bytes 4..7 of the header).</summary>
    internal static void SetStreamId(Span<byte> frame, uint streamId) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame[4..], streamId);

    /// <summary>ttrpc metadata values are strings; binary ("-bin") entries travel base64-encoded,
    /// as gRPC sends them on HTTP/2.</summary>
    internal static string MetadataValue(Metadata.Entry entry) =>
        entry.IsBinary ? Convert.ToBase64String(entry.ValueBytes) : entry.Value;

    private static int StringFieldLength(string value)
    {
        if (value.Length == 0)
        {
            return 0;
        }
        int bytes = s_utf8.GetByteCount(value);
        return 1 + VarintLength((uint)bytes) + bytes;
    }

    private static Span<byte> WriteStringField(Span<byte> destination, byte tag, string value)
    {
        if (value.Length == 0)
        {
            return destination;
        }
        int bytes = s_utf8.GetByteCount(value);
        destination[0] = tag;
        int offset = 1 + WriteVarint(destination[1..], (uint)bytes);
        s_utf8.GetBytes(value, destination[offset..]);
        return destination[(offset + bytes)..];
    }

    internal static int VarintLength(ulong value)
    {
        int length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }
        return length;
    }

    internal static int WriteVarint(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }
}
