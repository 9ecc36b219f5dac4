using System.Text.Json.Serialization;

namespace Csrt.Runtime.Spec;

// The OCI runtime-spec config.json (config.md, v1.2 plus the later Linux additions runc and crun
// read). Property order follows the spec's Go bindings so that `csrt spec` prints fields in the
// order `runc spec` does. Optional values are nullable so that a config round-trips without
// gaining fields; Go's `omitempty` on plain bools and numbers is mirrored with WhenWritingDefault.
// Required strings default to "" and the validator reports them as missing.

/// <summary>The whole config.json of a bundle.</summary>
public sealed class RuntimeSpec
{
    [JsonPropertyName("ociVersion")] public string OciVersion { get; set; } = "";
    [JsonPropertyName("process")] public Process? Process { get; set; }
    [JsonPropertyName("root")] public Root? Root { get; set; }
    [JsonPropertyName("hostname")] public string? Hostname { get; set; }
    [JsonPropertyName("domainname")] public string? Domainname { get; set; }
    [JsonPropertyName("mounts")] public List<Mount>? Mounts { get; set; }
    [JsonPropertyName("hooks")] public LifecycleHooks? Hooks { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    [JsonPropertyName("linux")] public LinuxConfig? Linux { get; set; }
}

/// <summary>process: what runs in the container (also the whole body of `exec --process`).</summary>
public sealed class Process
{
    [JsonPropertyName("terminal"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Terminal { get; set; }
    [JsonPropertyName("consoleSize")] public ConsoleSize? ConsoleSize { get; set; }
    [JsonPropertyName("user")] public User User { get; set; } = new();
    [JsonPropertyName("args")] public List<string>? Args { get; set; }
    /// <summary>Windows only; kept so a config that carries it round-trips.</summary>
    [JsonPropertyName("commandLine")] public string? CommandLine { get; set; }
    [JsonPropertyName("env")] public List<string>? Env { get; set; }
    [JsonPropertyName("cwd")] public string Cwd { get; set; } = "";
    [JsonPropertyName("capabilities")] public LinuxCapabilities? Capabilities { get; set; }
    [JsonPropertyName("rlimits")] public List<PosixRlimit>? Rlimits { get; set; }
    [JsonPropertyName("noNewPrivileges"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool NoNewPrivileges { get; set; }
    [JsonPropertyName("apparmorProfile")] public string? ApparmorProfile { get; set; }
    /// <summary>null = leave /proc/[pid]/oom_score_adj alone.</summary>
    [JsonPropertyName("oomScoreAdj")] public int? OomScoreAdj { get; set; }
    [JsonPropertyName("scheduler")] public Scheduler? Scheduler { get; set; }
    [JsonPropertyName("selinuxLabel")] public string? SelinuxLabel { get; set; }
    [JsonPropertyName("ioPriority")] public IoPriority? IoPriority { get; set; }
    [JsonPropertyName("execCPUAffinity")] public ExecCpuAffinity? ExecCpuAffinity { get; set; }
}

public sealed class ConsoleSize
{
    [JsonPropertyName("height")] public uint Height { get; set; }
    [JsonPropertyName("width")] public uint Width { get; set; }
}

public sealed class User
{
    [JsonPropertyName("uid")] public uint Uid { get; set; }
    [JsonPropertyName("gid")] public uint Gid { get; set; }
    /// <summary>null = keep the runtime's default umask (0022).</summary>
    [JsonPropertyName("umask")] public uint? Umask { get; set; }
    [JsonPropertyName("additionalGids")] public List<uint>? AdditionalGids { get; set; }
    /// <summary>Windows only.</summary>
    [JsonPropertyName("username")] public string? Username { get; set; }
}

/// <summary>Capability names (CAP_*) per set; a null set means empty.</summary>
public sealed class LinuxCapabilities
{
    [JsonPropertyName("bounding")] public List<string>? Bounding { get; set; }
    [JsonPropertyName("effective")] public List<string>? Effective { get; set; }
    [JsonPropertyName("inheritable")] public List<string>? Inheritable { get; set; }
    [JsonPropertyName("permitted")] public List<string>? Permitted { get; set; }
    [JsonPropertyName("ambient")] public List<string>? Ambient { get; set; }
}

public sealed class PosixRlimit
{
    /// <summary>RLIMIT_* name, e.g. "RLIMIT_NOFILE".</summary>
    [JsonPropertyName("type")] public string Type { get; set; } = "";
    [JsonPropertyName("hard")] public ulong Hard { get; set; }
    [JsonPropertyName("soft")] public ulong Soft { get; set; }
}

/// <summary>sched_setattr(2) attributes.</summary>
public sealed class Scheduler
{
    /// <summary>SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE or SCHED_DEADLINE.</summary>
    [JsonPropertyName("policy")] public string Policy { get; set; } = "";
    [JsonPropertyName("nice"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Nice { get; set; }
    [JsonPropertyName("priority"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int Priority { get; set; }
    [JsonPropertyName("flags")] public List<string>? Flags { get; set; }
    [JsonPropertyName("runtime"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ulong Runtime { get; set; }
    [JsonPropertyName("deadline"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ulong Deadline { get; set; }
    [JsonPropertyName("period"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public ulong Period { get; set; }
}

/// <summary>ioprio_set(2) for the container's process group.</summary>
public sealed class IoPriority
{
    /// <summary>IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE.</summary>
    [JsonPropertyName("class")] public string Class { get; set; } = "";
    /// <summary>0 (highest) to 7 (lowest).</summary>
    [JsonPropertyName("priority")] public int Priority { get; set; }
}

/// <summary>CPU lists ("0-3,7") for an exec'd process, before and after it joins the cgroup.</summary>
public sealed class ExecCpuAffinity
{
    [JsonPropertyName("initial")] public string? Initial { get; set; }
    [JsonPropertyName("final")] public string? Final { get; set; }
}

public sealed class Root
{
    /// <summary>The rootfs, absolute or relative to the bundle.</summary>
    [JsonPropertyName("path")] public string Path { get; set; } = "";
    [JsonPropertyName("readonly"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Readonly { get; set; }
}

public sealed class Mount
{
    /// <summary>Absolute path in the container. A relative one is accepted (runc 1.1 does, with a
    /// warning) and made absolute by <see cref="SpecLoader"/>.</summary>
    [JsonPropertyName("destination")] public string Destination { get; set; } = "";
    [JsonPropertyName("type")] public string? Type { get; set; }
    [JsonPropertyName("source")] public string? Source { get; set; }
    [JsonPropertyName("options")] public List<string>? Options { get; set; }
    /// <summary>ID-mapped mount (mount_setattr MOUNT_ATTR_IDMAP).</summary>
    [JsonPropertyName("uidMappings")] public List<LinuxIdMapping>? UidMappings { get; set; }
    [JsonPropertyName("gidMappings")] public List<LinuxIdMapping>? GidMappings { get; set; }
}

/// <summary>The "hooks" object. Not named Hooks: that would hide the Csrt.Runtime.Hooks namespace
/// (and vice versa) in code under Csrt.Runtime.</summary>
public sealed class LifecycleHooks
{
    /// <summary>Deprecated by the spec, still sent by older tools; runs with createRuntime.</summary>
    [JsonPropertyName("prestart")] public List<Hook>? Prestart { get; set; }
    [JsonPropertyName("createRuntime")] public List<Hook>? CreateRuntime { get; set; }
    [JsonPropertyName("createContainer")] public List<Hook>? CreateContainer { get; set; }
    [JsonPropertyName("startContainer")] public List<Hook>? StartContainer { get; set; }
    [JsonPropertyName("poststart")] public List<Hook>? Poststart { get; set; }
    [JsonPropertyName("poststop")] public List<Hook>? Poststop { get; set; }
}

public sealed class Hook
{
    /// <summary>Absolute path of the executable.</summary>
    [JsonPropertyName("path")] public string Path { get; set; } = "";
    /// <summary>Full argv including argv[0]; null means [path].</summary>
    [JsonPropertyName("args")] public List<string>? Args { get; set; }
    [JsonPropertyName("env")] public List<string>? Env { get; set; }
    /// <summary>Seconds; null = no timeout.</summary>
    [JsonPropertyName("timeout")] public int? Timeout { get; set; }
}
