using Csrt.Ttrpc.Protocol;
using Csrt.Ttrpc.Tests.Protos;
using Csrt.Ttrpc.Wire;
using Google.Protobuf;
using Grpc.Core;

namespace Csrt.Ttrpc.Tests;

public class EnvelopeTests
{
    private static (FrameHeader Header, byte[] Data) Split(ReadOnlyMemory<byte> frame)
    {
        FrameHeader header = FrameHeader.Read(frame.Span);
        byte[] data = frame.Span[TtrpcLimits.HeaderLength..].ToArray();
        Assert.Equal(header.Length, (uint)data.Length);
        return (header, data);
    }

    [Fact]
    public void HandEncodedRequestParsesAsTheGeneratedRequestMessage()
    {
        var metadata = new Metadata
        {
            { "containerd-namespace-ttrpc", "k8s.io" },
            { "multi", "one" },
            { "multi", "twö" },
            { "blob-bin", new byte[] { 0, 1, 255 } },
        };
        var fields = new Envelope.RequestFields("containerd.task.v2.Task", "State", 5_000_000_000, metadata);
        using var frame = new FrameBuilder(fields.PrefixCapacity);
        var body = new EchoRequest { Text = "hello", Id = 42 };
        frame.SetPayloadLength(body.CalculateSize());
        body.WriteTo(frame);
        frame.Complete();
        fields.Complete(frame);
        Envelope.SetStreamId(frame.ClaimedFrameSpan, 7);

        (FrameHeader header, byte[] data) = Split(frame.Frame);
        Request request = Request.Parser.ParseFrom(data);

        Assert.Equal(new FrameHeader((uint)data.Length, 7, MessageType.Request, FrameFlags.None), header);
        Assert.Equal("containerd.task.v2.Task", request.Service);
        Assert.Equal("State", request.Method);
        Assert.Equal(5_000_000_000, request.TimeoutNano);
        Assert.Equal(body, EchoRequest.Parser.ParseFrom(request.Payload));
        Assert.Equal(
            new[] { "containerd-namespace-ttrpc=k8s.io", "multi=one", "multi=twö", "blob-bin=AAH/" },
            request.Metadata.Select(kv => $"{kv.Key}={kv.Value}"));
        // The same message encoded by Google.Protobuf has the same length (only field order differs).
        Assert.Equal(request.CalculateSize(), data.Length);
    }

    [Fact]
    public void RequestWithEmptyPayloadAndNoOptionalFieldsOmitsThem()
    {
        var fields = new Envelope.RequestFields("s", "m", 0, null);
        using var frame = new FrameBuilder(fields.PrefixCapacity);
        frame.Complete();
        fields.Complete(frame);

        (_, byte[] data) = Split(frame.Frame);

        Assert.Equal(new Request { Service = "s", Method = "m" }.ToByteArray(), data);
    }

    [Fact]
    public void ResponseWrapsTheBodyAsPayload()
    {
        using FrameBuilder frame = Envelope.NewResponse();
        var body = new EchoReply { Text = new string('x', 300) };
        body.WriteTo(frame);
        frame.Complete();
        Envelope.CompleteResponse(frame, 9);

        (FrameHeader header, byte[] data) = Split(frame.Frame);
        Response response = Response.Parser.ParseFrom(data);

        Assert.Equal(9u, header.StreamId);
        Assert.Equal(MessageType.Response, header.Type);
        Assert.Equal(0, response.Status.Code);
        Assert.Equal(body, EchoReply.Parser.ParseFrom(response.Payload));
    }

    [Fact]
    public void EmptySuccessResponseCarriesOnlyAnExplicitOkStatus()
    {
        using FrameBuilder frame = Envelope.NewResponse();
        frame.Complete();
        Envelope.CompleteResponse(frame, 1);

        // Response{status: Status{}}: field 1, length 0. Old Go clients require the status field.
        Assert.Equal(new byte[] { 0x0A, 0x00 }, frame.Frame.Span[TtrpcLimits.HeaderLength..].ToArray());
        Assert.Equal(2u, FrameHeader.Read(frame.Frame.Span).Length);
    }

    [Fact]
    public void ErrorResponseCarriesCodeMessageAndDetails()
    {
        var detail = new Google.Protobuf.WellKnownTypes.Any { TypeUrl = "containerd.Detail", Value = ByteString.CopyFromUtf8("d") };
        using FrameBuilder frame = Envelope.ErrorResponse(3, Envelope.ToProtocolStatus(new Grpc.Core.Status(StatusCode.NotFound, "gone"), [detail]));

        Response response = Response.Parser.ParseFrom(Split(frame.Frame).Data);

        Assert.Equal((int)StatusCode.NotFound, response.Status.Code);
        Assert.Equal("gone", response.Status.Message);
        Assert.Equal(detail, Assert.Single(response.Status.Details));
        Assert.True(response.Payload.IsEmpty);
    }

    [Fact]
    public void DeclaringAPayloadOverTheLimitFailsWithResourceExhausted()
    {
        using FrameBuilder frame = Envelope.NewResponse();

        var error = Assert.Throws<RpcException>(() => frame.SetPayloadLength(TtrpcLimits.MaxMessageLength + 1));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("4194304", error.Status.Detail);
    }

    [Fact]
    public void AFrameWhoseEnvelopePushesItOverTheLimitIsRefused()
    {
        // The body alone fits; body + tag + length varint does not.
        using FrameBuilder frame = Envelope.NewResponse();
        frame.Complete(new byte[TtrpcLimits.MaxMessageLength]);

        var error = Assert.Throws<RpcException>(() => Envelope.CompleteResponse(frame, 1));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public void BufferWriterGrowsWithoutLosingWrittenBytes()
    {
        using var frame = new FrameBuilder(Envelope.ResponsePrefixCapacity);
        var expected = new byte[100_000];
        new Random(1).NextBytes(expected);
        for (int offset = 0; offset < expected.Length; offset += 1000)
        {
            expected.AsSpan(offset, 1000).CopyTo(frame.GetSpan(1000));
            frame.Advance(1000);
        }
        frame.Complete();
        Envelope.CompleteResponse(frame, 1);

        Response response = Response.Parser.ParseFrom(Split(frame.Frame).Data);
        Assert.Equal(expected, response.Payload.ToByteArray());
    }

    [Theory]
    [InlineData(0ul, 1)]
    [InlineData(127ul, 1)]
    [InlineData(128ul, 2)]
    [InlineData(4194304ul, 4)]
    [InlineData(ulong.MaxValue, 10)]
    public void VarintLengthMatchesGoogleProtobuf(ulong value, int expected)
    {
        Assert.Equal(expected, Envelope.VarintLength(value));
        Assert.Equal(CodedOutputStream.ComputeUInt64Size(value), Envelope.VarintLength(value));
        var buffer = new byte[10];
        Assert.Equal(expected, Envelope.WriteVarint(buffer, value));
        Assert.Equal(value, new CodedInputStream(buffer).ReadUInt64());
    }
}
