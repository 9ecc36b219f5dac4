using System.Text.Json.Serialization;

namespace Csrt.Runtime.Spec;

// The "linux" object of config.json (config-linux.md). The class is LinuxConfig, not Linux, so
// that it never hides the Csrt.Linux namespace in code that imports both.

public sealed class LinuxConfig
{
    [JsonPropertyName("uidMappings")] public List<LinuxIdMapping>? UidMappings { get; set; }
    [JsonPropertyName("gidMappings")] public List<LinuxIdMapping>? GidMappings { get; set; }
    /// <summary>Keys in dotted ("net.ipv4.ip_forward") or slashed ("net/ipv4/ip_forward") form.</summary>
    [JsonPropertyName("sysctl")] public Dictionary<string, string>? Sysctl { get; set; }
    [JsonPropertyName("resources")] public LinuxResources? Resources { get; set; }
    /// <summary>Absolute (from the cgroup root), relative (runtime-chosen parent), or the systemd form "slice:prefix:name".</summary>
    [JsonPropertyName("cgroupsPath")] public string? CgroupsPath { get; set; }
    [JsonPropertyName("namespaces")] public List<LinuxNamespace>? Namespaces { get; set; }
    [JsonPropertyName("devices")] public List<LinuxDevice>? Devices { get; set; }
    [JsonPropertyName("seccomp")] public LinuxSeccomp? Seccomp { get; set; }
    /// <summary>private, rprivate, slave, rslave, shared, rshared, unbindable or runbindable.</summary>
    [JsonPropertyName("rootfsPropagation")] public string? RootfsPropagation { get; set; }
    [JsonPropertyName("maskedPaths")] public List<string>? MaskedPaths { get; set; }
    [JsonPropertyName("readonlyPaths")] public List<string>? ReadonlyPaths { get; set; }
    [JsonPropertyName("mountLabel")] public string? MountLabel { get; set; }
    [JsonPropertyName("intelRdt")] public LinuxIntelRdt? IntelRdt { get; set; }
    [JsonPropertyName("personality")] public LinuxPersonality? Personality { get; set; }
    /// <summary>Key = clock name: "monotonic" or "boottime".</summary>
    [JsonPropertyName("timeOffsets")] public Dictionary<string, LinuxTimeOffset>? TimeOffsets { get; set; }
    [JsonPropertyName("memoryPolicy")] public LinuxMemoryPolicy? MemoryPolicy { get; set; }
    /// <summary>Key = host interface name; moved into the container's network namespace.</summary>
    [JsonPropertyName("netDevices")] public Dictionary<string, LinuxNetDevice>? NetDevices { get; set; }
}

public sealed class LinuxNamespace
{
    /// <summary>pid, network, mount, ipc, uts, user, cgroup or time.</summary>
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    /// <summary>An existing namespace to join (e.g. /proc/1234/ns/net); null = create a new one.</summary>
    [JsonPropertyName("path")] public string? Path { get; set; }
}

public sealed class LinuxIdMapping
{
    [JsonPropertyName("containerID")] public uint ContainerId { get; set; }
    [JsonPropertyName("hostID")] public uint HostId { get; set; }
    [JsonPropertyName("size")] public uint Size { get; set; }
}

public sealed class LinuxTimeOffset
{
    [JsonPropertyName("secs"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Secs { get; set; }
    [JsonPropertyName("nanosecs"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public uint Nanosecs { get; set; }
}

/// <summary>A device node to create in the container.</summary>
public sealed class LinuxDevice
{
    /// <summary>c (char), b (block), u (unbuffered char) or p (FIFO).</summary>
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("path")] public string Path { get; set; } = "";
    /// <summary>Required unless Type is "p".</summary>
    [JsonPropertyName("major")] public long? Major { get; set; }
    [JsonPropertyName("minor")] public long? Minor { get; set; }
    /// <summary>Permission bits; null = 0666 as runc does.</summary>
    [JsonPropertyName("fileMode")] public uint? FileMode { get; set; }
    [JsonPropertyName("uid")] public uint? Uid { get; set; }
    [JsonPropertyName("gid")] public uint? Gid { get; set; }
}

public sealed class LinuxSeccomp
{
    [JsonPropertyName("defaultAction")] public string DefaultAction { get; set; } = "";
    /// <summary>Only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE; null = EPERM.</summary>
    [JsonPropertyName("defaultErrnoRet")] public uint? DefaultErrnoRet { get; set; }
    [JsonPropertyName("architectures")] public List<string>? Architectures { get; set; }
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
    [JsonPropertyName("listenerPath")] public string? ListenerPath { get; set; }
    [JsonPropertyName("listenerMetadata")] public string? ListenerMetadata { get; set; }
    [JsonPropertyName("syscalls")] public List<LinuxSyscall>? Syscalls { get; set; }
}

public sealed class LinuxSyscall
{
    [JsonPropertyName("names")] public List<string> Names { get; set; } = [];
    [JsonPropertyName("action")] public string Action { get; set; } = "";
    [JsonPropertyName("errnoRet")] public uint? ErrnoRet { get; set; }
    [JsonPropertyName("args")] public List<LinuxSeccompArg>? Args { get; set; }
}

public sealed class LinuxSeccompArg
{
    /// <summary>Syscall argument index, 0 to 5.</summary>
    [JsonPropertyName("index")] public uint Index { get; set; }
    [JsonPropertyName("value")] public ulong Value { get; set; }
    [JsonPropertyName("valueTwo"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ulong ValueTwo { get; set; }
    [JsonPropertyName("op")] public string Op { get; set; } = "";
}

public sealed class LinuxIntelRdt
{
    [JsonPropertyName("closID")] public string? ClosId { get; set; }
    /// <summary>Whole schemata written as is, after l3CacheSchema and memBwSchema.</summary>
    [JsonPropertyName("schemata")] public string? Schemata { get; set; }
    [JsonPropertyName("l3CacheSchema")] public string? L3CacheSchema { get; set; }
    [JsonPropertyName("memBwSchema")] public string? MemBwSchema { get; set; }
    [JsonPropertyName("enableCMT")] public bool? EnableCmt { get; set; }
    [JsonPropertyName("enableMBM")] public bool? EnableMbm { get; set; }
    [JsonPropertyName("enableMonitoring")] public bool? EnableMonitoring { get; set; }
}

public sealed class LinuxPersonality
{
    /// <summary>LINUX or LINUX32.</summary>
    [JsonPropertyName("domain")] public string Domain { get; set; } = "";
    /// <summary>No flags are defined by the spec; any given are ignored with a warning.</summary>
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
}

/// <summary>set_mempolicy(2) for the container process.</summary>
public sealed class LinuxMemoryPolicy
{
    /// <summary>MPOL_DEFAULT, MPOL_BIND, MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE, MPOL_PREFERRED, MPOL_PREFERRED_MANY or MPOL_LOCAL.</summary>
    [JsonPropertyName("mode")] public string Mode { get; set; } = "";
    /// <summary>NUMA node list, e.g. "0-3,7".</summary>
    [JsonPropertyName("nodes")] public string? Nodes { get; set; }
    /// <summary>MPOL_F_NUMA_BALANCING, MPOL_F_RELATIVE_NODES, MPOL_F_STATIC_NODES.</summary>
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
}

public sealed class LinuxNetDevice
{
    /// <summary>Name inside the container; null = keep the host name.</summary>
    [JsonPropertyName("name")] public string? Name { get; set; }
}
