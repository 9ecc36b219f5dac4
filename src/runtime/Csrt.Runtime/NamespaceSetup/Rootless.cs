using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.NamespaceSetup;

/// <summary>
/// Whether the runtime runs without privilege over the host, by runc's rules: a non-root user, or
/// root of a user namespace other than the initial one (podman's rootless mode runs the runtime
/// that way). A rootless runtime keeps its state under <c>$XDG_RUNTIME_DIR</c>, writes multi-range
/// id maps through newuidmap/newgidmap (<see cref="IdMaps"/>), and uses only the cgroups it may
/// write (<see cref="Cgroups.RootlessCgroups"/>).
/// </summary>
public static class Rootless
{
    private static readonly Lazy<bool> InitialUserNamespace = new(() => IsInitialIdMap(Files.TryReadText("/proc/self/uid_map")));

    /// <summary>True unless the process is root of the initial user namespace.</summary>
    public static bool IsRootless => ProcessControl.GetEffectiveUid() != 0 || !InInitialUserNamespace;

    /// <summary>The process is in the host's user namespace (its uid_map is the identity over every id).</summary>
    public static bool InInitialUserNamespace => InitialUserNamespace.Value;

    /// <summary>An identity map of all 2^32-1 ids is the initial user namespace's; a missing file
    /// (no user namespace support) counts as initial too.</summary>
    public static bool IsInitialIdMap(string? uidMap)
    {
        if (uidMap is null)
            return true;
        var fields = uidMap.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return fields is ["0", "0", "4294967295"];
    }

    /// <summary>runc's rule for a non-root caller: the container needs a user namespace of its own
    /// with the maps that make the caller its root (csrt spec --rootless writes one).</summary>
    public static void CheckSpec(LinuxConfig linux) => CheckSpec(linux, ProcessControl.GetEffectiveUid());

    public static void CheckSpec(LinuxConfig linux, uint euid)
    {
        if (euid == 0)
            return;
        var user = linux.Namespaces?.FirstOrDefault(n => n.Type == NamespaceTypes.User);
        if (user is null)
        {
            throw new SpecValidationException("config.json", "$.linux.namespaces", "a \"user\" namespace",
                $"csrt runs as uid {euid}: a rootless container needs a user namespace (csrt spec --rootless writes one)");
        }
        if (string.IsNullOrEmpty(user.Path))
        {
            if (linux.UidMappings is not { Count: > 0 })
                throw new SpecValidationException("config.json", "$.linux.uidMappings", "at least one mapping", "a rootless container's new user namespace needs uid mappings");
            if (linux.GidMappings is not { Count: > 0 })
                throw new SpecValidationException("config.json", "$.linux.gidMappings", "at least one mapping", "a rootless container's new user namespace needs gid mappings");
        }
    }

    /// <summary>The default state root (runc's rule, with csrt's name): <c>$XDG_RUNTIME_DIR/csrt</c>
    /// for a non-root user, and for root of a user namespace whose <c>$USER</c> is not root;
    /// /run/csrt otherwise.</summary>
    public static string DefaultStateRoot() => DefaultStateRoot(
        Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"), ProcessControl.GetEffectiveUid(), InInitialUserNamespace,
        Environment.GetEnvironmentVariable("USER"));

    public static string DefaultStateRoot(string? xdgRuntimeDir, uint euid, bool inInitialUserNamespace, string? user)
    {
        const string root = "/run/csrt";
        if (string.IsNullOrEmpty(xdgRuntimeDir))
            return root;
        if (euid != 0)
            return Path.Combine(xdgRuntimeDir, "csrt");
        if (inInitialUserNamespace)
            return root;
        return user != "root" ? Path.Combine(xdgRuntimeDir, "csrt") : root;
    }
}
