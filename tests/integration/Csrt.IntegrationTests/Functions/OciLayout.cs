using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Csrt.IntegrationTests.Functions;

/// <summary>
/// Writes OCI image layouts for tests: layers built entry by entry with TarWriter (so a test can
/// make hostile ones: "..", whiteouts, hard links, symlinks out of the root), the config and
/// manifest with their real digests, and index.json tagging the manifest "latest". A layer can be
/// damaged after its digest was taken, to prove the damage is detected.
/// </summary>
public sealed class OciLayout
{
    private readonly List<(string MediaType, byte[] Blob)> _layers = new();

    public OciLayout(string dir)
    {
        Dir = dir;
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
    }

    public string Dir { get; }

    /// <summary>The digest of the manifest written by <see cref="Write"/>.</summary>
    public string ManifestDigest { get; private set; } = "";

    /// <summary>A layer from tar entries; gzip-compressed unless <paramref name="gzip"/> is false.</summary>
    public OciLayout Layer(Action<TarWriter> entries, bool gzip = true, string? mediaType = null)
    {
        var tar = new MemoryStream();
        using (var w = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
            entries(w);
        var bytes = tar.ToArray();
        if (gzip)
        {
            var gz = new MemoryStream();
            using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
                z.Write(bytes);
            bytes = gz.ToArray();
        }
        _layers.Add((mediaType ?? (gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar"), bytes));
        return this;
    }

    /// <summary>A layer with the host's static busybox as /bin/busybox, /bin/sh and the applets
    /// the tests use (hard links), an /etc/passwd with root and user (1000), and /tmp.</summary>
    public OciLayout BusyboxLayer() => Layer(w =>
    {
        AddDir(w, "bin/");
        AddDir(w, "etc/");
        AddDir(w, "tmp/", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
            | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute | UnixFileMode.StickyBit);
        using (var busybox = File.OpenRead("/bin/busybox"))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox") { DataStream = busybox, Mode = Exec });
        foreach (var applet in new[] { "sh", "cat", "ls", "id", "pwd", "echo", "stat", "touch", "sleep", "true", "env", "readlink" })
            w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "bin/" + applet) { LinkName = "bin/busybox", Mode = Exec });
        AddFile(w, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n");
        AddFile(w, "etc/group", "root:x:0:\nuser:x:1000:\nstaff:x:50:\n");
    });

    /// <summary>The paths of <see cref="OwnersLayer"/> with the owner and mode each has in the
    /// layer, as <c>stat -c '%n %u %g %a'</c> prints them.</summary>
    public static readonly string[] Owners =
    [
        "/data 0 0 755", "/data/root 0 0 644", "/data/user 1000 1000 644", "/data/nobody 65534 65534 644",
        "/data/setuid 1000 1000 4755", "/data/shared 1000 50 2775", "/data/shared/link 1000 50 777",
    ];

    /// <summary>A Cmd that prints <see cref="Owners"/> as the container sees them.</summary>
    public static JsonArray StatOwnersCommand()
    {
        var cmd = new JsonArray("stat", "-c", "%n %u %g %a");
        foreach (var owner in Owners)
            cmd.Add((JsonNode)JsonValue.Create(owner.Split(' ')[0]));
        return cmd;
    }

    /// <summary>A layer of files with different owners and set-id bits: <see cref="Owners"/>.</summary>
    public OciLayout OwnersLayer() => Layer(w =>
    {
        AddDir(w, "data/");
        AddFile(w, "data/root", "0");
        AddFile(w, "data/user", "1000", uid: 1000, gid: 1000);
        AddFile(w, "data/nobody", "65534", uid: 65534, gid: 65534);
        w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "data/setuid")
        {
            DataStream = new MemoryStream("x"u8.ToArray()), Mode = Exec | UnixFileMode.SetUser, Uid = 1000, Gid = 1000,
        });
        w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "data/shared/") { Mode = Exec | UnixFileMode.GroupWrite | UnixFileMode.SetGroup, Uid = 1000, Gid = 50 });
        w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "data/shared/link") { LinkName = "../user", Uid = 1000, Gid = 50 });
    });

    public const UnixFileMode Exec = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    public static void AddDir(TarWriter w, string name, UnixFileMode mode = Exec) =>
        w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = mode });

    public static void AddFile(TarWriter w, string name, string content, int uid = 0, int gid = 0) =>
        w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            Uid = uid,
            Gid = gid,
        });

    /// <summary>Writes config, manifest and index; <paramref name="damage"/> may change a layer's
    /// blob after its digest is computed (index, bytes → bytes written).</summary>
    public OciLayout Write(JsonObject? runConfig = null, Func<int, byte[], byte[]>? damage = null, string? configMediaType = null)
    {
        var layers = new JsonArray();
        var diffIds = new JsonArray();
        for (var i = 0; i < _layers.Count; i++)
        {
            var (mediaType, blob) = _layers[i];
            var digest = Blob(blob, damage is null ? null : b => damage(i, b));
            layers.Add((JsonNode)new JsonObject { ["mediaType"] = mediaType, ["digest"] = digest, ["size"] = blob.Length });
            diffIds.Add((JsonNode)JsonValue.Create(digest));
        }
        var config = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = runConfig ?? new JsonObject { ["Cmd"] = new JsonArray("sh") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = diffIds },
        };
        var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = configMediaType ?? "application/vnd.oci.image.config.v1+json", ["digest"] = Blob(configBytes), ["size"] = configBytes.Length },
            ["layers"] = layers,
        };
        var manifestBytes = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        ManifestDigest = Blob(manifestBytes);
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["manifests"] = new JsonArray(new JsonObject
            {
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
                ["digest"] = ManifestDigest,
                ["size"] = manifestBytes.Length,
                ["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = "latest" },
            }),
        };
        System.IO.File.WriteAllText(Path.Combine(Dir, "index.json"), index.ToJsonString());
        System.IO.File.WriteAllText(Path.Combine(Dir, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        return this;
    }

    private string Blob(byte[] bytes, Func<byte[], byte[]>? damage = null)
    {
        var hex = Convert.ToHexStringLower(SHA256.HashData(bytes));
        System.IO.File.WriteAllBytes(Path.Combine(Dir, "blobs", "sha256", hex), damage is null ? bytes : damage(bytes));
        return "sha256:" + hex;
    }
}
