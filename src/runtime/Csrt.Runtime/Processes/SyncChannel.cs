using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Csrt.Linux;
using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Processes;

/// <summary>
/// The parent ↔ container-init protocol, one table (after runc's sync.go). Messages travel over a
/// SOCK_SEQPACKET socketpair, so each is one datagram: a type byte, then the payload the table
/// names (empty, the binary <see cref="InitPlanCodec"/> form, or UTF-8 JSON of a type below).
///
/// | type          | direction     | payload                  | meaning |
/// |---------------|---------------|--------------------------|---------|
/// | Config        | parent → init | InitPlan (InitPlanCodec) | what to build; the init starts working |
/// | HooksPlease   | init → parent | (none)                   | mounts are done: run prestart/createRuntime hooks now |
/// | HooksDone     | parent → init | (none)                   | hooks ran; continue (createContainer hooks, pivot_root …) |
/// | Ready         | init → parent | (none)                   | the container is created; the init now waits on exec.fifo |
/// | Error         | init → parent | ErrorReport (JSON)       | the init failed; the message says which step |
///
/// The runtime sends only Config. Probe and ProbeReport exist for the child path's tests
/// (ChildPath/InitSpawnTests), which spawn an init alone, without a container to build:
///
/// | Probe         | parent → init | ProbeRequest (JSON)      | set the hostname, report pid and hostname, exit |
/// | ProbeReport   | init → parent | ProbeReport (JSON)       | answer to Probe |
/// </summary>
public enum SyncMessageType : byte
{
    Config = 1,
    Probe = 2,
    ProbeReport = 3,
    HooksPlease = 4,
    HooksDone = 5,
    Ready = 6,
    Error = 7,
}

public sealed class ProbeRequest
{
    public string Hostname { get; set; } = "";
}

public sealed class ProbeReport
{
    public int Pid { get; set; }
    public string Hostname { get; set; } = "";
}

public sealed class ErrorReport
{
    public string Message { get; set; } = "";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProbeRequest))]
[JsonSerializable(typeof(ProbeReport))]
[JsonSerializable(typeof(ErrorReport))]
internal sealed partial class SyncJsonContext : JsonSerializerContext
{
}

/// <summary>One end of the sync socketpair.</summary>
public sealed class SyncChannel : IDisposable
{
    private const int MaxMessage = 1 << 20;
    private readonly FileDescriptor _socket;

    public SyncChannel(FileDescriptor socket) => _socket = socket;

    public FileDescriptor Socket => _socket;

    public void Send(SyncMessageType type, ReadOnlySpan<byte> payload = default)
    {
        var buf = new byte[payload.Length + 1];
        buf[0] = (byte)type;
        payload.CopyTo(buf.AsSpan(1));
        UnixSockets.Send(_socket, buf);
    }

    public void Send<T>(SyncMessageType type, T value, JsonTypeInfo<T> info) =>
        Send(type, JsonSerializer.SerializeToUtf8Bytes(value, info));

    /// <summary>The next message; throws when the peer went away.</summary>
    public (SyncMessageType Type, byte[] Payload) Receive()
    {
        // A buffer of the message's size (most are a few bytes), not of the largest one.
        var length = UnixSockets.PeekLength(_socket);
        if (length > MaxMessage)
            throw new IOException($"sync protocol: a message of {length} bytes (at most {MaxMessage})");
        var buf = new byte[Math.Max(length, 1)];
        var n = length == 0 ? 0 : UnixSockets.Receive(_socket, buf);
        if (n == 0)
            throw new IOException("the other end of the sync socket closed (the process died?)");
        return ((SyncMessageType)buf[0], buf.AsSpan(1, n - 1).ToArray());
    }

    /// <summary>Receives and checks the type; an Error message from the init becomes an exception.</summary>
    public byte[] Expect(SyncMessageType type)
    {
        var (got, payload) = Receive();
        if (got == SyncMessageType.Error)
            throw CsrtException.Failed(JsonSerializer.Deserialize(payload, SyncJsonContext.Default.ErrorReport)?.Message ?? "unknown error");
        if (got != type)
            throw new IOException($"sync protocol: expected {type}, got {got}");
        return payload;
    }

    public static T Decode<T>(byte[] payload, JsonTypeInfo<T> info) =>
        JsonSerializer.Deserialize(payload, info) ?? throw new IOException($"sync protocol: empty {typeof(T).Name}");

    public void SendError(string message) =>
        Send(SyncMessageType.Error, JsonSerializer.SerializeToUtf8Bytes(new ErrorReport { Message = message }, SyncJsonContext.Default.ErrorReport));

    public void Dispose() => _socket.Dispose();

    internal static string Utf8(byte[] b) => Encoding.UTF8.GetString(b);
}
