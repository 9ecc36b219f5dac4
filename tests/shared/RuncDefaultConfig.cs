using System.Text.Json.Nodes;

namespace Csrt.TestSupport;

/// <summary>
/// The config.json both test lanes start from, linked into each test project (the VM lane has no
/// reference to the integration fixtures), so the two cannot drift apart.
/// </summary>
internal static class RuncDefaultConfig
{
    /// <summary>
    /// A config like <c>runc spec</c>'s default for <paramref name="args"/>: root "rootfs", the default
    /// mounts (proc, /dev tmpfs, devpts, shm, mqueue, sysfs, a read-only cgroup), runc's default
    /// capabilities, rlimits, masked and read-only paths, every device denied, and the given namespaces.
    /// Adjustments that follow runc's rules: mqueue is mounted only with an ipc namespace, and sysfs is
    /// bind mounted (read-only) without a network namespace; a user namespace gets an identity mapping
    /// of ids 0-65535 so the host-owned rootfs stays usable. <paramref name="cgroupsPath"/> is set when given.
    /// </summary>
    public static JsonObject Build(IReadOnlyList<string> args, IReadOnlyCollection<string> namespaces,
        IReadOnlyList<string> env, string hostname, bool terminal = false, bool readonlyRoot = true,
        string? cgroupsPath = null)
    {
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

        return new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject
            {
                ["terminal"] = terminal,
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["args"] = Strings(args),
                ["env"] = Strings(env),
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
    }

    private static JsonObject Mount(string destination, string source, string type, string[] options)
    {
        var m = new JsonObject { ["destination"] = destination, ["type"] = type, ["source"] = source };
        if (options.Length > 0)
            m["options"] = Strings(options);
        return m;
    }

    private static JsonObject IdMap() => new() { ["containerID"] = 0, ["hostID"] = 0, ["size"] = 65536 };

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
}
