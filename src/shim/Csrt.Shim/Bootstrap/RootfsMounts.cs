using Csrt.Linux;
using Csrt.Runtime.Processes;
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

    /// <summary><paramref name="exits"/> waits for the helper of an id-mapped rootfs (IdMappedRootfs).</summary>
    public static void MountAll(string rootfs, IReadOnlyList<Mount> mounts, IExitMonitor exits)
    {
        if (mounts.Count == 0)
            return;
        Files.MakeDirectories(rootfs, FileModes.UserAllOthersExecute);
        var done = 0;
        try
        {
            foreach (var m in mounts)
            {
                MountOne(rootfs, m, exits);
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

    private static void MountOne(string target, Mount m, IExitMonitor exits)
    {
        if (m.Options.Contains("loop"))
            throw new ArgumentException($"rootfs mount {m.Type} {m.Source}: loop devices are not supported");
        var what = $"rootfs mount {m.Type} {m.Source}";
        var options = m.Options.ToList();
        using var idMapped = IdMappedRootfs.Take(options, what, exits);
        if (idMapped is not null && m.Type == "overlay")
            idMapped.MapLowerDirectories(options, what);
        var parsed = MountOptions.Parse(options);
        var type = m.Type == "bind" ? null : m.Type;
        var flags = parsed.Flags;
        if (m.Type == "bind")
            flags |= MountFlags.MS_BIND;
        if (parsed.Data.Length > MaxData)
            throw new ArgumentException($"rootfs mount {m.Type}: options are {parsed.Data.Length} bytes, over the kernel's page limit");
        var bind = (flags & MountFlags.MS_BIND) != 0;
        if (bind && idMapped is not null)
            idMapped.Attach(m.Source, target, (flags & MountFlags.MS_REC) != 0, what);
        else
            Mounts.Mount(m.Source, target, type, bind ? flags & (MountFlags.MS_BIND | MountFlags.MS_REC) : flags, parsed.Data);
        // Any other filesystem is id-mapped where it was mounted, as containerd does.
        if (idMapped is not null && !bind && m.Type != "overlay")
            idMapped.Attach(target, target, recursive: false, what);
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
