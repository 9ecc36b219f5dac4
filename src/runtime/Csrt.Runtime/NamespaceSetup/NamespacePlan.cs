using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.NamespaceSetup;

/// <summary>
/// Which namespaces a new container creates and which it joins, and how the C child gets there.
///
/// Fast path (no joins, no user namespace, no time offsets): one clone with every CLONE_NEW* flag.
/// Otherwise: a plain clone, setns into the joined namespaces (user first, mnt last), unshare the
/// new ones (a new user namespace must come after joining namespaces the host's user namespace
/// owns), wait while the parent writes uid/gid maps and time offsets, and clone again so the
/// process lands in the pid and time namespaces, which only apply to children.
///
/// The cgroup namespace is never created here: the init unshares it after the parent has moved it
/// into its cgroup, so the container's cgroup root is its own cgroup.
/// </summary>
public sealed class NamespacePlan
{
    /// <summary>The order namespaces are joined in.</summary>
    public static readonly IReadOnlyList<CloneFlags> JoinOrder = new[]
    {
        CloneFlags.CLONE_NEWUSER, CloneFlags.CLONE_NEWPID, CloneFlags.CLONE_NEWUTS, CloneFlags.CLONE_NEWIPC,
        CloneFlags.CLONE_NEWNET, CloneFlags.CLONE_NEWCGROUP, CloneFlags.CLONE_NEWTIME, CloneFlags.CLONE_NEWNS,
    };

    public CloneFlags CloneFlags { get; private init; }

    public CloneFlags UnshareFlags { get; private init; }

    /// <summary>Namespaces joined by path, in <see cref="JoinOrder"/>.</summary>
    public IReadOnlyList<(CloneFlags Type, string Path)> Joins { get; private init; } = Array.Empty<(CloneFlags, string)>();

    public bool SecondClone { get; private init; }

    public bool WaitForParent { get; private init; }

    public bool BecomeRoot { get; private init; }

    /// <summary>The init unshares a new cgroup namespace itself.</summary>
    public bool NewCgroupNamespace { get; private init; }

    /// <summary>Every namespace type the container has (created or joined), for exec to join later.</summary>
    public CloneFlags All { get; private init; }

    /// <summary>Namespaces the container creates.</summary>
    public CloneFlags Created { get; private init; }

    public bool NewUserNamespace => (Created & CloneFlags.CLONE_NEWUSER) != 0;

    public bool JoinsUserNamespace => Joins.Any(j => j.Type == CloneFlags.CLONE_NEWUSER);

    public static CloneFlags FlagOf(string type) => type switch
    {
        NamespaceTypes.Pid => CloneFlags.CLONE_NEWPID,
        NamespaceTypes.Network => CloneFlags.CLONE_NEWNET,
        NamespaceTypes.Mount => CloneFlags.CLONE_NEWNS,
        NamespaceTypes.Ipc => CloneFlags.CLONE_NEWIPC,
        NamespaceTypes.Uts => CloneFlags.CLONE_NEWUTS,
        NamespaceTypes.User => CloneFlags.CLONE_NEWUSER,
        NamespaceTypes.Cgroup => CloneFlags.CLONE_NEWCGROUP,
        NamespaceTypes.Time => CloneFlags.CLONE_NEWTIME,
        _ => throw new ArgumentException($"unknown namespace type \"{type}\""),
    };

    public static NamespacePlan For(LinuxConfig? linux)
    {
        var created = CloneFlags.None;
        var all = CloneFlags.None;
        var joins = new List<(CloneFlags Type, string Path)>();
        foreach (var ns in linux?.Namespaces ?? new List<LinuxNamespace>())
        {
            var flag = FlagOf(ns.Type);
            all |= flag;
            if (string.IsNullOrEmpty(ns.Path))
                created |= flag;
            else
                joins.Add((flag, ns.Path));
        }
        joins.Sort((a, b) => IndexIn(a.Type).CompareTo(IndexIn(b.Type)));
        var newUser = (created & CloneFlags.CLONE_NEWUSER) != 0;
        var timeOffsets = linux?.TimeOffsets is { Count: > 0 };
        var inClone = created & ~CloneFlags.CLONE_NEWCGROUP;
        // CLONE_NEWTIME shares its bit with the exit-signal field of clone(2): only unshare or clone3 take it.
        var needsTwoSteps = joins.Count > 0 || (created & CloneFlags.CLONE_NEWTIME) != 0;
        if (!needsTwoSteps)
        {
            return new NamespacePlan
            {
                CloneFlags = inClone,
                WaitForParent = newUser,
                BecomeRoot = newUser,
                NewCgroupNamespace = (created & CloneFlags.CLONE_NEWCGROUP) != 0,
                All = all,
                Created = created,
            };
        }
        var joinsPidOrTime = joins.Any(j => j.Type is CloneFlags.CLONE_NEWPID or CloneFlags.CLONE_NEWTIME);
        return new NamespacePlan
        {
            UnshareFlags = inClone,
            Joins = joins,
            SecondClone = joinsPidOrTime || (inClone & (CloneFlags.CLONE_NEWPID | CloneFlags.CLONE_NEWTIME)) != 0,
            WaitForParent = newUser || timeOffsets,
            BecomeRoot = newUser || joins.Any(j => j.Type == CloneFlags.CLONE_NEWUSER),
            NewCgroupNamespace = (created & CloneFlags.CLONE_NEWCGROUP) != 0,
            All = all,
            Created = created,
        };
    }

    private static int IndexIn(CloneFlags type)
    {
        for (var i = 0; i < JoinOrder.Count; i++)
            if (JoinOrder[i] == type)
                return i;
        return JoinOrder.Count;
    }

    /// <summary>uid_map / gid_map file content: "containerID hostID size" lines.</summary>
    public static string IdMapText(IEnumerable<LinuxIdMapping> mappings) =>
        string.Concat(mappings.Select(m => $"{m.ContainerId} {m.HostId} {m.Size}\n"));

    /// <summary>timens_offsets content: "monotonic secs nanosecs" lines.</summary>
    public static string TimeOffsetsText(Dictionary<string, LinuxTimeOffset> offsets) =>
        string.Concat(offsets.Select(o => $"{o.Key} {o.Value.Secs} {o.Value.Nanosecs}\n"));
}
