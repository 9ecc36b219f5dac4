using System.Globalization;
using Csrt.Linux;

namespace Csrt.Runtime.Rootfs;

/// <summary>
/// The mounts a container without a mount namespace of its own leaves in the runtime's: its init
/// makes the spec's mounts under the rootfs in the namespace it shares with us, where they outlive
/// the container (runc and crun leave them there for good). `create` notes the ones it added and
/// `delete`, or a failed `create`, detaches them.
/// </summary>
public static class HostMounts
{
    /// <summary>The ids of the mounts at or under <paramref name="rootfs"/>, in this process's
    /// mount namespace (the one such a container shares).</summary>
    public static HashSet<int> IdsUnder(string rootfs)
    {
        var ids = new HashSet<int>();
        foreach (var (id, _) in Under(rootfs))
            ids.Add(id);
        return ids;
    }

    /// <summary>The mount points at or under <paramref name="rootfs"/> whose mount is not one of
    /// <paramref name="before"/>, parents before children (mountinfo's order).</summary>
    public static List<string> AddedUnder(string rootfs, HashSet<int> before) =>
        Under(rootfs).Where(m => !before.Contains(m.Id)).Select(m => m.MountPoint).ToList();

    /// <summary>Detaches the mount points, last first; one that is gone already is skipped.</summary>
    public static void Detach(IReadOnlyList<string> mountPoints, Action<string> warn)
    {
        for (var i = mountPoints.Count - 1; i >= 0; i--)
        {
            try
            {
                Mounts.TryUnmount(mountPoints[i], UnmountFlags.MNT_DETACH);
            }
            catch (SyscallException e)
            {
                warn($"unmounting {mountPoints[i]}: {e.Message}");
            }
        }
    }

    private static IEnumerable<(int Id, string MountPoint)> Under(string rootfs)
    {
        // mountinfo shows paths without symlinks: compare with the rootfs's canonical path.
        string root;
        using (var fd = Files.Open(rootfs, OpenFlags.O_PATH | OpenFlags.O_DIRECTORY))
            root = Files.ReadLink("/proc/self/fd/" + fd.Number.ToString(CultureInfo.InvariantCulture));
        var result = new List<(int, string)>();
        foreach (var line in Files.ReadText("/proc/self/mountinfo").Split('\n'))
        {
            var fields = line.Split(' ');
            if (fields.Length < 5 || !int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                continue;
            var mp = Mounts.UnescapeOctal(fields[4]);
            if (mp == root || mp.StartsWith(root + "/", StringComparison.Ordinal))
                result.Add((id, mp));
        }
        return result;
    }
}
