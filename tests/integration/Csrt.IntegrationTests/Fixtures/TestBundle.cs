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
    /// A config.json like <c>runc spec</c>'s default, for <paramref name="args"/>: root "rootfs",
    /// the default mounts (proc, /dev tmpfs, devpts, shm, mqueue, sysfs, cgroup), runc's default
    /// capabilities, rlimits, masked and read-only paths, and the given namespaces. Adjustments
    /// that follow runc's rules: mqueue is mounted only with an ipc namespace, and sysfs is bind
    /// mounted (read-only) without a network namespace; a user namespace gets an identity mapping
    /// of ids 0-65535 so the host-owned rootfs stays usable.
    /// Returned as a JSON string (edit it with <see cref="JsonNode.Parse(string, JsonNodeOptions?, JsonDocumentOptions)"/> if needed).
    /// </summary>
    /// <param name="namespaces">OCI namespace types; default pid, network, ipc, uts, mount.</param>
    public static string DefaultConfigJson(IReadOnlyList<string> args, bool terminal = false,
        IReadOnlyCollection<string>? namespaces = null, string hostname = "csrt", bool readonlyRoot = true,
        string? cgroupsPath = null, IReadOnlyList<string>? env = null)
    {
        namespaces ??= ["pid", "network", "ipc", "uts", "mount"];
        string[] caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

        var mounts = new JsonArray(
            Mount("/proc", "proc", "proc", []),
            Mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            Mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
            Mount("/dev/shm", "shm", "tmpfs", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]));
        if (namespaces.Contains("ipc"))
            mounts.Add((JsonNode)Mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]));
        mounts.Add((JsonNode)(namespaces.Contains("network")
            ? Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"])
            : Mount("/sys", "/sys", "none", ["rbind", "nosuid", "noexec", "nodev", "ro"])));
        mounts.Add((JsonNode)Mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"]));

        var linux = new JsonObject
        {
            ["resources"] = new JsonObject
            {
                ["devices"] = new JsonArray(new JsonObject { ["allow"] = false, ["access"] = "rwm" }),
            },
            ["namespaces"] = new JsonArray(namespaces.Select(n => (JsonNode)new JsonObject { ["type"] = n }).ToArray()),
            ["maskedPaths"] = Strings([
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ]),
            ["readonlyPaths"] = Strings(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]),
        };
        if (cgroupsPath is not null)
            linux["cgroupsPath"] = cgroupsPath;
        if (namespaces.Contains("user"))
        {
            linux["uidMappings"] = new JsonArray(IdMap());
            linux["gidMappings"] = new JsonArray(IdMap());
        }

        var config = new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject
            {
                ["terminal"] = terminal,
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["args"] = Strings(args),
                ["env"] = Strings(env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]),
                ["cwd"] = "/",
                ["capabilities"] = new JsonObject
                {
                    ["bounding"] = Strings(caps),
                    ["effective"] = Strings(caps),
                    ["permitted"] = Strings(caps),
                    ["ambient"] = Strings(caps),
                },
                ["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["hard"] = 1024, ["soft"] = 1024 }),
                ["noNewPrivileges"] = true,
            },
            ["root"] = new JsonObject { ["path"] = "rootfs", ["readonly"] = readonlyRoot },
            ["hostname"] = hostname,
            ["mounts"] = mounts,
            ["linux"] = linux,
        };
        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });

        static JsonObject Mount(string destination, string source, string type, string[] options)
        {
            var m = new JsonObject { ["destination"] = destination, ["type"] = type, ["source"] = source };
            if (options.Length > 0)
                m["options"] = Strings(options);
            return m;
        }

        static JsonObject IdMap() => new() { ["containerID"] = 0, ["hostID"] = 0, ["size"] = 65536 };

        static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
    }

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
