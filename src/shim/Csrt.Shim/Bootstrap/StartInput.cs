using Containerd.Runtime.Bootstrap.V1;
using Csrt.Linux;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// What containerd writes on the stdin of `start` (facts sheet §1.3): nothing (1.6-2.2 without
/// options), the options <c>Any</c> (1.6-2.2), or from 2.3 on a <c>BootstrapParams</c> whose
/// extensions carry that same <c>Any</c>. Both are protobuf, and a legacy <c>Any</c> also parses as
/// a BootstrapParams (type_url lands in instance_id, value in namespace): the new protocol is
/// recognised by instance_id and namespace equal to -id and -namespace, as containerd's own
/// shim framework does.
/// </summary>
public sealed class StartInput
{
    /// <summary>The bytes containerd may send are small; more is not containerd talking.</summary>
    public const int MaxBytes = 4 << 20;

    /// <summary>Linux's sun_path holds 107 bytes and a NUL; the socket name is 64 hex digits and a '/'.</summary>
    public const int MaxSocketDirectoryLength = 107 - 65;

    /// <summary>Set when containerd 2.3+ sent a BootstrapParams.</summary>
    public BootstrapParams? Params { get; private init; }

    /// <summary>The runtime options (runc's Options or CRI's runtimeoptions), if any were sent.</summary>
    public Any? Options { get; private init; }

    /// <summary>csrt's settings from <see cref="Options"/> (checked: a refused setting fails `start`).</summary>
    public ShimOptions Settings { get; private init; } = ShimOptions.None;

    /// <summary>BootstrapParams.socket_dir, else containerd's fixed directory.</summary>
    public string SocketDirectory => Params is { HasSocketDir: true, SocketDir.Length: > 0 } p ? p.SocketDir : ShimPaths.SocketDirectory;

    /// <summary>containerd 2.3 passes its log level here as well as -debug; either turns debug logs on.</summary>
    public bool Debug => Params?.LogLevel is LogLevel.Debug or LogLevel.Trace;

    /// <exception cref="InvalidDataException">The bytes are none of the three forms, or a
    /// BootstrapParams meant for this shim holds a value it cannot use (the message names the field).</exception>
    public static StartInput Parse(ReadOnlySpan<byte> stdin, string id, string ns)
    {
        if (stdin.IsEmpty)
            return new StartInput();
        BootstrapParams? parameters = null;
        try
        {
            parameters = BootstrapParams.Parser.ParseFrom(stdin);
        }
        catch (InvalidProtocolBufferException)
        {
        }
        if (parameters is not null && parameters.InstanceId == id && parameters.InstanceId.Length > 0)
            return FromParams(parameters, id, ns);
        // An options Any has fields 1 and 2 only; anything from field 3 on is a BootstrapParams
        // for another shim instance.
        if (parameters is not null && HasBootstrapOnlyFields(parameters))
            throw new InvalidDataException($"BootstrapParams.instance_id \"{parameters.InstanceId}\" is not the -id \"{id}\" of the command line");

        Any legacy;
        try
        {
            legacy = Any.Parser.ParseFrom(stdin);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException(
                $"stdin ({stdin.Length} bytes) is neither a containerd.runtime.bootstrap.v1.BootstrapParams nor a google.protobuf.Any of runtime options: {e.Message}");
        }
        return new StartInput { Options = legacy, Settings = ShimOptions.Decode(legacy, "stdin (google.protobuf.Any)") };
    }

    private static StartInput FromParams(BootstrapParams p, string id, string ns)
    {
        if (p.Namespace != ns)
            throw new InvalidDataException($"BootstrapParams.namespace \"{p.Namespace}\" is not the -namespace \"{ns}\" of the command line (instance_id \"{id}\")");
        if (!System.Enum.IsDefined(p.LogLevel))
            throw new InvalidDataException($"BootstrapParams.log_level {(int)p.LogLevel} is not a containerd log level");
        if (p.HasSocketDir && p.SocketDir.Length > 0)
        {
            var dir = p.SocketDir;
            if (dir[0] != '/' || dir.Contains('\0', StringComparison.Ordinal))
                throw new InvalidDataException($"BootstrapParams.socket_dir \"{dir}\" is not an absolute path");
            if (System.Text.Encoding.UTF8.GetByteCount(dir) > MaxSocketDirectoryLength)
                throw new InvalidDataException(
                    $"BootstrapParams.socket_dir \"{dir}\" is longer than {MaxSocketDirectoryLength} bytes: the socket path would not fit in sun_path");
        }
        Any? options = null;
        var settings = ShimOptions.None;
        for (var i = 0; i < p.Extensions.Count; i++)
        {
            var value = p.Extensions[i].Value;
            if (value is null)
                throw new InvalidDataException($"BootstrapParams.extensions[{i}] has no value");
            // Other extensions (sandbox or NRI configuration …) are for shims that use them.
            if (options is null && IsOptions(value))
            {
                settings = ShimOptions.Decode(value, $"BootstrapParams.extensions[{i}].value");
                options = value;
            }
        }
        return new StartInput { Params = p, Options = options, Settings = settings };
    }

    private static bool HasBootstrapOnlyFields(BootstrapParams p) =>
        p.LogLevel != LogLevel.Info || p.ContainerdVersion.Length > 0 || p.ContainerdTtrpcAddress.Length > 0
        || p.ContainerdGrpcAddress.Length > 0 || p.ContainerdBinary.Length > 0 || p.Extensions.Count > 0 || p.HasSocketDir;

    private static bool IsOptions(Any any)
    {
        var name = Containerd.TypeUrls.TypeName(any.TypeUrl);
        return name.SequenceEqual(ShimOptions.RuncOptionsType) || name.SequenceEqual(ShimOptions.RuntimeOptionsType);
    }

    /// <summary>Reads fd 0 to EOF (containerd's write must never block), at most <see cref="MaxBytes"/>.
    /// A stdin that is closed, not readable or a terminal counts as empty.</summary>
    public static byte[] ReadStdin()
    {
        if (Terminals.IsTerminal(0))
            return [];
        var stdin = FileDescriptor.Borrow(0);
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        try
        {
            int n;
            while ((n = Files.Read(stdin, chunk)) > 0)
            {
                buffer.Write(chunk, 0, n);
                if (buffer.Length > MaxBytes)
                    throw new InvalidDataException($"stdin holds more than {MaxBytes} bytes: not what containerd sends");
            }
        }
        catch (SyscallException)
        {
            // Closed or not readable: nothing sent.
        }
        return buffer.ToArray();
    }
}
