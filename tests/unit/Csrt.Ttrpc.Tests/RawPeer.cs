using System.Net.Sockets;
using Csrt.Ttrpc.Protocol;
using Csrt.Ttrpc.Tests.Protos;
using Csrt.Ttrpc.Wire;
using Google.Protobuf;

namespace Csrt.Ttrpc.Tests;

/// <summary>A test peer that writes and reads raw frames, to exercise what a generated client cannot send.</summary>
internal sealed class RawPeer : IDisposable
{
    private readonly NetworkStream _stream;
    private readonly FrameReader _reader;

    public RawPeer(Socket socket)
    {
        Socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _reader = new FrameReader(_stream);
    }

    public Socket Socket { get; }

    public static byte[] Frame(uint streamId, MessageType type, ReadOnlySpan<byte> data, FrameFlags flags = FrameFlags.None, uint? declaredLength = null)
    {
        var frame = new byte[TtrpcLimits.HeaderLength + data.Length];
        new FrameHeader(declaredLength ?? (uint)data.Length, streamId, type, flags).WriteTo(frame);
        data.CopyTo(frame.AsSpan(TtrpcLimits.HeaderLength));
        return frame;
    }

    public static byte[] EchoRequest(string method, string text, long timeoutNano = 0, IMessage? payload = null, string service = "csrt.ttrpc.test.Echo") =>
        new Request
        {
            Service = service,
            Method = method,
            Payload = (payload ?? new EchoRequest { Text = text }).ToByteString(),
            TimeoutNano = timeoutNano,
        }.ToByteArray();

    public Task SendAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask();

    public Task SendFrameAsync(uint streamId, MessageType type, byte[] data, FrameFlags flags = FrameFlags.None) =>
        SendAsync(Frame(streamId, type, data, flags));

    /// <summary>Reads the next frame as a Response; fails the test on timeout or end of stream.</summary>
    public async Task<(FrameHeader Header, Response Response)> ReadResponseAsync(int timeoutMs = 10_000)
    {
        using var timeout = new CancellationTokenSource(timeoutMs);
        FrameReadResult frame = await _reader.ReadAsync(timeout.Token);
        Assert.Equal(FrameReadKind.Frame, frame.Kind);
        try
        {
            Assert.Equal(MessageType.Response, frame.Header.Type);
            return (frame.Header, Response.Parser.ParseFrom(frame.Payload));
        }
        finally
        {
            frame.ReturnBuffer();
        }
    }

    /// <summary>Reads one frame; used to check that nothing else arrives.</summary>
    public ValueTask<FrameReadResult> ReadFrameAsync(CancellationToken cancellationToken) => _reader.ReadAsync(cancellationToken);

    public void Dispose() => _stream.Dispose();
}
