using System.Text.Json.Nodes;

namespace Csrt.VmTests.Fixtures;

/// <summary>config.json documents for <see cref="GuestBundle"/>.</summary>
public static class GuestConfig
{
    /// <summary>
    /// A config like <c>runc spec</c>'s default for <paramref name="args"/> (no terminal): the default mounts
    /// (proc, /dev, devpts, shm, mqueue, sysfs, a read-only cgroup), runc's default capabilities, masked and
    /// read-only paths, every device denied, and the pid, network, ipc, uts, mount and cgroup namespaces.
    /// <c>linux.resources</c> is an object the caller fills in; <paramref name="cgroupsPath"/> is set when given.
    /// </summary>
    public static JsonObject Default(IReadOnlyList<string> args, string? cgroupsPath = null, bool readonlyRoot = true)
    {
        string[] namespaces = ["pid", "network", "ipc", "uts", "mount", "cgroup"];
        string[] caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
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
        return new JsonObject
        {
            ["ociVersion"] = "1.0.2",
            ["process"] = new JsonObject
            {
                ["terminal"] = false,
                ["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0 },
                ["args"] = Strings(args),
                ["env"] = Strings(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]),
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
            ["hostname"] = "csrt-vm",
            ["mounts"] = new JsonArray(
                Mount("/proc", "proc", "proc", []),
                Mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                Mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
                Mount("/dev/shm", "shm", "tmpfs", ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
                Mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
                Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
                Mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", "ro"])),
            ["linux"] = linux,
        };
    }

    /// <summary><c>linux.resources</c> of <paramref name="config"/>.</summary>
    public static JsonObject Resources(this JsonObject config) => config["linux"]!["resources"]!.AsObject();

    private static JsonObject Mount(string destination, string source, string type, string[] options)
    {
        var m = new JsonObject { ["destination"] = destination, ["type"] = type, ["source"] = source };
        if (options.Length > 0)
            m["options"] = Strings(options);
        return m;
    }

    private static JsonArray Strings(IEnumerable<string> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
}

/// <summary>Small helpers for building configs inline.</summary>
public static class JsonObjectExtensions
{
    /// <summary>Runs <paramref name="edit"/> on <paramref name="o"/> and returns it.</summary>
    public static JsonObject Also(this JsonObject o, Action<JsonObject> edit)
    {
        edit(o);
        return o;
    }
}
