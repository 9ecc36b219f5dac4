using Csrt.Linux;

namespace Csrt.Runtime.Spec;

/// <summary>
/// The config.json `csrt spec` writes: the same container as `runc spec` (busybox-friendly: sh on a
/// terminal, a read-only rootfs, the minimal capability set, the standard /proc /dev /sys mounts,
/// masked and read-only /proc and /sys entries, RLIMIT_NOFILE 1024), with csrt's hostname and
/// spec version. <c>rootless</c> gives runc's --rootless variant: a user namespace mapping the
/// caller's ids to root, no network namespace, /sys bind-mounted, no device cgroup rule, devpts
/// without gid=5.
/// </summary>
public static class DefaultSpec
{
    /// <summary>For --rootless the caller's effective uid/gid are mapped to 0 in the container.</summary>
    public static RuntimeSpec Create(bool rootless) =>
        rootless ? Create(true, ProcessControl.GetEffectiveUid(), ProcessControl.GetEffectiveGid()) : Create(false, 0, 0);

    public static RuntimeSpec Create(bool rootless, uint hostUid, uint hostGid)
    {
        string[] caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
        var spec = new RuntimeSpec
        {
            OciVersion = BuildInfo.OciVersion,
            Process = new Process
            {
                Terminal = true,
                User = new User { Uid = 0, Gid = 0 },
                Args = ["sh"],
                Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                Cwd = "/",
                // runc spec leaves inheritable empty: inheriting caps across exec only helps attackers.
                Capabilities = new LinuxCapabilities { Bounding = [.. caps], Effective = [.. caps], Permitted = [.. caps], Ambient = [.. caps] },
                Rlimits = [new PosixRlimit { Type = "RLIMIT_NOFILE", Hard = 1024, Soft = 1024 }],
                NoNewPrivileges = true,
            },
            Root = new Root { Path = "rootfs", Readonly = true },
            Hostname = "csrt",
            Mounts =
            [
                new Mount { Destination = "/proc", Type = "proc", Source = "proc" },
                new Mount { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
                new Mount
                {
                    Destination = "/dev/pts", Type = "devpts", Source = "devpts",
                    // Without a user namespace owning gid 5, rootless devpts cannot use gid=5.
                    Options = rootless
                        ? ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
                        : ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
                },
                new Mount { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
                new Mount { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
                // A fresh sysfs needs a network namespace owned by the same user namespace; rootless
                // shares the host's network, so it binds the host's /sys instead.
                rootless
                    ? new Mount { Destination = "/sys", Type = "none", Source = "/sys", Options = ["rbind", "nosuid", "noexec", "nodev", "ro"] }
                    : new Mount { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
                new Mount { Destination = "/sys/fs/cgroup", Type = "cgroup", Source = "cgroup", Options = ["nosuid", "noexec", "nodev", "relatime", "ro"] },
            ],
            Linux = new LinuxConfig
            {
                MaskedPaths =
                [
                    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                ],
                ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
            },
        };

        if (rootless)
        {
            spec.Linux.UidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = hostUid, Size = 1 }];
            spec.Linux.GidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = hostGid, Size = 1 }];
            spec.Linux.Namespaces =
            [
                new() { Type = NamespaceTypes.Pid }, new() { Type = NamespaceTypes.Ipc }, new() { Type = NamespaceTypes.Uts },
                new() { Type = NamespaceTypes.Mount }, new() { Type = NamespaceTypes.User },
            ];
        }
        else
        {
            // Deny every device by default; the runtime adds the standard devices on top.
            spec.Linux.Resources = new LinuxResources { Devices = [new LinuxDeviceCgroup { Allow = false, Access = "rwm" }] };
            spec.Linux.Namespaces =
            [
                new() { Type = NamespaceTypes.Pid }, new() { Type = NamespaceTypes.Network }, new() { Type = NamespaceTypes.Ipc },
                new() { Type = NamespaceTypes.Uts }, new() { Type = NamespaceTypes.Mount },
            ];
        }
        return spec;
    }
}
