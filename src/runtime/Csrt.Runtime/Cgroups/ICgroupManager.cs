using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups;

/// <summary>Freezer state as read back from the kernel.</summary>
public enum FreezerState
{
    Thawed,
    Freezing,
    Frozen,
}

/// <summary>Where OOM kills of a container are reported: v1 memory.oom_control (eventfd) or v2
/// memory.events (inotify). See <see cref="CgroupOomWatcher"/>.</summary>
public sealed record OomSource(string Directory, bool Unified);

/// <summary>What the factory needs to place a container's cgroup.</summary>
public sealed class CgroupConfig
{
    /// <summary>The container id: the cgroup name when <see cref="CgroupsPath"/> is empty.</summary>
    public required string ContainerId { get; init; }

    /// <summary>linux.cgroupsPath of the spec (see <see cref="CgroupPaths"/> for the rules).</summary>
    public string? CgroupsPath { get; init; }

    /// <summary>`--systemd-cgroup`: refused, the systemd driver is not implemented.</summary>
    public bool UseSystemd { get; init; }

    /// <summary>Receives warnings (ignored settings), e.g. for the CLI's log.</summary>
    public Action<string>? Warning { get; init; }
}

/// <summary>
/// A container's cgroup in every hierarchy of the host. Made by <see cref="CgroupManager"/>:
/// <see cref="CgroupV2Manager"/> on unified hosts, <see cref="CgroupV1Manager"/> on legacy and hybrid
/// hosts (where it also creates and joins the same path in the cgroup2 hierarchy, as runc does).
/// Typical create: <c>Create(resources)</c>, spawn (v2: into <see cref="OpenUnifiedDirectory"/> with
/// clone3), <c>Join(pid)</c>; later <c>Update</c>, <c>Freeze</c>/<c>Thaw</c>, <c>Stats</c>,
/// <c>KillAll</c>, <c>Destroy</c>. Save <see cref="Paths"/> in the container state and reopen with
/// <see cref="CgroupManager.Open"/>: a relative cgroupsPath resolves against the caller's own cgroup,
/// which differs between processes.
/// </summary>
public interface ICgroupManager
{
    CgroupLayout Layout { get; }

    /// <summary>Controller → directory ("cpu", "memory", "name=systemd" …; "" is the cgroup2 directory,
    /// runc's convention), for the state file and `csrt state`.</summary>
    IReadOnlyDictionary<string, string> Paths { get; }

    /// <summary>The directory in the cgroup2 hierarchy (all of it on v2, the side hierarchy on hybrid); null on legacy hosts.</summary>
    string? UnifiedPath { get; }

    /// <summary>Where to watch for OOM kills; null when no memory controller is reachable.</summary>
    OomSource? OomSource { get; }

    /// <summary>Receives warnings about settings that are ignored.</summary>
    Action<string>? Warning { get; set; }

    /// <summary>Set by <see cref="RootlessCgroups"/>: device rules are not applied (they need
    /// CAP_SYS_ADMIN over the host; runc ignores them when rootless).</summary>
    bool Rootless { get; set; }

    /// <summary>True while any of the directories exists.</summary>
    bool Exists { get; }

    /// <summary>Creates the directories and applies <paramref name="resources"/> (and runc's default
    /// device rules) before any process joins. Directories created by a failed call are removed.</summary>
    void Create(LinuxResources? resources);

    /// <summary>Moves a process into the cgroup in every hierarchy (cgroup.procs).</summary>
    void Join(int pid);

    /// <summary>The directories in the v1 hierarchies (none on a unified host). A new process
    /// joins them itself, through SpawnOptions.CgroupTaskFiles ("tasks" in each), instead of
    /// being moved by <see cref="Join"/>: that waits for an RCU grace period.</summary>
    IReadOnlyList<string> LegacyDirectories { get; }

    /// <summary><see cref="Join"/> for the cgroup2 directory only (nothing without one): for a
    /// process that joined <see cref="LegacyDirectories"/> itself but could not be born in
    /// <see cref="OpenUnifiedDirectory"/>.</summary>
    void JoinUnified(int pid);

    /// <summary>An O_DIRECTORY fd of the cgroup2 directory for clone3(CLONE_INTO_CGROUP); null when
    /// there is none. On a hybrid host the child still needs <see cref="Join"/> for the v1 hierarchies.</summary>
    FileDescriptor? OpenUnifiedDirectory();

    /// <summary>Changes only the fields that are set (`csrt update`, containerd Update).</summary>
    void Update(LinuxResources resources);

    /// <summary>Reads the current cpu, cpuset, memory, pids and block-io weight settings back.</summary>
    LinuxResources ReadResources();

    FreezerState Freeze();

    FreezerState Thaw();

    FreezerState GetFreezerState();

    /// <summary>Pids in the cgroup (and, when <paramref name="recursive"/>, in its sub-cgroups).</summary>
    IReadOnlyList<int> GetPids(bool recursive = true);

    /// <summary>Signals every process: cgroup.kill for SIGKILL when the kernel has it, else freeze, signal
    /// each pid, thaw (so nothing forks in between).</summary>
    void KillAll(int signal);

    /// <summary>Removes every directory (sub-cgroups first), retrying briefly while the kernel still
    /// counts exiting tasks (EBUSY). Missing directories are fine.</summary>
    void Destroy();

    CgroupStats Stats();
}
