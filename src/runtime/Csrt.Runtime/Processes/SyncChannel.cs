using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Hooks;

namespace Csrt.Runtime.Processes;

/// <summary>
/// The parent ↔ container-init protocol, one table (after runc's sync.go). Messages travel over a
/// SOCK_SEQPACKET socketpair, so each is one datagram: a type byte, then the payload the table
/// names. The init is C (src/linux/native/csrt_init.c), so every payload is binary.
///
/// | type          | direction     | payload                  | meaning |
/// |---------------|---------------|--------------------------|---------|
/// | Config        | parent → init | InitPlan (InitPlanCodec) | what to build; the init starts working |
/// | HooksPlease   | init → parent | (none)                   | mounts are done: run prestart/createRuntime hooks now |
/// | HooksDone     | parent → init | "HOME=…" or (none)       | hooks ran; continue (createContainer hooks, pivot_root …); HOME to add to the process's environment |
/// | Ready         | init → parent | (none)                   | the container is created; the init now waits on exec.fifo |
/// | InitFailure   | init → parent | struct csrt_init_failure | the init failed: stage, index, errno, status, call, path, detail (<see cref="InitFailureReport"/>) |
///
/// The runtime sends only Config. Probe and ProbeReport exist for the child path's tests
/// (ChildPath/InitSpawnTests), which spawn an init alone, without a container to build:
///
/// | Probe         | parent → init | hostname (UTF-8)         | set the hostname (when not empty), report pid and hostname, exit |
/// | ProbeReport   | init → parent | int32 pid, hostname      | answer to Probe |
/// </summary>
public enum SyncMessageType : byte
{
    Config = 1,
    Probe = 2,
    ProbeReport = 3,
    HooksPlease = 4,
    HooksDone = 5,
    Ready = 6,
    InitFailure = 8,
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

    /// <summary>Receives and checks the type; an InitFailure from the init becomes the exception
    /// its report words, with the plan the init was executing (null: the Probe).</summary>
    public byte[] Expect(SyncMessageType type, InitPlan? plan = null)
    {
        var (got, payload) = Receive();
        if (got == SyncMessageType.InitFailure)
            throw InitFailureReport.Parse(payload).ToException(plan);
        if (got != type)
            throw new IOException($"sync protocol: expected {type}, got {got}");
        return payload;
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>Probe's payload: the hostname to set ("" for none).</summary>
    public static byte[] ProbeRequest(string hostname) => Encoding.UTF8.GetBytes(hostname);

    /// <summary>ProbeReport's payload: the init's pid (int32, the host's byte order) and hostname.</summary>
    public static (int Pid, string Hostname) ParseProbeReport(byte[] payload)
    {
        if (payload.Length < 4)
            throw new IOException($"sync protocol: a probe report of {payload.Length} bytes");
        return (BinaryPrimitives.ReadInt32LittleEndian(payload), Encoding.UTF8.GetString(payload.AsSpan(4)));
    }
}

/// <summary>The init's stages (enum csrt_init_stage in csrt_init.h).</summary>
public enum InitStage
{
    Protocol = 1,
    Root = 2,
    Mount = 3,
    Device = 4,
    Mask = 5,
    Readonly = 6,
    Sysctl = 7,
    Hostname = 8,
    Domainname = 9,
    Console = 10,
    Rlimit = 11,
    OomScore = 12,
    Keyring = 13,
    Hook = 14,
    Lookup = 15,
    CgroupNamespace = 16,
    Cwd = 17,
}

/// <summary>
/// struct csrt_init_failure as the init sends it (int32 stage, index, errno, status, then call,
/// path and detail, each NUL-terminated), and the one place that words it: the same messages the
/// runtime gave when the init was C# (the mount, device, mask, rlimit, hook and lookup wordings).
/// </summary>
public sealed record InitFailureReport(InitStage Stage, int Index, int Errno, int Status, string Call, string Path, string Detail)
{
    /// <summary>csrt_init.h's CSRT_HOOK_TIMED_OUT.</summary>
    public const int HookTimedOut = -2;

    public static InitFailureReport Parse(byte[] payload)
    {
        if (payload.Length < 16)
            throw new IOException($"sync protocol: an init failure report of {payload.Length} bytes");
        var span = payload.AsSpan();
        var texts = new string[3];
        var at = 16;
        for (var i = 0; i < 3; i++)
        {
            var end = span[at..].IndexOf((byte)0);
            if (end < 0)
                throw new IOException("sync protocol: an init failure report without its NUL-terminated texts");
            texts[i] = Encoding.UTF8.GetString(span.Slice(at, end));
            at += end + 1;
        }
        return new InitFailureReport((InitStage)BinaryPrimitives.ReadInt32LittleEndian(span),
            BinaryPrimitives.ReadInt32LittleEndian(span[4..]), BinaryPrimitives.ReadInt32LittleEndian(span[8..]),
            BinaryPrimitives.ReadInt32LittleEndian(span[12..]), texts[0], texts[1], texts[2]);
    }

    /// <summary>The failed call as the syscall layer words it.</summary>
    private string Syscall(string? detail = null) =>
        new SyscallException(Call, (Errno)Errno, Path.Length == 0 ? null : Path, detail ?? (Detail.Length == 0 ? null : Detail)).Message;

    public CsrtException ToException(InitPlan? plan)
    {
        static T? At<T>(List<T>? list, int i) where T : class => list is not null && i >= 0 && i < list.Count ? list[i] : null;
        switch (Stage)
        {
            case InitStage.Mount when At(plan?.Mounts, Index) is { } m:
                return CsrtException.Failed($"mounting {m.Type ?? "bind"} {m.Source} on {m.Destination}: {Syscall()}");
            case InitStage.Device when At(plan?.Devices, Index) is { } d:
                return CsrtException.Failed($"creating device {d.Path}: {Syscall()}");
            case InitStage.Mask when At(plan?.MaskedPaths, Index) is { } path:
                return CsrtException.Failed($"masking {path}: {Syscall()}");
            case InitStage.Readonly when At(plan?.ReadonlyPaths, Index) is { } path:
                return CsrtException.Failed($"making {path} read-only: {Syscall()}");
            case InitStage.Rlimit when At(plan?.Rlimits, Index) is { } r:
                var limit = new SyscallException("prlimit", (Errno)Errno, ((ResourceLimit)r.Resource).ToString(),
                    $"soft {r.Soft}, hard {r.Hard}" + ((Errno)Errno == Csrt.Linux.Errno.EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE)" : ""));
                return CsrtException.Failed($"process.rlimits {r.Name} (soft {r.Soft}, hard {r.Hard}): {limit.Message}");
            case InitStage.OomScore when (Errno)Errno is Csrt.Linux.Errno.EPERM or Csrt.Linux.Errno.EACCES:
                return CsrtException.Failed(new SyscallException("write", (Errno)Errno, "/proc/self/oom_score_adj",
                    $"setting oom_score_adj to {plan?.OomScoreAdj} (lowering it needs CAP_SYS_RESOURCE)").Message);
            case InitStage.Console when Call.Length == 0:
                return CsrtException.Failed("process.terminal is true but no console socket was given (--console-socket)");
            case InitStage.Console when Call == "open" && Path == "/dev/ptmx":
                return CsrtException.Failed($"process.terminal is true but the container has no usable /dev/ptmx (is devpts mounted on /dev/pts?): {Syscall()}");
            case InitStage.Hook:
                return HookException(At(plan?.CreateContainerHooks, Index));
            case InitStage.Lookup:
                return LookupException(plan?.Process.Args.FirstOrDefault() ?? "");
            case InitStage.Protocol:
                return CsrtException.Failed("sync protocol: the init: " + Syscall());
            default:
                return CsrtException.Failed(Syscall());
        }
    }

    private HookFailedException HookException(HookStep? hook)
    {
        const string stage = "createContainer";
        var path = hook?.Path ?? Path;
        var output = Detail.Trim();
        var shown = output.Length > 0 ? ", output: " + output : "";
        if (Errno != 0)
            return new HookFailedException($"{stage} hook {path}: {Syscall()}");
        if (Status == HookTimedOut)
            return new HookFailedException($"{stage} hook {path} timed out after {(hook?.TimeoutSeconds ?? 0).ToString(CultureInfo.InvariantCulture)} s{shown}");
        // A wait status: the signal in the low 7 bits, else the exit code in the next byte.
        var signal = Status & 0x7f;
        var how = signal != 0 ? "killed by " + Signals.Name(signal) : "exit status " + ((Status >> 8) & 0xff).ToString(CultureInfo.InvariantCulture);
        return new HookFailedException($"{stage} hook {path} failed: {how}{shown}");
    }

    /// <summary>ExecutableLookup's messages: "$PATH" is the search that found nothing (Path
    /// holds the search path); a name with a '/' was missing, a directory, or not executable.</summary>
    private CsrtException LookupException(string name) => (Call, (Errno)Errno) switch
    {
        ("$PATH", _) => CsrtException.Failed($"exec: \"{name}\": executable file not found in $PATH ({Path})"),
        (_, Csrt.Linux.Errno.ENOENT) => CsrtException.Failed($"exec: \"{name}\": no such file or directory"),
        (_, Csrt.Linux.Errno.EISDIR) => CsrtException.Failed($"exec: \"{name}\": is a directory"),
        (_, Csrt.Linux.Errno.EACCES) => CsrtException.Failed($"exec: \"{name}\": permission denied (not executable)"),
        _ => CsrtException.Failed($"exec: \"{name}\": {Syscall()}"),
    };
}
