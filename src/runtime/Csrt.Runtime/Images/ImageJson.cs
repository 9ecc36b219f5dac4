using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Images;

// The documents of an OCI image layout (image-spec: image-layout.md, image-index.md, manifest.md,
// config.md): only the fields csrt reads.

public sealed class OciDescriptor
{
    [JsonPropertyName("mediaType")] public string MediaType { get; set; } = "";
    [JsonPropertyName("digest")] public string Digest { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    [JsonPropertyName("platform")] public OciPlatform? Platform { get; set; }
}

public sealed class OciPlatform
{
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("os")] public string Os { get; set; } = "";
}

public sealed class OciIndex
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; }
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("manifests")] public List<OciDescriptor> Manifests { get; set; } = [];
}

public sealed class OciManifest
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; }
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("config")] public OciDescriptor Config { get; set; } = new();
    [JsonPropertyName("layers")] public List<OciDescriptor> Layers { get; set; } = [];
}

public sealed class OciImageConfig
{
    [JsonPropertyName("architecture")] public string? Architecture { get; set; }
    [JsonPropertyName("os")] public string? Os { get; set; }
    [JsonPropertyName("config")] public OciRunConfig? Config { get; set; }
}

/// <summary>The "config" object of an image config: how the image wants to be run.</summary>
public sealed class OciRunConfig
{
    [JsonPropertyName("User")] public string? User { get; set; }
    [JsonPropertyName("Env")] public List<string>? Env { get; set; }
    [JsonPropertyName("Entrypoint")] public List<string>? Entrypoint { get; set; }
    [JsonPropertyName("Cmd")] public List<string>? Cmd { get; set; }
    [JsonPropertyName("WorkingDir")] public string? WorkingDir { get; set; }
}

/// <summary>Source-generated metadata for the image documents. Unknown fields are skipped (the
/// image-spec requires it); property names match case-insensitively, as Go's encoding/json.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    PropertyNameCaseInsensitive = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(OciIndex))]
[JsonSerializable(typeof(OciManifest))]
[JsonSerializable(typeof(OciImageConfig))]
public sealed partial class ImageJsonContext : JsonSerializerContext
{
}

public static class MediaTypes
{
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar";

    public static bool IsIndex(string t) => t is OciIndex or DockerManifestList;

    public static bool IsManifest(string t) => t is OciManifest or DockerManifest;

    /// <summary>Whether a layer is gzip-compressed; an error naming the type for anything csrt cannot unpack.</summary>
    public static bool LayerIsGzip(string t, string digest) => t switch
    {
        OciLayerGzip or DockerLayerGzip => true,
        OciLayer or DockerLayer => false,
        _ => throw CsrtException.Unsupported(
            $"layer {digest}: media type \"{t}\" is not supported (csrt unpacks {OciLayer} and {OciLayerGzip})"),
    };
}

internal static class ImageJson
{
    public static T Parse<T>(byte[] json, JsonTypeInfo<T> info, string what)
    {
        try
        {
            return JsonSerializer.Deserialize(json, info) ?? throw CsrtException.InvalidArgument($"{what}: the document is null");
        }
        catch (JsonException e)
        {
            throw CsrtException.InvalidArgument($"{what}: not a valid document: {e.Message}", e);
        }
    }
}
