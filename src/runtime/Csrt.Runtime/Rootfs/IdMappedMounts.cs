using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Rootfs;

/// <summary>What one id-mapped bind mount of the spec asks for.</summary>
/// <param name="Uids">The mount's uidMappings; null: those of the container's user namespace.</param>
public sealed record IdMapRequest(
    string JsonPath,
    string Source,
    string Destination,
    bool RecursiveBind,
    bool RecursiveIdMap,
    IReadOnlyList<LinuxIdMapping>? Uids,
    IReadOnlyList<LinuxIdMapping>? Gids)
{
    public bool UsesContainerNamespace => Uids is null;
}

/// <summary>The user namespace a container joins by path, with the mappings it has.</summary>
public sealed record JoinedUserNamespace(string Path, IReadOnlyList<LinuxIdMapping> Uids, IReadOnlyList<LinuxIdMapping> Gids);

/// <summary>
/// Id-mapped bind mounts (a mount's uidMappings/gidMappings, options idmap/ridmap), made as
/// runc makes them: the source is cloned detached (open_tree OPEN_TREE_CLONE), id-mapped
/// (mount_setattr MOUNT_ATTR_IDMAP with a user namespace fd) and attached in the container's
/// rootfs by the init (move_mount through its target's fd). The first two steps need
/// CAP_SYS_ADMIN over the source's filesystem, which the init in a user namespace lacks, so the
/// runtime does them before the init exists and hands the init the detached mounts as fds.
/// The user namespace is the joined one when its mappings are the ones asked for, else one made
/// with the mappings (a container's own new namespace does not exist yet; the kernel copies the
/// mappings into the mount, so the result is the same).
/// </summary>
public static class IdMappedMounts
{
    /// <summary>The request of one spec mount, or null when it is not id-mapped; refuses what
    /// cannot be id-mapped, naming the JSON path.</summary>
    public static IdMapRequest? RequestOf(Spec.Mount m, string path, ParsedMountOptions parsed, string? source, NamespacePlan namespaces)
    {
        var hasUids = m.UidMappings is { Count: > 0 };
        var hasGids = m.GidMappings is { Count: > 0 };
        if (parsed.IdMap == IdMapOption.None && !hasUids && !hasGids)
            return null;
        var isBind = m.Type == "bind" || parsed.IsBind;
        if (!isBind)
            throw new SpecValidationException("config.json", path + ".type", "a bind mount",
                $"only bind mounts can be id-mapped (uidMappings/gidMappings or idmap/ridmap), not type \"{m.Type}\"");
        if (source is null)
            throw new SpecValidationException("config.json", path + ".source", "a source path", "a bind mount needs a source");
        if (hasUids != hasGids)
            throw new SpecValidationException("config.json", path + (hasUids ? ".gidMappings" : ".uidMappings"), "both uidMappings and gidMappings",
                "an id-mapped mount needs both uidMappings and gidMappings, or neither (then the container's user namespace is used)");
        if (!hasUids && (namespaces.All & CloneFlags.CLONE_NEWUSER) == 0)
            throw new SpecValidationException("config.json", path + ".uidMappings", "mappings, or a user namespace in $.linux.namespaces",
                "an id-mapped mount without uidMappings/gidMappings takes the container's user namespace, and the container has none");
        return new IdMapRequest(path, source, m.Destination, parsed.IsRecursiveBind, parsed.IdMap == IdMapOption.Recursive,
            hasUids ? m.UidMappings : null, hasGids ? m.GidMappings : null);
    }

    /// <summary>
    /// With a user namespace joined by path: its mappings, when anything needs them (mappings in
    /// the spec, which must be the namespace's own, as runc checks, or id-mapped mounts); null
    /// otherwise. containerd 2.x writes app containers of a user-namespaced pod this way.
    /// </summary>
    public static JoinedUserNamespace? CheckJoinedUserNamespace(LinuxConfig linux, NamespacePlan namespaces, bool idMappedMounts, IExitMonitor exits)
    {
        var join = namespaces.Joins.FirstOrDefault(j => j.Type == CloneFlags.CLONE_NEWUSER);
        if (join.Path is null)
            return null;
        var specUids = linux.UidMappings is { Count: > 0 } u ? u : null;
        var specGids = linux.GidMappings is { Count: > 0 } g ? g : null;
        if (specUids is null && specGids is null && !idMappedMounts)
            return null;
        var (uids, gids) = UserNamespaces.MappingsOf(join.Path, exits);
        if (specUids is not null && !UserNamespaces.SameMappings(specUids, uids))
            throw MappingMismatch("$.linux.uidMappings", join.Path, specUids, uids);
        if (specGids is not null && !UserNamespaces.SameMappings(specGids, gids))
            throw MappingMismatch("$.linux.gidMappings", join.Path, specGids, gids);
        return new JoinedUserNamespace(join.Path, uids, gids);
    }

    private static SpecValidationException MappingMismatch(string at, string path, IReadOnlyList<LinuxIdMapping> spec, IReadOnlyList<LinuxIdMapping> actual) =>
        new("config.json", at, "the mappings of the joined user namespace",
            $"the user namespace joined at {path} maps {Describe(actual)}, but config.json asks for {Describe(spec)}: a joined namespace's mappings cannot be changed");

    private static string Describe(IReadOnlyList<LinuxIdMapping> m) => m.Count == 0 ? "nothing" : "[" + UserNamespaces.MappingText(m) + "]";

    /// <summary>
    /// Makes every requested mount detached and id-mapped. The result owns the mount fds (and
    /// closes them when disposed: a detached mount no one attached goes away with its last fd,
    /// so a failure leaves nothing mounted).
    /// </summary>
    public static PreparedIdMappedMounts Prepare(IReadOnlyList<(int Step, IdMapRequest Request)> requests, LinuxConfig linux,
        JoinedUserNamespace? joined, IExitMonitor exits)
    {
        var prepared = new PreparedIdMappedMounts();
        if (requests.Count == 0)
            return prepared;
        // One user namespace per distinct mapping: CRI's mounts of a pod (volumes, /etc/hosts …) share one.
        var namespaces = new Dictionary<string, FileDescriptor>(StringComparer.Ordinal);
        try
        {
            foreach (var (step, r) in requests)
            {
                var uids = r.Uids ?? (joined is null ? linux.UidMappings! : null);
                var gids = r.Gids ?? (joined is null ? linux.GidMappings! : null);
                FileDescriptor userNs;
                var useJoined = joined is not null && (uids is null ||
                    (UserNamespaces.SameMappings(uids, joined.Uids) && UserNamespaces.SameMappings(gids!, joined.Gids)));
                var key = useJoined ? "joined" : UserNamespaces.MappingText(uids!) + "/" + UserNamespaces.MappingText(gids!);
                if (!namespaces.TryGetValue(key, out userNs!))
                {
                    userNs = useJoined
                        ? Namespaces.Open(joined!.Path)
                        : UserNamespaces.Create(uids!, gids!, exits, "config.json " + r.JsonPath + (r.Uids is null ? " (the container's mappings)" : ".uidMappings"));
                    namespaces[key] = userNs;
                }
                prepared.Add(step, Detach(r, userNs));
            }
            return prepared;
        }
        catch
        {
            prepared.Dispose();
            throw;
        }
        finally
        {
            foreach (var fd in namespaces.Values)
                fd.Dispose();
        }
    }

    private static FileDescriptor Detach(IdMapRequest r, FileDescriptor userNs)
    {
        FileDescriptor? mount = null;
        try
        {
            mount = Mounts.CloneTree(r.Source, r.RecursiveBind);
            Mounts.SetIdMapping(mount, userNs, r.RecursiveIdMap, r.Source);
            return mount;
        }
        catch (SyscallException e)
        {
            mount?.Dispose();
            throw CsrtException.Failed($"config.json {r.JsonPath}: id-mapped mount of {r.Source} on {r.Destination}: {e.Message}", e);
        }
    }
}

/// <summary>Detached id-mapped mounts by plan step, until the init has them.</summary>
public sealed class PreparedIdMappedMounts : IDisposable
{
    private readonly List<(int Step, FileDescriptor Mount)> _mounts = new();

    public IReadOnlyList<(int Step, FileDescriptor Mount)> Mounts => _mounts;

    internal void Add(int step, FileDescriptor mount) => _mounts.Add((step, mount));

    public void Dispose()
    {
        foreach (var (_, fd) in _mounts)
            fd.Dispose();
        _mounts.Clear();
    }
}
