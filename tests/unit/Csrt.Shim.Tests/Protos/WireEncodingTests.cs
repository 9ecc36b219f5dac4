using Containerd;
using Containerd.Events;
using Containerd.Task.V2;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Xunit;
using TtrpcEvents = Containerd.Services.Events.Ttrpc.V1;

namespace Csrt.Shim.Tests.Protos;

// Expected bytes are written out by hand from the protobuf wire format: tag = (field << 3) | wire
// type (0 varint, 2 length-delimited); varints are little-endian 7-bit groups with the high bit
// set on every byte but the last; negative int64 values are their 64-bit two's complement
// (always 10 bytes).
public sealed class WireEncodingTests
{
    // Timestamp{seconds = 1700000000, nanos = 5}:
    // 1700000000 = 0x6553F100 -> groups 0x00 0x62 0x4F 0x2A 0x06 -> 80 E2 CF AA 06.
    private static readonly byte[] Timestamp1700000000And5 = [0x08, 0x80, 0xE2, 0xCF, 0xAA, 0x06, 0x10, 0x05];

    // Timestamp{seconds = -62135596800}: the Go zero time, two's complement varint, nanos omitted.
    private static readonly byte[] GoZeroTimestamp = [0x08, 0x80, 0x92, 0xB8, 0xC3, 0x98, 0xFE, 0xFF, 0xFF, 0xFF, 0x01];

    [Fact]
    public void DeleteResponseEncodesPidStatusAndTimeInFieldOrder()
    {
        var response = new DeleteResponse
        {
            Pid = 1234,
            ExitStatus = 137,
            ExitedAt = new Timestamp { Seconds = 1700000000, Nanos = 5 },
        };

        byte[] expected =
        [
            0x08, 0xD2, 0x09,       // 1: pid 1234 = 0x4D2 -> D2 09
            0x10, 0x89, 0x01,       // 2: exit_status 137 = 0x89 -> 89 01
            0x1A, 0x08,             // 3: exited_at, 8 bytes
            .. Timestamp1700000000And5,
        ];
        Assert.Equal(expected, response.ToByteArray());
        Assert.Equal(response, DeleteResponse.Parser.ParseFrom(expected));
    }

    [Fact]
    public void DeleteResponseOfTheDeleteCommandCarriesGoZeroTimeWhenNothingExited()
    {
        var response = new DeleteResponse { Pid = 0, ExitStatus = 0, ExitedAt = Timestamps.NotExited() };

        byte[] expected = [0x1A, 0x0B, .. GoZeroTimestamp];
        Assert.Equal(expected, response.ToByteArray());
    }

    [Fact]
    public void EmptyOutputParsesAsAllZeroDeleteResponse()
    {
        // containerd reads an empty `delete` stdout this way; the parser must agree.
        var parsed = DeleteResponse.Parser.ParseFrom([]);
        Assert.Equal(0u, parsed.Pid);
        Assert.Equal(0u, parsed.ExitStatus);
        Assert.Null(parsed.ExitedAt);
    }

    [Fact]
    public void StateResponseDecodesWhatARuncShimSends()
    {
        // id "c1", pid 1 (3), status RUNNING = 2 (4), stdout "/f" (6), exited_at zero time (10), exec_id "" omitted.
        byte[] wire =
        [
            0x0A, 0x02, (byte)'c', (byte)'1',
            0x18, 0x01,
            0x20, 0x02,
            0x32, 0x02, (byte)'/', (byte)'f',
            0x52, 0x0B, .. GoZeroTimestamp,
        ];

        var state = StateResponse.Parser.ParseFrom(wire);

        Assert.Equal("c1", state.Id);
        Assert.Equal(1u, state.Pid);
        Assert.Equal(Containerd.Types.Status.Running, state.Status);
        Assert.Equal("/f", state.Stdout);
        Assert.True(Timestamps.IsNotExited(state.ExitedAt));
        Assert.Equal(wire, state.ToByteArray());
    }

    [Fact]
    public void UpdateTaskRequestAnnotationsTravelAsMapEntries()
    {
        var request = new UpdateTaskRequest { Id = "c" };
        request.Annotations.Add("k", "v");

        // 3: map entry message {1: key, 2: value}.
        byte[] expected = [0x0A, 0x01, (byte)'c', 0x1A, 0x06, 0x0A, 0x01, (byte)'k', 0x12, 0x01, (byte)'v'];
        Assert.Equal(expected, request.ToByteArray());
    }

    [Fact]
    public void ForwardRequestWrapsAnEnvelopeWithBareTaskExitAny()
    {
        var exit = new TaskExit { ContainerId = "c", Id = "c", Pid = 9, ExitStatus = 1, ExitedAt = new Timestamp { Seconds = 1700000000, Nanos = 5 } };
        var forward = new TtrpcEvents.ForwardRequest
        {
            Envelope = new TtrpcEvents.Envelope
            {
                Timestamp = new Timestamp { Seconds = 1700000000, Nanos = 5 },
                Namespace = "k8s.io",
                Topic = "/tasks/exit",
                Event = TypeUrls.Pack(exit),
            },
        };

        byte[] exitBytes =
        [
            0x0A, 0x01, (byte)'c',  // 1: container_id
            0x12, 0x01, (byte)'c',  // 2: id
            0x18, 0x09,             // 3: pid
            0x20, 0x01,             // 4: exit_status
            0x2A, 0x08, .. Timestamp1700000000And5, // 5: exited_at
        ];
        byte[] any = [0x0A, 26, .. "containerd.events.TaskExit"u8, 0x12, (byte)exitBytes.Length, .. exitBytes];
        byte[] envelope =
        [
            0x0A, 0x08, .. Timestamp1700000000And5,
            0x12, 0x06, .. "k8s.io"u8,
            0x1A, 0x0B, .. "/tasks/exit"u8,
            0x22, (byte)any.Length, .. any,
        ];
        byte[] expected = [0x0A, (byte)envelope.Length, .. envelope];

        Assert.Equal(expected, forward.ToByteArray());
    }

    [Fact]
    public void RuntimeOptionsConfigBodyIsBytesField3()
    {
        var options = new Containerd.RuntimeOptions.V1.Options { ConfigPath = "/p", ConfigBody = ByteString.CopyFromUtf8("a=1") };

        byte[] expected = [0x12, 0x02, (byte)'/', (byte)'p', 0x1A, 0x03, (byte)'a', (byte)'=', (byte)'1'];
        Assert.Equal(expected, options.ToByteArray());
    }
}
