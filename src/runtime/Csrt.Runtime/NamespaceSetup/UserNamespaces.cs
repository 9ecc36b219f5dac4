using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.NamespaceSetup;

/// <summary>
/// User namespaces the runtime needs outside a container's own process: one with given mappings
/// to id-map a mount with (the kernel copies the mappings into the mount, so the namespace may
/// go away afterwards), and the mappings of a namespace joined by path. Both take a short-lived
/// child from the C child path, stopped at its sync point inside the namespace (a thread of this
/// multi-threaded process cannot unshare or join a user namespace), and killed once done.
/// </summary>
public static class UserNamespaces
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>An fd of a new user namespace with these mappings (for MOUNT_ATTR_IDMAP);
    /// mappings the kernel refuses are an invalid-argument error that begins with <paramref name="what"/>.</summary>
    public static FileDescriptor Create(IReadOnlyList<LinuxIdMapping> uids, IReadOnlyList<LinuxIdMapping> gids, IExitMonitor exits, string what)
    {
        var spawn = new SpawnOptions { UnshareFlags = CloneFlags.CLONE_NEWUSER, WaitForParent = true };
        return AtSyncPoint(spawn, exits, pid =>
        {
            var proc = "/proc/" + pid.ToString(CultureInfo.InvariantCulture);
            try
            {
                Files.WriteText(proc + "/uid_map", NamespacePlan.IdMapText(uids));
                Files.WriteText(proc + "/gid_map", NamespacePlan.IdMapText(gids));
            }
            catch (SyscallException e)
            {
                throw CsrtException.InvalidArgument(
                    $"{what}: the mappings uid [{MappingText(uids)}] gid [{MappingText(gids)}] do not make a user namespace: {e.Message}", e);
            }
            return Namespaces.Open(proc + "/ns/user");
        });
    }

    /// <summary>The uid and gid mappings of the user namespace at <paramref name="path"/>, as the
    /// host sees them.</summary>
    public static (List<LinuxIdMapping> Uids, List<LinuxIdMapping> Gids) MappingsOf(string path, IExitMonitor exits)
    {
        var spawn = new SpawnOptions { WaitForParent = true };
        using var ns = Namespaces.Open(path);
        spawn.Joins.Add((ns, CloneFlags.CLONE_NEWUSER));
        return AtSyncPoint(spawn, exits, pid =>
        {
            var proc = "/proc/" + pid.ToString(CultureInfo.InvariantCulture);
            return (ParseMap(Files.ReadText(proc + "/uid_map")), ParseMap(Files.ReadText(proc + "/gid_map")));
        });
    }

    /// <summary>Whether two mapping lists map the same ids (in any order).</summary>
    public static bool SameMappings(IReadOnlyList<LinuxIdMapping> a, IReadOnlyList<LinuxIdMapping> b)
    {
        if (a.Count != b.Count)
            return false;
        static IEnumerable<(uint, uint, uint)> Sorted(IReadOnlyList<LinuxIdMapping> m) =>
            m.Select(x => (x.ContainerId, x.HostId, x.Size)).Order();
        return Sorted(a).SequenceEqual(Sorted(b));
    }

    /// <summary>"0:100000:65536,…" (the form of containerd's uidmap= rootfs option).</summary>
    public static string MappingText(IReadOnlyList<LinuxIdMapping> mappings) =>
        string.Join(',', mappings.Select(m => $"{m.ContainerId}:{m.HostId}:{m.Size}"));

    /// <summary>Parses "containerID:hostID:size[,…]" (containerd's uidmap=/gidmap= rootfs options);
    /// errors begin with <paramref name="what"/>.</summary>
    public static List<LinuxIdMapping> ParseMappingText(string text, string what)
    {
        var result = new List<LinuxIdMapping>();
        foreach (var range in text.Split(','))
        {
            var f = range.Split(':');
            if (f.Length != 3 || !uint.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out var c) ||
                !uint.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var h) ||
                !uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n == 0)
                throw CsrtException.InvalidArgument($"{what}: expected containerID:hostID:size[,…] with a size above 0, got \"{range}\"");
            result.Add(new LinuxIdMapping { ContainerId = c, HostId = h, Size = n });
        }
        return result;
    }

    /// <summary>/proc/&lt;pid&gt;/uid_map content: "containerID hostID size" lines, space padded.</summary>
    public static List<LinuxIdMapping> ParseMap(string text)
    {
        var result = new List<LinuxIdMapping>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 3)
                throw CsrtException.Failed($"unexpected id map line \"{line}\"");
            result.Add(new LinuxIdMapping
            {
                ContainerId = uint.Parse(f[0], CultureInfo.InvariantCulture),
                HostId = uint.Parse(f[1], CultureInfo.InvariantCulture),
                Size = uint.Parse(f[2], CultureInfo.InvariantCulture),
            });
        }
        return result;
    }

    private static T AtSyncPoint<T>(SpawnOptions spawn, IExitMonitor exits, Func<int, T> action)
    {
        // Never exec'd: the child is killed at its sync point, but the C child path wants a program.
        spawn.ExecutablePath = "/proc/self/exe";
        spawn.ParentDeathSignal = Signals.SIGKILL;
        using var exitsOfChildren = exits.Subscribe();
        using var spawned = Spawn.Start(spawn);
        // A child that fails or hangs before its sync point is reaped by WaitForSyncPoint.
        spawned.WaitForSyncPoint(Deadline);
        try
        {
            return action(spawned.FirstPid);
        }
        finally
        {
            Signals.Send(spawned.FirstPid, Signals.SIGKILL);
            exitsOfChildren.Wait(spawned.FirstPid, Deadline);
        }
    }
}
