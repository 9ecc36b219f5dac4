using System.Reflection;
using Containerd;
using Containerd.Types;
using Csrt.Runtime.Features;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// `-info` (containerd 2.x, facts sheet §2): the runtime options <c>Any</c> or nothing on stdin;
/// on stdout exactly a protobuf <c>containerd.types.RuntimeInfo</c>. containerd's CRI reads the
/// OCI features document in it to decide whether the handler can do recursive read-only mounts
/// and user namespaces, and task creation checks it for id-mapped mounts. It needs no
/// -namespace, runs in containerd's cwd and environment, and starts nothing.
/// </summary>
public static class InfoCommand
{
    public const string RuntimeName = "io.containerd.csrt.v2";

    public static int Run()
    {
        var info = Build(StartInput.ReadStdin());
        using var stdout = Console.OpenStandardOutput();
        info.WriteTo(stdout);
        return 0;
    }

    /// <exception cref="InvalidDataException">stdin is not an options Any.</exception>
    public static RuntimeInfo Build(ReadOnlySpan<byte> stdin)
    {
        var info = new RuntimeInfo
        {
            Name = RuntimeName,
            Version = new RuntimeVersion { Version = Csrt.Runtime.BuildInfo.Version, Revision = Revision },
            Options = ReadOptions(stdin),
            Features = TypeUrls.PackJson(TypeUrls.OciFeatures, FeaturesJson.Serialize(FeaturesDocument.Create())),
        };
        // No annotations: the one containerd reads, containerd.io/runtime-allow-mounts, lists mount
        // types its 2.2+ mount manager should leave to the shim, and csrt mounts the rootfs only
        // with the kernel's own types, which that manager passes through anyway.
        return info;
    }

    private static Any? ReadOptions(ReadOnlySpan<byte> stdin)
    {
        if (stdin.IsEmpty)
            return null;
        Any options;
        try
        {
            options = Any.Parser.ParseFrom(stdin);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"stdin ({stdin.Length} bytes) is not a google.protobuf.Any of runtime options: {e.Message}");
        }
        if (options.TypeUrl.Length == 0)
            throw new InvalidDataException($"stdin ({stdin.Length} bytes) is not a google.protobuf.Any of runtime options: it has no type_url");
        ShimOptions.Decode(options, "stdin (google.protobuf.Any)");
        return options;
    }

    /// <summary>The source revision the SDK appends to the informational version ("+&lt;commit&gt;"), if it did.</summary>
    public static string Revision { get; } =
        typeof(InfoCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion is { } v
        && v.IndexOf('+', StringComparison.Ordinal) is var plus and >= 0
            ? v[(plus + 1)..]
            : "";
}
