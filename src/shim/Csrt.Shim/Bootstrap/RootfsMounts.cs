using Csrt.Linux;
using Csrt.Runtime.Rootfs;
using Containerd.Types;

namespace Csrt.Shim.Bootstrap;

/// <summary>The rootfs mounts of a Create request (snapshotter output: overlay or bind) onto
/// &lt;bundle&gt;/rootfs, and their removal.</summary>
public static class RootfsMounts
{
    /// <summary>The kernel's limit for mount data is one page; containerd shortens overlay options
    /// with a chdir, which a multi-threaded shim cannot do.</summary>
    private const int MaxData = 4096 - 512;

    public static void MountAll(string rootfs, IReadOnlyList<Mount> mounts)
    {
        if (mounts.Count == 0)
            return;
        Files.MakeDirectories(rootfs, FileModes.UserAllOthersExecute);
        var done = 0;
        try
        {
            foreach (var m in mounts)
            {
                MountOne(rootfs, m);
                done++;
            }
        }
        catch
        {
            if (done > 0)
                UnmountAll(rootfs);
            throw;
        }
    }

    private static void MountOne(string target, Mount m)
    {
        if (m.Options.Contains("loop"))
            throw new ArgumentException($"rootfs mount {m.Type} {m.Source}: loop devices are not supported");
        var parsed = MountOptions.Parse(m.Options);
        var type = m.Type == "bind" ? null : m.Type;
        var flags = parsed.Flags;
        if (m.Type == "bind")
            flags |= MountFlags.MS_BIND;
        if (parsed.Data.Length > MaxData)
            throw new ArgumentException($"rootfs mount {m.Type}: options are {parsed.Data.Length} bytes, over the kernel's page limit");
        var bind = (flags & MountFlags.MS_BIND) != 0;
        Mounts.Mount(m.Source, target, type, bind ? flags & (MountFlags.MS_BIND | MountFlags.MS_REC) : flags, parsed.Data);
        // A bind mount takes its other flags (ro, nosuid …) only on a remount.
        var extra = flags & ~(MountFlags.MS_BIND | MountFlags.MS_REC | MountFlags.MS_REMOUNT);
        if (bind && extra != MountFlags.None)
            Mounts.Mount(null, target, null, MountFlags.MS_BIND | MountFlags.MS_REMOUNT | extra);
        foreach (var p in parsed.Propagation)
            Mounts.Mount(null, target, null, p);
    }

    /// <summary>Unmounts everything stacked on <paramref name="rootfs"/> (and below it), deepest first.</summary>
    public static void UnmountAll(string rootfs)
    {
        for (var round = 0; round < 50; round++)
        {
            var points = Mounts.MountPointsUnder(rootfs);
            if (points.Count == 0)
                return;
            foreach (var p in points)
            {
                try
                {
                    Mounts.TryUnmount(p, UnmountFlags.MNT_DETACH);
                }
                catch (SyscallException)
                {
                    // Retried in the next round; reported below if it never goes.
                }
            }
        }
        throw new IOException($"{rootfs} is still mounted after 50 unmount rounds");
    }
}
