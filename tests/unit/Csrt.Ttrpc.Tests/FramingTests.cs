using Csrt.Ttrpc.Wire;

namespace Csrt.Ttrpc.Tests;

public class FramingTests
{
    [Fact]
    public void HeaderIsTenBytesBigEndianLengthStreamTypeFlags()
    {
        var bytes = new byte[10];
        new FrameHeader(0x00010203, 0x0A0B0C0D, MessageType.Response, FrameFlags.RemoteClosed | FrameFlags.NoData).WriteTo(bytes);

        Assert.Equal(new byte[] { 0x00, 0x01, 0x02, 0x03, 0x0A, 0x0B, 0x0C, 0x0D, 0x02, 0x05 }, bytes);
    }

    [Fact]
    public void HeaderDecodesWhatItEncodes()
    {
        var header = new FrameHeader(4194304, 4294967295, MessageType.Data, FrameFlags.RemoteOpen);
        var bytes = new byte[10];
        header.WriteTo(bytes);

        Assert.Equal(header, FrameHeader.Read(bytes));
    }

    [Fact]
    public void HeaderReadRejectsFewerThanTenBytes()
    {
        Assert.Throws<ArgumentException>(() => FrameHeader.Read(new byte[9]));
    }

    [Theory]
    [InlineData(1u, true)]
    [InlineData(3u, true)]
    [InlineData(0u, false)]
    [InlineData(2u, false)]
    [InlineData(4294967295u, true)]
    public void OnlyOddStreamIdsAreClientStreamIds(uint streamId, bool expected)
    {
        Assert.Equal(expected, new FrameHeader(0, streamId, MessageType.Request, FrameFlags.None).IsClientStreamId);
    }

    [Fact]
    public async Task ReaderReturnsFramesInOrderThenEndOfStreamAtABoundary()
    {
        var stream = new MemoryStream([.. RawPeer.Frame(1, MessageType.Request, [1, 2, 3]), .. RawPeer.Frame(3, MessageType.Request, [])]);
        var reader = new FrameReader(stream);

        FrameReadResult first = await reader.ReadAsync(default);
        Assert.Equal(FrameReadKind.Frame, first.Kind);
        Assert.Equal(1u, first.Header.StreamId);
        Assert.Equal(new byte[] { 1, 2, 3 }, first.Payload.ToArray());
        first.ReturnBuffer();

        FrameReadResult empty = await reader.ReadAsync(default);
        Assert.Equal(FrameReadKind.Frame, empty.Kind);
        Assert.Equal(0u, empty.Header.Length);
        Assert.Equal(3u, empty.Header.StreamId);

        Assert.Equal(FrameReadKind.EndOfStream, (await reader.ReadAsync(default)).Kind);
    }

    [Fact]
    public async Task ReaderAcceptsExactlyTheMaximumLength()
    {
        var data = new byte[TtrpcLimits.MaxMessageLength];
        data[^1] = 0x5A;
        var reader = new FrameReader(new MemoryStream(RawPeer.Frame(1, MessageType.Request, data)));

        FrameReadResult frame = await reader.ReadAsync(default);

        Assert.Equal(FrameReadKind.Frame, frame.Kind);
        Assert.Equal((uint)TtrpcLimits.MaxMessageLength, frame.Header.Length);
        Assert.Equal(0x5A, frame.Payload[^1]);
    }

    [Fact]
    public async Task ReaderDiscardsExactlyTheLengthOfAnOversizedFrameAndStaysInSync()
    {
        var oversized = new byte[TtrpcLimits.MaxMessageLength + 1];
        oversized.AsSpan().Fill(0xFF);
        var stream = new MemoryStream([.. RawPeer.Frame(5, MessageType.Request, oversized), .. RawPeer.Frame(7, MessageType.Request, [9])]);
        var reader = new FrameReader(stream);

        FrameReadResult dropped = await reader.ReadAsync(default);
        Assert.Equal(FrameReadKind.Oversized, dropped.Kind);
        Assert.Equal(5u, dropped.Header.StreamId);
        Assert.Equal((uint)TtrpcLimits.MaxMessageLength + 1, dropped.Header.Length);

        FrameReadResult next = await reader.ReadAsync(default);
        Assert.Equal(FrameReadKind.Frame, next.Kind);
        Assert.Equal(7u, next.Header.StreamId);
        Assert.Equal(new byte[] { 9 }, next.Payload.ToArray());
    }

    [Fact]
    public async Task ReaderReportsAHeaderCutShortAsTruncated()
    {
        var reader = new FrameReader(new MemoryStream(RawPeer.Frame(1, MessageType.Request, [])[..6]));

        Assert.Equal(FrameReadKind.Truncated, (await reader.ReadAsync(default)).Kind);
    }

    [Fact]
    public async Task ReaderReportsDataCutShortAsTruncated()
    {
        byte[] frame = RawPeer.Frame(1, MessageType.Request, [1, 2, 3, 4]);
        var reader = new FrameReader(new MemoryStream(frame[..^2]));

        Assert.Equal(FrameReadKind.Truncated, (await reader.ReadAsync(default)).Kind);
    }

    [Fact]
    public async Task ReaderReportsAnOversizedFrameCutShortAsTruncated()
    {
        // Claims 4 GiB - 1 but carries 100 bytes: the discard must stop at end of stream, not hang.
        byte[] frame = RawPeer.Frame(1, MessageType.Request, new byte[100], declaredLength: uint.MaxValue);
        var reader = new FrameReader(new MemoryStream(frame));

        Assert.Equal(FrameReadKind.Truncated, (await reader.ReadAsync(default)).Kind);
    }
}
