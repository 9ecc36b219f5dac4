namespace Csrt.Runtime.Spec;

// The closed vocabularies of config.json, in one place: the validator checks against them, the
// features document lists them, and the engines that apply a spec map them to kernel numbers.

/// <summary>Linux capability names and numbers (linux/capability.h), up to CAP_CHECKPOINT_RESTORE.</summary>
public static class KnownCapabilities
{
    /// <summary>All names, index = capability number.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
        "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ];

    /// <summary>Highest capability number this runtime knows.</summary>
    public const int Last = 40;

    private static readonly Dictionary<string, int> Numbers = IndexOf(All);

    public static bool TryGetNumber(string name, out int number) => Numbers.TryGetValue(name, out number);

    internal static Dictionary<string, int> IndexOf(IReadOnlyList<string> names)
    {
        var map = new Dictionary<string, int>(names.Count, StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
            map[names[i]] = i;
        return map;
    }

    /// <summary>Whether the name has the shape of a capability (CAP_ + upper case, digits, _),
    /// i.e. could be one a newer kernel knows.</summary>
    public static bool IsWellFormed(string name)
    {
        if (name.Length <= 4 || !name.StartsWith("CAP_", StringComparison.Ordinal))
            return false;
        foreach (var c in name.AsSpan(4))
            if (!(c is >= 'A' and <= 'Z' or >= '0' and <= '9' or '_'))
                return false;
        return true;
    }
}

/// <summary>RLIMIT_* names and their resource numbers (asm-generic/resource.h, x86-64).</summary>
public static class KnownRlimits
{
    /// <summary>All names, index = resource number.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
        "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
        "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    ];

    private static readonly Dictionary<string, int> Numbers = KnownCapabilities.IndexOf(All);

    public static bool TryGetResource(string name, out int resource) => Numbers.TryGetValue(name, out resource);

    /// <summary>The resource number of <paramref name="name"/>; an unknown name is a spec error at
    /// <paramref name="path"/> (the rlimit's type) in <paramref name="file"/>.</summary>
    public static int GetResource(string name, string file, string path) =>
        Numbers.TryGetValue(name, out var resource)
            ? resource
            : throw new SpecValidationException(file, path, "an RLIMIT_* name", $"unknown rlimit \"{name}\"");
}

/// <summary>linux.namespaces[].type values.</summary>
public static class NamespaceTypes
{
    public const string Pid = "pid";
    public const string Network = "network";
    public const string Mount = "mount";
    public const string Ipc = "ipc";
    public const string Uts = "uts";
    public const string User = "user";
    public const string Cgroup = "cgroup";
    public const string Time = "time";

    /// <summary>Sorted, as runc's features document lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Cgroup, Ipc, Mount, Network, Pid, Time, User, Uts];

    public static bool IsKnown(string type) => All.Contains(type, StringComparer.Ordinal);
}

/// <summary>Seccomp vocabulary (libseccomp 2.5 names, as the spec lists them).</summary>
public static class SeccompNames
{
    public static IReadOnlyList<string> Actions { get; } =
    [
        "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
    ];

    public static IReadOnlyList<string> Operators { get; } =
    [
        "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
    ];

    public static IReadOnlyList<string> Architectures { get; } =
    [
        "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
        "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
    ];

    public static IReadOnlyList<string> Flags { get; } =
    [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ];

    /// <summary>Actions that carry an errno (errnoRet / defaultErrnoRet).</summary>
    public static bool TakesErrno(string action) => action is "SCMP_ACT_ERRNO" or "SCMP_ACT_TRACE";
}

/// <summary>Hook names, in lifecycle order.</summary>
public static class HookNames
{
    public static IReadOnlyList<string> All { get; } =
        ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];
}

/// <summary>Other small closed sets.</summary>
public static class SpecValues
{
    public static IReadOnlyList<string> RootfsPropagations { get; } =
        ["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"];

    public static IReadOnlyList<string> SchedulerPolicies { get; } =
        ["SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"];

    public static IReadOnlyList<string> SchedulerFlags { get; } =
    [
        "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_POLICY",
        "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX",
    ];

    public static IReadOnlyList<string> IoPriorityClasses { get; } = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];

    public static IReadOnlyList<string> PersonalityDomains { get; } = ["LINUX", "LINUX32"];

    public static IReadOnlyList<string> MemoryPolicyModes { get; } =
    [
        "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED",
        "MPOL_PREFERRED_MANY", "MPOL_LOCAL",
    ];

    public static IReadOnlyList<string> MemoryPolicyFlags { get; } =
        ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"];

    /// <summary>Clocks a time namespace can offset.</summary>
    public static IReadOnlyList<string> TimeOffsetClocks { get; } = ["monotonic", "boottime"];
}
