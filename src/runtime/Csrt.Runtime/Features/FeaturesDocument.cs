using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Csrt.Linux;
using Csrt.Runtime.Security;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Features;

// The runtime-spec features document (features.md, features-linux.md), printed by `csrt features`.
// Every list and flag is nullable because the spec gives null its own meaning: "unknown", not
// "none" or "false".

public sealed class FeaturesDocument
{
    [JsonPropertyName("ociVersionMin")] public string? OciVersionMin { get; set; }
    [JsonPropertyName("ociVersionMax")] public string? OciVersionMax { get; set; }
    [JsonPropertyName("hooks")] public List<string>? Hooks { get; set; }
    [JsonPropertyName("mountOptions")] public List<string>? MountOptions { get; set; }
    [JsonPropertyName("linux")] public LinuxFeatures? Linux { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    /// <summary>Annotations (or prefixes ending in ".") in config.json that can weaken isolation.</summary>
    [JsonPropertyName("potentiallyUnsafeConfigAnnotations")] public List<string>? PotentiallyUnsafeConfigAnnotations { get; set; }

    /// <summary>Builds the document from what the runtime supports; see <see cref="FeaturesSupport"/> for the defaults.</summary>
    public static FeaturesDocument Create(FeaturesSupport? support = null)
    {
        var s = support ?? new FeaturesSupport();
        return new FeaturesDocument
        {
            OciVersionMin = s.OciVersionMin,
            OciVersionMax = s.OciVersionMax,
            Hooks = [.. s.Hooks],
            MountOptions = [.. s.MountOptions],
            Linux = new LinuxFeatures
            {
                Namespaces = [.. s.Namespaces],
                Capabilities = [.. s.Capabilities],
                Cgroup = new CgroupFeatures { V1 = s.CgroupV1, V2 = s.CgroupV2, Systemd = s.Systemd, SystemdUser = s.SystemdUser, Rdma = s.CgroupRdma },
                Seccomp = new SeccompFeatures
                {
                    Enabled = s.SeccompEnabled,
                    Actions = s.SeccompEnabled ? [.. s.SeccompActions] : null,
                    Operators = s.SeccompEnabled ? [.. s.SeccompOperators] : null,
                    Archs = s.SeccompEnabled ? [.. s.SeccompArchs] : null,
                    KnownFlags = s.SeccompEnabled ? [.. s.SeccompKnownFlags] : null,
                    SupportedFlags = s.SeccompEnabled && s.SeccompSupportedFlags is { } sup ? [.. sup] : null,
                },
                Apparmor = new EnabledFeature { Enabled = s.AppArmor },
                Selinux = new EnabledFeature { Enabled = s.SELinux },
                IntelRdt = new IntelRdtFeatures { Enabled = s.IntelRdt, Schemata = s.IntelRdt ? s.IntelRdtSchemata : null },
                MountExtensions = new MountExtensionsFeatures { IdMap = new EnabledFeature { Enabled = s.IdMapMounts } },
                NetDevices = new EnabledFeature { Enabled = s.NetDevices },
            },
            Annotations = s.Annotations is { } a ? new Dictionary<string, string>(a, StringComparer.Ordinal) : null,
            PotentiallyUnsafeConfigAnnotations = s.PotentiallyUnsafeConfigAnnotations is { } u ? [.. u] : null,
        };
    }
}

public sealed class LinuxFeatures
{
    [JsonPropertyName("namespaces")] public List<string>? Namespaces { get; set; }
    [JsonPropertyName("capabilities")] public List<string>? Capabilities { get; set; }
    [JsonPropertyName("cgroup")] public CgroupFeatures? Cgroup { get; set; }
    [JsonPropertyName("seccomp")] public SeccompFeatures? Seccomp { get; set; }
    [JsonPropertyName("apparmor")] public EnabledFeature? Apparmor { get; set; }
    [JsonPropertyName("selinux")] public EnabledFeature? Selinux { get; set; }
    [JsonPropertyName("intelRdt")] public IntelRdtFeatures? IntelRdt { get; set; }
    [JsonPropertyName("mountExtensions")] public MountExtensionsFeatures? MountExtensions { get; set; }
    [JsonPropertyName("netDevices")] public EnabledFeature? NetDevices { get; set; }
}

/// <summary>What is compiled in, not what the host uses.</summary>
public sealed class CgroupFeatures
{
    [JsonPropertyName("v1")] public bool? V1 { get; set; }
    [JsonPropertyName("v2")] public bool? V2 { get; set; }
    [JsonPropertyName("systemd")] public bool? Systemd { get; set; }
    [JsonPropertyName("systemdUser")] public bool? SystemdUser { get; set; }
    [JsonPropertyName("rdma")] public bool? Rdma { get; set; }
}

public sealed class SeccompFeatures
{
    [JsonPropertyName("enabled")] public bool? Enabled { get; set; }
    [JsonPropertyName("actions")] public List<string>? Actions { get; set; }
    [JsonPropertyName("operators")] public List<string>? Operators { get; set; }
    [JsonPropertyName("archs")] public List<string>? Archs { get; set; }
    [JsonPropertyName("knownFlags")] public List<string>? KnownFlags { get; set; }
    /// <summary>Subset of knownFlags the running kernel and libseccomp accept.</summary>
    [JsonPropertyName("supportedFlags")] public List<string>? SupportedFlags { get; set; }
}

/// <summary>{"enabled": bool} (apparmor, selinux, mountExtensions.idmap, netDevices).</summary>
public sealed class EnabledFeature
{
    [JsonPropertyName("enabled")] public bool? Enabled { get; set; }
}

public sealed class IntelRdtFeatures
{
    [JsonPropertyName("enabled")] public bool? Enabled { get; set; }
    /// <summary>Whether linux.intelRdt.schemata is implemented.</summary>
    [JsonPropertyName("schemata")] public bool? Schemata { get; set; }
}

public sealed class MountExtensionsFeatures
{
    [JsonPropertyName("idmap")] public EnabledFeature? IdMap { get; set; }
}

/// <summary>
/// What the runtime supports, as input to <see cref="FeaturesDocument.Create"/>. The defaults are
/// what this csrt implements, each taken from the code that implements it where the code has a
/// list (the mount option table, the seccomp compiler, libseccomp's architectures), so
/// <c>FeaturesDocument.Create()</c> is the document `csrt features` and the shim's -info print.
/// </summary>
public sealed class FeaturesSupport
{
    public string OciVersionMin { get; init; } = "1.0.0";
    public string OciVersionMax { get; init; } = BuildInfo.OciVersion;
    public IReadOnlyList<string> Hooks { get; init; } = HookNames.All;
    /// <summary>The words <see cref="Rootfs.MountOptions"/> acts on; filesystem data options
    /// (mode=, size=, …) are passed through and not listed, per features.md.</summary>
    public IReadOnlyList<string> MountOptions { get; init; } = Rootfs.MountOptions.Known.ToList();
    public IReadOnlyList<string> Namespaces { get; init; } = NamespaceTypes.All;
    public IReadOnlyList<string> Capabilities { get; init; } = KnownCapabilities.All;
    public bool CgroupV1 { get; init; } = true;
    public bool CgroupV2 { get; init; } = true;
    /// <summary>The systemd cgroup driver (Cgroups/Systemd; unified hosts with systemd as init).</summary>
    public bool Systemd { get; init; } = true;
    /// <summary>No driver for a user's systemd instance (rootless).</summary>
    public bool SystemdUser { get; init; }
    /// <summary>linux.resources.rdma is applied on v1 and v2.</summary>
    public bool CgroupRdma { get; init; } = true;
    /// <summary>Whether libseccomp could be loaded: the compiler needs it.</summary>
    public bool SeccompEnabled { get; init; } = SeccompSupport.Architectures.Count > 0;
    public IReadOnlyList<string> SeccompActions { get; init; } = SeccompSupport.Actions;
    public IReadOnlyList<string> SeccompOperators { get; init; } = SeccompNames.Operators;
    /// <summary>The spec's architecture names the loaded libseccomp adds to a filter on this host.</summary>
    public IReadOnlyList<string> SeccompArchs { get; init; } = SeccompSupport.Architectures;
    public IReadOnlyList<string> SeccompKnownFlags { get; init; } = SeccompNames.Flags;
    /// <summary>The known flags a filter can be loaded with; null = unknown (left out).</summary>
    public IReadOnlyList<string>? SeccompSupportedFlags { get; init; } = SeccompSupport.UsableFlags;
    /// <summary>Profiles and labels are reported as not applied (SpecValidator).</summary>
    public bool AppArmor { get; init; }
    public bool SELinux { get; init; }
    public bool IntelRdt { get; init; }
    public bool IntelRdtSchemata { get; init; }
    /// <summary>Id-mapped bind mounts (uidMappings on a mount, idmap/ridmap: Rootfs.IdMappedMounts).</summary>
    public bool IdMapMounts { get; init; } = true;
    public bool NetDevices { get; init; }
    /// <summary>Implementation facts (runc adds its commit and libseccomp's version); null leaves the
    /// field out. Not under "org.opencontainers.": the spec reserves that prefix for OCI projects.</summary>
    public IReadOnlyDictionary<string, string>? Annotations { get; init; } =
        new Dictionary<string, string>(StringComparer.Ordinal) { ["csrt.version"] = BuildInfo.Version };
    /// <summary>Empty, not unknown: csrt acts on no config.json annotation.</summary>
    public IReadOnlyList<string>? PotentiallyUnsafeConfigAnnotations { get; init; } = [];
}

/// <summary>The seccomp vocabulary <see cref="SeccompProfileCompiler"/> compiles.</summary>
public static class SeccompSupport
{
    /// <summary>The spec's actions the compiler accepts (it refuses SCMP_ACT_NOTIFY: no listener support).</summary>
    public static IReadOnlyList<string> Actions { get; } = SeccompNames.Actions.Where(Compiles).ToList();

    /// <summary>WAIT_KILLABLE_RECV is only valid with a notification listener, which csrt never
    /// asks for, so the kernel refuses a filter loaded with it. The others date from kernel 4.17.</summary>
    public static IReadOnlyList<string> UsableFlags { get; } =
        SeccompNames.Flags.Where(f => f != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" || Actions.Contains("SCMP_ACT_NOTIFY")).ToList();

    private static IReadOnlyList<string>? _architectures;

    /// <summary>Asked of libseccomp on first use: the names a profile can use on this host.</summary>
    public static IReadOnlyList<string> Architectures => _architectures ??= ResolveArchitectures();

    private static bool Compiles(string action)
    {
        try
        {
            SeccompProfileCompiler.Action(action, null, "$");
            return true;
        }
        catch (SpecValidationException)
        {
            return false;
        }
    }

    private static List<string> ResolveArchitectures()
    {
        try
        {
            return SeccompNames.Architectures.Where(CanBeAdded).ToList();
        }
        catch (DllNotFoundException)
        {
            return [];
        }
    }

    /// <summary>libseccomp knows the name and a filter of this host can hold it (one of the other
    /// byte order is refused with EDOM).</summary>
    private static bool CanBeAdded(string specName)
    {
        using var filter = new SeccompFilter(SeccompFilter.ActAllow);
        try
        {
            return filter.AddArchitecture(SeccompProfileCompiler.ArchitectureName(specName));
        }
        catch (SyscallException)
        {
            return false;
        }
    }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(FeaturesDocument))]
public sealed partial class FeaturesJsonContext : JsonSerializerContext
{
}

public static class FeaturesJson
{
    /// <summary>Four-space indent, no trailing newline: the layout of `runc features`.</summary>
    private static JsonWriterOptions FourSpaces => new()
    {
        Encoder = Csrt.Runtime.Spec.MinimalJsonEncoder.Instance, Indented = true, IndentCharacter = ' ', IndentSize = 4,
    };

    public static byte[] Serialize(FeaturesDocument document) =>
        SpecJson.Write(document, FeaturesJsonContext.Default.FeaturesDocument, FourSpaces);

    public static FeaturesDocument Parse(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, FeaturesJsonContext.Default.FeaturesDocument)
        ?? throw new JsonException("features JSON is null");
}
