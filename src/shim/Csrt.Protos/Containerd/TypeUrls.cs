using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Containerd;

/// <summary>
/// google.protobuf.Any the way containerd writes and reads it. containerd 1.6 (typeurl v1) only
/// resolves the bare full name (<c>containerd.events.TaskExit</c>); Google.Protobuf's
/// <c>Any.Pack</c> writes <c>type.googleapis.com/…</c> and its <c>Unpack</c>/<c>Is</c> reject
/// bare names, so they must not be used on this wire. Exec specs and resource updates are JSON
/// documents under containerd-registered URLs, carried as raw bytes.
/// </summary>
public static class TypeUrls
{
    /// <summary>ExecProcessRequest.spec: JSON of an OCI <c>process</c> object.</summary>
    public const string OciProcess = "types.containerd.io/opencontainers/runtime-spec/1/Process";

    /// <summary>RuntimeInfo.features (the shim's -info): JSON of the OCI features document.</summary>
    public const string OciFeatures = "types.containerd.io/opencontainers/runtime-spec/1/features/Features";

    /// <summary>UpdateTaskRequest.resources: JSON of OCI <c>linux.resources</c>.</summary>
    public const string OciLinuxResources = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

    /// <summary>
    /// Full names of the messages the shim packs, so that <see cref="Pack"/> does not touch their
    /// descriptors: the first access to a message's Descriptor parses the descriptor of its whole
    /// .proto file (and imports) and keeps it alive for the process's life, heap every shim would
    /// carry for events/task.proto and the cgroups v1 metrics.
    /// Each entry is checked against the descriptor by the unit tests.
    /// </summary>
    public static IReadOnlyDictionary<System.Type, string> KnownNames { get; } = new Dictionary<System.Type, string>
    {
        [typeof(Events.TaskCreate)] = "containerd.events.TaskCreate",
        [typeof(Events.TaskStart)] = "containerd.events.TaskStart",
        [typeof(Events.TaskDelete)] = "containerd.events.TaskDelete",
        [typeof(Events.TaskExit)] = "containerd.events.TaskExit",
        [typeof(Events.TaskOOM)] = "containerd.events.TaskOOM",
        [typeof(Events.TaskExecAdded)] = "containerd.events.TaskExecAdded",
        [typeof(Events.TaskExecStarted)] = "containerd.events.TaskExecStarted",
        [typeof(Events.TaskPaused)] = "containerd.events.TaskPaused",
        [typeof(Events.TaskResumed)] = "containerd.events.TaskResumed",
        [typeof(Events.TaskCheckpointed)] = "containerd.events.TaskCheckpointed",
        [typeof(Cgroups.V1.Metrics)] = "io.containerd.cgroups.v1.Metrics",
        [typeof(Cgroups.V2.Metrics)] = "io.containerd.cgroups.v2.Metrics",
        [typeof(Runc.V1.ProcessDetails)] = "containerd.runc.v1.ProcessDetails",
    };

    /// <summary>Wraps a message with its bare full name as type URL, e.g. <c>io.containerd.cgroups.v1.Metrics</c>.</summary>
    public static Any Pack(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var name = KnownNames.TryGetValue(message.GetType(), out var known) ? known : message.Descriptor.FullName;
        return new Any { TypeUrl = name, Value = message.ToByteString() };
    }

    /// <summary>The type name of a URL: the text after the last '/', or the whole URL when it has none.</summary>
    public static ReadOnlySpan<char> TypeName(string typeUrl)
    {
        ArgumentNullException.ThrowIfNull(typeUrl);
        int slash = typeUrl.LastIndexOf('/');
        return slash < 0 ? typeUrl : typeUrl.AsSpan(slash + 1);
    }

    /// <summary>Whether <paramref name="any"/> holds a <paramref name="descriptor"/> message, bare or prefixed URL alike.</summary>
    public static bool Is(Any any, MessageDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(any);
        ArgumentNullException.ThrowIfNull(descriptor);
        return TypeName(any.TypeUrl).SequenceEqual(descriptor.FullName);
    }

    /// <summary>Parses the payload when the type matches; false (and nothing parsed) otherwise.</summary>
    /// <exception cref="InvalidProtocolBufferException">The type matches but the payload is not a valid encoding.</exception>
    public static bool TryUnpack<T>(Any any, [NotNullWhen(true)] out T? message)
        where T : class, IMessage<T>, new()
    {
        var candidate = new T();
        if (!Is(any, candidate.Descriptor))
        {
            message = null;
            return false;
        }
        candidate.MergeFrom(any.Value);
        message = candidate;
        return true;
    }

    /// <summary>Parses the payload of an Any that must hold a <typeparamref name="T"/>.</summary>
    /// <exception cref="InvalidDataException">The Any holds another type.</exception>
    /// <exception cref="InvalidProtocolBufferException">The payload is not a valid encoding.</exception>
    public static T Unpack<T>(Any any)
        where T : class, IMessage<T>, new()
    {
        if (TryUnpack(any, out T? message))
            return message;
        throw new InvalidDataException(
            $"google.protobuf.Any has type_url '{any.TypeUrl}', expected '{new T().Descriptor.FullName}'");
    }

    /// <summary>Wraps an UTF-8 JSON document under a containerd JSON type URL (e.g. <see cref="OciProcess"/>).</summary>
    public static Any PackJson(string typeUrl, ReadOnlySpan<byte> utf8Json)
    {
        ArgumentException.ThrowIfNullOrEmpty(typeUrl);
        return new Any { TypeUrl = typeUrl, Value = ByteString.CopyFrom(utf8Json) };
    }

    /// <summary>
    /// The JSON payload when <paramref name="any"/> carries <paramref name="typeUrl"/>. JSON URLs are
    /// compared whole: containerd resolves them by exact registry lookup, and their last segment
    /// ("Process") says nothing on its own.
    /// </summary>
    public static bool TryUnpackJson(Any any, string typeUrl, out ReadOnlyMemory<byte> utf8Json)
    {
        ArgumentNullException.ThrowIfNull(any);
        ArgumentException.ThrowIfNullOrEmpty(typeUrl);
        if (!string.Equals(any.TypeUrl, typeUrl, StringComparison.Ordinal))
        {
            utf8Json = default;
            return false;
        }
        utf8Json = any.Value.Memory;
        return true;
    }

    /// <summary>The JSON payload of an Any that must carry <paramref name="typeUrl"/>.</summary>
    /// <exception cref="InvalidDataException">The Any carries another type.</exception>
    public static ReadOnlyMemory<byte> UnpackJson(Any any, string typeUrl)
    {
        if (TryUnpackJson(any, typeUrl, out var json))
            return json;
        throw new InvalidDataException($"google.protobuf.Any has type_url '{any.TypeUrl}', expected '{typeUrl}'");
    }
}
