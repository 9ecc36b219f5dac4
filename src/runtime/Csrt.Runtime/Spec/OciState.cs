using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Csrt.Runtime.Spec;

/// <summary>runtime.md "state" values, plus runc's "paused".</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ContainerStatus>))]
public enum ContainerStatus
{
    [JsonStringEnumMemberName("creating")] Creating,
    [JsonStringEnumMemberName("created")] Created,
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("stopped")] Stopped,
    [JsonStringEnumMemberName("paused")] Paused,
}

/// <summary>
/// The state of a container as `csrt state` prints it: the runtime-spec state (ociVersion, id,
/// status, pid, bundle, annotations) plus runc's rootfs, created and owner, in runc's field order.
/// Hooks get the spec's shape from <see cref="OciStateJson.SerializeForHook"/>.
/// </summary>
public sealed class OciState
{
    [JsonPropertyName("ociVersion")] public string OciVersion { get; set; } = BuildInfo.OciVersion;
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    /// <summary>Init pid in the runtime's pid namespace; 0 once stopped (runc prints 0 then).</summary>
    [JsonPropertyName("pid")] public int Pid { get; set; }
    [JsonPropertyName("status")] public ContainerStatus Status { get; set; }
    /// <summary>Absolute path of the bundle.</summary>
    [JsonPropertyName("bundle")] public string Bundle { get; set; } = "";
    /// <summary>runc: absolute path of the rootfs on the host. Null leaves it out.</summary>
    [JsonPropertyName("rootfs")] public string? Rootfs { get; set; }
    /// <summary>runc: creation time, printed as RFC 3339 with up to nanosecond digits, UTC ("Z").</summary>
    [JsonPropertyName("created"), JsonConverter(typeof(Rfc3339NanoConverter))]
    public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    /// <summary>runc: owner user name; runc's `state` prints "" and `list` the user name.</summary>
    [JsonPropertyName("owner")] public string? Owner { get; set; }
}

/// <summary>Reading a state document back (<see cref="OciStateJson.Parse"/>); the writers are by hand.</summary>
[JsonSerializable(typeof(OciState))]
internal sealed partial class OciStateJsonContext : JsonSerializerContext
{
}

/// <summary>Reading and writing <see cref="OciState"/> in the layouts runc uses.</summary>
public static class OciStateJson
{
    private static JsonWriterOptions TwoSpaces => new()
    {
        Encoder = MinimalJsonEncoder.Instance, Indented = true, IndentCharacter = ' ', IndentSize = 2,
    };

    private static JsonWriterOptions Compact => new() { Encoder = MinimalJsonEncoder.Instance };

    /// <summary>`csrt state`: two-space indented, no trailing newline (as `runc state`).</summary>
    public static byte[] SerializeForStateCommand(OciState state) => Write(TwoSpaces, w => WriteState(w, state));

    /// <summary>`csrt list --format json`: one compact array (the caller adds the newline runc's encoder writes).</summary>
    public static byte[] SerializeList(List<OciState> states) => Write(Compact, w =>
    {
        w.WriteStartArray();
        foreach (var state in states)
            WriteState(w, state);
        w.WriteEndArray();
    });

    /// <summary>The runtime-spec state for a hook's stdin: ociVersion, id, status, pid (not when 0),
    /// bundle, annotations; compact.</summary>
    public static byte[] SerializeForHook(OciState state) => Write(Compact, w =>
    {
        w.WriteStartObject();
        w.WriteString("ociVersion", state.OciVersion);
        w.WriteString("id", state.Id);
        w.WriteString("status", StatusName(state.Status));
        // runc's Go struct leaves the pid out when 0 (stopped).
        if (state.Pid != 0)
            w.WriteNumber("pid", state.Pid);
        w.WriteString("bundle", state.Bundle);
        WriteAnnotations(w, state.Annotations);
        w.WriteEndObject();
    });

    /// <summary>The spec's lower-case name of a status. A switch, not the enum's name through
    /// reflection: the writers above are by hand so that `csrt state` builds no serializer metadata
    /// (the source-generated context's first use reads attributes through reflection).</summary>
    public static string StatusName(ContainerStatus status) => status switch
    {
        ContainerStatus.Creating => "creating",
        ContainerStatus.Created => "created",
        ContainerStatus.Running => "running",
        ContainerStatus.Stopped => "stopped",
        ContainerStatus.Paused => "paused",
        _ => throw new ArgumentOutOfRangeException(nameof(status), (int)status, "not a container status"),
    };

    /// <summary>runc's field order; null members are left out.</summary>
    private static void WriteState(Utf8JsonWriter w, OciState state)
    {
        w.WriteStartObject();
        w.WriteString("ociVersion", state.OciVersion);
        w.WriteString("id", state.Id);
        w.WriteNumber("pid", state.Pid);
        w.WriteString("status", StatusName(state.Status));
        w.WriteString("bundle", state.Bundle);
        if (state.Rootfs is not null)
            w.WriteString("rootfs", state.Rootfs);
        if (state.Created is { } created)
            w.WriteString("created", Rfc3339NanoConverter.Format(created));
        WriteAnnotations(w, state.Annotations);
        if (state.Owner is not null)
            w.WriteString("owner", state.Owner);
        w.WriteEndObject();
    }

    private static void WriteAnnotations(Utf8JsonWriter w, Dictionary<string, string>? annotations)
    {
        if (annotations is null)
            return;
        w.WriteStartObject("annotations");
        foreach (var (key, value) in annotations)
            w.WriteString(key, value);
        w.WriteEndObject();
    }

    private static byte[] Write(JsonWriterOptions options, Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer, options))
            body(writer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads either layout back (fields the other layout lacks stay null).</summary>
    public static OciState Parse(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, OciStateJsonContext.Default.OciState)
        ?? throw new JsonException("state JSON is null");
}

/// <summary>Go's time.RFC3339Nano: fraction without trailing zeros (none at all when zero), "Z" for UTC.</summary>
internal sealed class Rfc3339NanoConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var s = reader.GetString();
        // .NET keeps 7 fractional digits; Go writes up to 9: cut the extra digits before parsing.
        if (s is not null)
        {
            var dot = s.IndexOf('.');
            if (dot > 0)
            {
                var end = dot + 1;
                while (end < s.Length && char.IsAsciiDigit(s[end]))
                    end++;
                if (end - dot - 1 > 7)
                    s = s[..(dot + 8)] + s[end..];
            }
        }
        if (!DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
            throw new JsonException("expected an RFC 3339 timestamp");
        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(Format(value));

    internal static string Format(DateTimeOffset value) =>
        value.Offset == TimeSpan.Zero
            ? value.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFF'Z'", CultureInfo.InvariantCulture)
            : value.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFzzz", CultureInfo.InvariantCulture);
}
