using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Csrt.Runtime.Spec;

/// <summary>
/// Source-generated JSON metadata for config.json, the exec process JSON and `update -r`
/// resources. Reading: unknown fields are skipped (the spec requires it), numbers must be JSON
/// numbers, property names match case-insensitively (as Go's encoding/json, so anything runc
/// accepts parses here), and null is refused where the model has no null (a clean error with the
/// path instead of a half-filled object). Writing: nulls are left out.
/// </summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    PropertyNameCaseInsensitive = true,
    RespectNullableAnnotations = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(RuntimeSpec))]
[JsonSerializable(typeof(Process))]
[JsonSerializable(typeof(LinuxResources))]
public sealed partial class SpecJsonContext : JsonSerializerContext
{
}

/// <summary>Writing spec documents the way runc does.</summary>
public static class SpecJson
{
    // MinimalJsonEncoder keeps '+', '<', '&' and non-ASCII readable in files people edit; the
    // output is never embedded in HTML.
    private static JsonWriterOptions Compact => new() { Encoder = MinimalJsonEncoder.Instance };

    /// <summary>Tab-indented, no trailing newline: byte-for-byte the layout of `runc spec`.</summary>
    private static JsonWriterOptions Tabs => new()
    {
        Encoder = MinimalJsonEncoder.Instance, Indented = true, IndentCharacter = '\t', IndentSize = 1,
    };

    public static byte[] Serialize(RuntimeSpec spec, bool indented = false) =>
        Write(spec, SpecJsonContext.Default.RuntimeSpec, indented ? Tabs : Compact);

    public static byte[] Serialize(Process process, bool indented = false) =>
        Write(process, SpecJsonContext.Default.Process, indented ? Tabs : Compact);

    internal static byte[] Write<T>(T value, JsonTypeInfo<T> info, JsonWriterOptions options)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, options))
            JsonSerializer.Serialize(writer, value, info);
        return buffer.WrittenSpan.ToArray();
    }
}
