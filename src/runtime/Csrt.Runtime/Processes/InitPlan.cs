namespace Csrt.Runtime.Processes;

/// <summary>
/// Everything the container init does, computed by the runtime from config.json before the init
/// exists (<see cref="InitPlanBuilder"/>), so the init neither parses the OCI spec nor loads
/// libseccomp: it reads this plan from the sync socket and executes it step by step.
/// </summary>
public sealed class InitPlan
{
    public string ContainerId { get; set; } = "";
    public string Bundle { get; set; } = "";
    /// <summary>Absolute host path of the root filesystem.</summary>
    public string Rootfs { get; set; } = "";
    /// <summary>The mount point holding the rootfs (the longest one of the runtime's mountinfo
    /// that prefixes it), made private by the init before it binds the rootfs, since pivot_root
    /// refuses a shared parent; null without one. The init's mount namespace starts as a copy of
    /// the runtime's, so the runtime can find it.</summary>
    public string? RootfsParentMount { get; set; }
    public bool RootfsReadonly { get; set; }
    /// <summary>MS_* propagation applied to "/" before anything else (rootfsPropagation, default rslave).</summary>
    public ulong RootPropagation { get; set; }
    /// <summary>MS_* propagation applied again to the container's "/" once it is the root: the
    /// spec's rootfsPropagation as given, 0 when the spec sets none.</summary>
    public ulong NewRootPropagation { get; set; }
    public bool NoPivot { get; set; }
    public bool NoNewKeyring { get; set; }
    /// <summary>The container has a mount namespace of its own (created or joined by path). Without
    /// one the init works in the runtime's mount namespace: no pivot_root, a chroot.</summary>
    public bool OwnMountNamespace { get; set; }
    /// <summary>The init runs in a user namespace other than the host's: created, joined, or the
    /// runtime's own when it runs as root of one (rootless podman). Mount flags are locked, device
    /// nodes cannot be made, setgroups may be denied.</summary>
    public bool InUserNamespace { get; set; }
    public bool NewCgroupNamespace { get; set; }
    public bool NewNetworkNamespace { get; set; }
    public List<MountStep> Mounts { get; set; } = new();
    /// <summary>Create the default /dev entries (when /dev is not bind-mounted from the host).</summary>
    public bool SetupDev { get; set; }
    public List<DeviceNode> Devices { get; set; } = new();
    public string? Hostname { get; set; }
    public string? Domainname { get; set; }
    public Dictionary<string, string>? Sysctl { get; set; }
    public List<string> MaskedPaths { get; set; } = new();
    public List<string> ReadonlyPaths { get; set; } = new();
    public List<RlimitStep> Rlimits { get; set; } = new();
    public int? OomScoreAdj { get; set; }
    public ProcessPlan Process { get; set; } = new();
    public List<HookStep> CreateContainerHooks { get; set; } = new();
    public List<HookStep> StartContainerHooks { get; set; } = new();
    /// <summary>The OCI state (JSON) given to createContainer and startContainer hooks on stdin,
    /// status "created"; the parent fills in the pid before sending.</summary>
    public string HookState { get; set; } = "";
    /// <summary>Extra fds (3 … 3+N-1) passed through to the user process.</summary>
    public int PreserveFds { get; set; }
    /// <summary>fd number of the console socket (terminal mode), -1 without.</summary>
    public int ConsoleSocketFd { get; set; } = -1;
    /// <summary>fd number of an O_PATH handle of exec.fifo; the init opens it for writing and blocks until `start`.</summary>
    public int ExecFifoFd { get; set; } = -1;
}

/// <summary>One mount, with its options already split (see Rootfs.MountOptions).</summary>
public sealed class MountStep
{
    public string Kind { get; set; } = MountKinds.Normal;
    public string? Source { get; set; }
    /// <summary>Path inside the container (absolute, resolved under the rootfs without leaving it).</summary>
    public string Destination { get; set; } = "";
    public string? Type { get; set; }
    public ulong Flags { get; set; }
    public ulong ClearedFlags { get; set; }
    public List<ulong> Propagation { get; set; } = new();
    public ulong SetAttributes { get; set; }
    public ulong ClearAttributes { get; set; }
    public string? Data { get; set; }
    public bool CopyUp { get; set; }
    /// <summary>For cgroup v1 mounts: per hierarchy, the name under /sys/fs/cgroup and the host directory of the container's cgroup.</summary>
    public List<CgroupMountSource>? CgroupSources { get; set; }
    /// <summary>For an id-mapped bind: the fd number of the detached, id-mapped mount the runtime
    /// made (Rootfs.IdMappedMounts), which the init attaches instead of binding the source; -1 otherwise.</summary>
    public int MountFd { get; set; } = -1;
}

public static class MountKinds
{
    public const string Normal = "normal";
    public const string Bind = "bind";
    public const string CgroupV1 = "cgroup-v1";
    public const string CgroupV2 = "cgroup-v2";
}

public sealed class CgroupMountSource
{
    /// <summary>Directory name under the cgroup mount, e.g. "memory" or "cpu,cpuacct".</summary>
    public string Name { get; set; } = "";
    /// <summary>Host directory to bind (the container's cgroup in that hierarchy).</summary>
    public string HostPath { get; set; } = "";
    /// <summary>mount -t cgroup options when the container has its own cgroup namespace (e.g. "memory", "none,name=systemd").</summary>
    public string Options { get; set; } = "";
    /// <summary>Symlinks to create beside it (a combined "cpu,cpuacct" gets "cpu" and "cpuacct").</summary>
    public List<string> Aliases { get; set; } = new();
}

public sealed class DeviceNode
{
    public string Path { get; set; } = "";
    /// <summary>'c', 'b', 'p' (fifo).</summary>
    public char Type { get; set; }
    public long Major { get; set; }
    public long Minor { get; set; }
    public uint FileMode { get; set; }
    public uint Uid { get; set; }
    public uint Gid { get; set; }
}

public sealed class RlimitStep
{
    public int Resource { get; set; }
    public string Name { get; set; } = "";
    public ulong Soft { get; set; }
    public ulong Hard { get; set; }
}

public sealed class HookStep
{
    public string Path { get; set; } = "";
    public List<string> Args { get; set; } = new();
    public List<string> Env { get; set; } = new();
    public int? TimeoutSeconds { get; set; }
}

/// <summary>The user process: what csrt_exec_final needs, and the terminal.</summary>
public sealed class ProcessPlan
{
    public List<string> Args { get; set; } = new();
    public List<string> Env { get; set; } = new();
    public string Cwd { get; set; } = "/";
    public uint Uid { get; set; }
    public uint Gid { get; set; }
    public List<uint>? AdditionalGids { get; set; }
    public int? Umask { get; set; }
    public bool SetCapabilities { get; set; }
    public ulong CapBounding { get; set; }
    public ulong CapEffective { get; set; }
    public ulong CapPermitted { get; set; }
    public ulong CapInheritable { get; set; }
    public ulong CapAmbient { get; set; }
    public bool NoNewPrivileges { get; set; }
    public byte[]? Seccomp { get; set; }
    public uint SeccompFlags { get; set; }
    public int? Personality { get; set; }
    public bool Terminal { get; set; }
    public ushort ConsoleHeight { get; set; }
    public ushort ConsoleWidth { get; set; }

    /// <summary>The finishing sequence for csrt_exec_final (the init's and exec's last step).</summary>
    /// <param name="env">The environment to use (the plan's, with HOME added when missing).</param>
    /// <param name="setgroupsDenied">In a user namespace with setgroups "deny", groups cannot be set.</param>
    public Csrt.Linux.ExecPlan ToExecPlan(List<string> env, bool setgroupsDenied) => new()
    {
        Path = Args[0],
        Args = Args,
        Env = env,
        Cwd = Cwd,
        SetIds = true,
        Uid = Uid,
        Gid = Gid,
        AdditionalGids = setgroupsDenied ? null : AdditionalGids ?? new List<uint>(),
        Capabilities = SetCapabilities ? new Csrt.Linux.CapabilitySets(CapBounding, CapEffective, CapPermitted, CapInheritable, CapAmbient) : null,
        NoNewPrivileges = NoNewPrivileges,
        Umask = Umask ?? 0x12, // 0022, runc's default
        Personality = Personality,
        SeccompFilter = Seccomp,
        SeccompFlags = SeccompFlags,
    };
}
