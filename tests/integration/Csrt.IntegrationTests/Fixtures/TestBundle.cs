using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Csrt.Linux;

namespace Csrt.IntegrationTests.Fixtures;

/// <summary>
/// A temporary OCI bundle: <c>&lt;Dir&gt;/config.json</c> and <c>&lt;Dir&gt;/rootfs</c>, the rootfs being
/// an overlayfs over the cached busybox rootfs with a per-bundle upper dir, so a container may
/// write to it without touching the cache and creating one costs a mount, not a copy.
/// Dispose unmounts and deletes everything, whatever state the test left it in; it does not stop
/// containers (the runtime under test owns them), but detaches a rootfs they still hold.
/// </summary>
public sealed class TestBundle : IDisposable
{
    private static readonly string BaseDir = Path.Combine(RepoPaths.RunDir, "bundles");
    private readonly string overlayDir;
    private bool disposed;

    private TestBundle(string id, string configJson)
    {
        Id = id;
        Dir = Path.Combine(BaseDir, id);
        overlayDir = Dir + ".overlay";
        try
        {
            var lower = TestImages.Get().RootfsDir;
            Directory.CreateDirectory(RootfsDir);
            Directory.CreateDirectory(Path.Combine(overlayDir, "upper"));
            Directory.CreateDirectory(Path.Combine(overlayDir, "work"));
            Mounts.Mount("overlay", RootfsDir, "overlay", MountFlags.None,
                $"lowerdir={lower},upperdir={overlayDir}/upper,workdir={overlayDir}/work");
            WriteConfig(configJson);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Creates a bundle with <paramref name="configJson"/> as config.json; the id is random unless given.</summary>
    public static TestBundle Create(string configJson, string? id = null) =>
        new(id ?? NewId(), configJson);

    /// <summary>A fresh container id, unique across concurrent test runs: <c>&lt;prefix&gt;-&lt;12 hex&gt;</c>.</summary>
    public static string NewId(string prefix = "csrt-test") =>
        $"{prefix}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";

    /// <summary>The container id this bundle was made for (also the directory name).</summary>
    public string Id { get; }

    /// <summary>The bundle directory (pass it as <c>--bundle</c>).</summary>
    public string Dir { get; }

    public string RootfsDir => Path.Combine(Dir, "rootfs");

    public string ConfigPath => Path.Combine(Dir, "config.json");

    /// <summary>The overlay's upper dir: what the container wrote into its rootfs.</summary>
    public string UpperDir => Path.Combine(overlayDir, "upper");

    /// <summary>Replaces config.json.</summary>
    public void WriteConfig(string json) => File.WriteAllText(ConfigPath, json);

    /// <summary>
    /// A config.json like <c>runc spec</c>'s default for <paramref name="args"/> (see
    /// <see cref="Csrt.TestSupport.RuncDefaultConfig.Build"/>), with hostname "csrt" and TERM=xterm in its env unless given.
    /// Returned as a JSON string (edit it with <see cref="JsonNode.Parse(string, JsonNodeOptions?, JsonDocumentOptions)"/> if needed).
    /// </summary>
    /// <param name="namespaces">OCI namespace types; default pid, network, ipc, uts, mount.</param>
    public static string DefaultConfigJson(IReadOnlyList<string> args, bool terminal = false,
        IReadOnlyCollection<string>? namespaces = null, string hostname = "csrt", bool readonlyRoot = true,
        string? cgroupsPath = null, IReadOnlyList<string>? env = null) =>
        Csrt.TestSupport.RuncDefaultConfig.Build(args, namespaces ?? ["pid", "network", "ipc", "uts", "mount"],
                env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"], hostname,
                terminal, readonlyRoot, cgroupsPath)
            .ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        HostState.UnmountAllUnder(Dir);
        DeleteTree(Dir);
        DeleteTree(overlayDir);
    }

    private static void DeleteTree(string path)
    {
        if (Directory.Exists(path))
            Directory.Delete(path, recursive: true);
    }
}
