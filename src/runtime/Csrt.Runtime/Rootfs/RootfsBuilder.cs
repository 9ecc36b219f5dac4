using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Processes;

namespace Csrt.Runtime.Rootfs;

/// <summary>
/// Builds the container's filesystem view inside the init's mount namespace, in runc's order:
/// propagation of "/", the rootfs bind-mounted onto itself, the spec's mounts (targets resolved
/// inside the rootfs, mounted through their fd), /dev, then pivot_root; masked paths, read-only
/// paths and a read-only root come after pivot_root.
///
/// A container without a mount namespace of its own shares the runtime's, as runc and crun let it:
/// "/" and the rootfs's parent keep their propagation, the spec's mounts are made in the shared
/// namespace under the rootfs (the runtime removes them at delete), and the init chroots instead
/// of pivot_root.
/// </summary>
public static class RootfsBuilder
{
    private const MountFlags LockedInUserNamespace =
        MountFlags.MS_NOSUID | MountFlags.MS_NODEV | MountFlags.MS_NOEXEC | MountFlags.MS_RDONLY |
        MountFlags.MS_NOATIME | MountFlags.MS_NODIRATIME | MountFlags.MS_RELATIME;

    /// <summary>Makes "/" rslave (or the spec's propagation) so nothing the container mounts
    /// reaches the host, makes the rootfs's parent mount private (pivot_root refuses a shared
    /// parent) and bind-mounts the rootfs onto itself so it is a mount point.</summary>
    public static void PrepareRoot(InitPlan plan)
    {
        if (!plan.OwnMountNamespace)
        {
            // Nothing of the shared namespace changes but what lies under the rootfs. A read-only
            // root needs a mount of its own to remount read-only in Finish.
            if (plan.RootfsReadonly)
                Mounts.Mount(plan.Rootfs, plan.Rootfs, "bind", MountFlags.MS_BIND | MountFlags.MS_REC);
            return;
        }
        Mounts.Mount(null, "/", null, (MountFlags)plan.RootPropagation);
        MakeParentMountPrivate(plan.Rootfs);
        Mounts.Mount(plan.Rootfs, plan.Rootfs, "bind", MountFlags.MS_BIND | MountFlags.MS_REC);
    }

    private static void MakeParentMountPrivate(string rootfs)
    {
        // The mount point that contains the rootfs: the longest mountinfo entry that prefixes it.
        string? best = null;
        foreach (var line in Files.ReadText("/proc/self/mountinfo").Split('\n'))
        {
            var fields = line.Split(' ');
            if (fields.Length < 5)
                continue;
            var mp = Mounts.UnescapeOctal(fields[4]);
            var isPrefix = mp == "/" || rootfs == mp || rootfs.StartsWith(mp + "/", StringComparison.Ordinal);
            if (isPrefix && (best is null || mp.Length > best.Length))
                best = mp;
        }
        if (best is not null)
            Mounts.Mount(null, best, null, MountFlags.MS_PRIVATE);
    }

    public static void ApplyMounts(RootDirectory root, InitPlan plan)
    {
        foreach (var m in plan.Mounts)
        {
            try
            {
                switch (m.Kind)
                {
                    case MountKinds.Bind:
                        MountBind(root, m, plan.InUserNamespace);
                        break;
                    case MountKinds.CgroupV1:
                        MountCgroupV1(root, m, plan);
                        break;
                    case MountKinds.CgroupV2:
                        MountCgroupV2(root, m, plan);
                        break;
                    default:
                        MountFilesystem(root, m, plan);
                        break;
                }
            }
            catch (SyscallException e)
            {
                throw CsrtException.Failed($"mounting {m.Type ?? "bind"} {m.Source} on {m.Destination}: {e.Message}", e);
            }
        }
    }

    private static void MountFilesystem(RootDirectory root, MountStep m, InitPlan plan)
    {
        using var target = root.MakeDirectories(m.Destination);
        var flags = (MountFlags)m.Flags;
        if (m.CopyUp)
        {
            MountTmpfsCopyUp(root, m, target);
        }
        else
        {
            try
            {
                Mounts.Mount(m.Source ?? m.Type, RootDirectory.ProcPath(target), m.Type, flags, m.Data);
            }
            catch (SyscallException e) when (e.Errno == Errno.EPERM && m.Type is "sysfs" or "mqueue")
            {
                // Without its own network (sysfs) or ipc namespace (mqueue) owned by the container's
                // user namespace the kernel refuses a fresh instance; bind the host's, as runc does.
                var hostPath = m.Type == "sysfs" ? "/sys" : "/dev/mqueue";
                Mounts.Mount(hostPath, RootDirectory.ProcPath(target), null, MountFlags.MS_BIND | MountFlags.MS_REC);
                using var mounted = root.Open(m.Destination);
                Remount(mounted, flags, plan.InUserNamespace);
            }
        }
        ApplyPropagationAndAttributes(root, m);
    }

    /// <summary>tmpcopyup: a new tmpfs over a directory, seeded with what the directory held.</summary>
    private static void MountTmpfsCopyUp(RootDirectory root, MountStep m, FileDescriptor target)
    {
        using var original = Files.OpenAt(target, ".", OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        Mounts.Mount("tmpfs", RootDirectory.ProcPath(target), "tmpfs", (MountFlags)m.Flags & ~MountFlags.MS_RDONLY, m.Data);
        using var fresh = root.Open(m.Destination, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        TreeCopy.Copy(original, fresh);
        if (((MountFlags)m.Flags & MountFlags.MS_RDONLY) != 0)
        {
            using var mounted = root.Open(m.Destination);
            Mounts.Mount(null, RootDirectory.ProcPath(mounted), null, MountFlags.MS_REMOUNT | (MountFlags)m.Flags);
        }
    }

    private static void MountBind(RootDirectory root, MountStep m, bool inUserNamespace)
    {
        var source = m.Source!;
        var sourceInfo = Files.TryStat(source) ?? throw new SyscallException("stat", Errno.ENOENT, source, "the source of a bind mount must exist");
        using (var target = sourceInfo.IsDirectory ? root.MakeDirectories(m.Destination) : root.MakeFile(m.Destination))
        {
            Mounts.Mount(source, RootDirectory.ProcPath(target), null, MountFlags.MS_BIND | ((MountFlags)m.Flags & MountFlags.MS_REC));
        }
        var extra = (MountFlags)m.Flags & ~(MountFlags.MS_BIND | MountFlags.MS_REC | MountFlags.MS_REMOUNT);
        if (extra != MountFlags.None)
        {
            using var mounted = root.Open(m.Destination);
            Remount(mounted, (MountFlags)m.Flags, inUserNamespace);
        }
        ApplyPropagationAndAttributes(root, m);
    }

    /// <summary>Remounts a bind mount with new flags. In a user namespace the flags the source
    /// mount had are locked and must be repeated, or the kernel refuses with EPERM.</summary>
    private static void Remount(FileDescriptor mounted, MountFlags flags, bool inUserNamespace)
    {
        var target = RootDirectory.ProcPath(mounted);
        var remount = MountFlags.MS_BIND | MountFlags.MS_REMOUNT | (flags & ~(MountFlags.MS_BIND | MountFlags.MS_REC | MountFlags.MS_REMOUNT));
        if (inUserNamespace)
            remount |= Mounts.CurrentFlags(target) & LockedInUserNamespace & ~MountFlags.MS_RDONLY;
        Mounts.Mount(null, target, null, remount);
    }

    private static void ApplyPropagationAndAttributes(RootDirectory root, MountStep m)
    {
        if (m.Propagation.Count == 0 && m.SetAttributes == 0 && m.ClearAttributes == 0)
            return;
        using var mounted = root.Open(m.Destination);
        foreach (var p in m.Propagation)
            Mounts.Mount(null, RootDirectory.ProcPath(mounted), null, (MountFlags)p);
        if (m.SetAttributes != 0 || m.ClearAttributes != 0)
            Mounts.SetAttributes(mounted, m.SetAttributes, m.ClearAttributes, recursive: true, m.Destination);
    }

    /// <summary>cgroup v1 inside the container: a tmpfs holding one directory per hierarchy, each
    /// the container's own cgroup (bind-mounted, or a fresh cgroup mount in its cgroup namespace).</summary>
    private static void MountCgroupV1(RootDirectory root, MountStep m, InitPlan plan)
    {
        var flags = (MountFlags)m.Flags;
        using (var target = root.MakeDirectories(m.Destination))
            Mounts.Mount("tmpfs", RootDirectory.ProcPath(target), "tmpfs", MountFlags.MS_NOSUID | MountFlags.MS_NODEV | MountFlags.MS_NOEXEC, "mode=755");
        foreach (var source in m.CgroupSources ?? new List<CgroupMountSource>())
        {
            var dir = m.Destination.TrimEnd('/') + "/" + source.Name;
            using (var target = root.MakeDirectories(dir))
            {
                if (plan.NewCgroupNamespace && source.Options.Length == 0)
                    Mounts.Mount("cgroup2", RootDirectory.ProcPath(target), "cgroup2", flags & ~(MountFlags.MS_REC | MountFlags.MS_BIND), null);
                else if (plan.NewCgroupNamespace)
                    Mounts.Mount("cgroup", RootDirectory.ProcPath(target), "cgroup", flags & ~(MountFlags.MS_REC | MountFlags.MS_BIND), source.Options);
                else
                    Mounts.Mount(source.HostPath, RootDirectory.ProcPath(target), null, MountFlags.MS_BIND | MountFlags.MS_REC);
            }
            if (!plan.NewCgroupNamespace && (flags & ~(MountFlags.MS_BIND | MountFlags.MS_REC)) != MountFlags.None)
            {
                using var mounted = root.Open(dir);
                Remount(mounted, flags, plan.InUserNamespace);
            }
            foreach (var alias in source.Aliases)
            {
                using var parent = root.Open(m.Destination, OpenFlags.O_PATH | OpenFlags.O_DIRECTORY);
                try
                {
                    Files.CreateSymlinkAt(source.Name, parent, alias);
                }
                catch (SyscallException e) when (e.Errno == Errno.EEXIST)
                {
                }
            }
        }
        if ((flags & MountFlags.MS_RDONLY) != 0)
        {
            using var mounted = root.Open(m.Destination);
            Mounts.Mount(null, RootDirectory.ProcPath(mounted), null, MountFlags.MS_REMOUNT | MountFlags.MS_RDONLY | MountFlags.MS_NOSUID | MountFlags.MS_NODEV | MountFlags.MS_NOEXEC);
        }
    }

    private static void MountCgroupV2(RootDirectory root, MountStep m, InitPlan plan)
    {
        var flags = (MountFlags)m.Flags & ~MountFlags.MS_BIND;
        using var target = root.MakeDirectories(m.Destination);
        if (plan.NewCgroupNamespace)
        {
            Mounts.Mount("cgroup2", RootDirectory.ProcPath(target), "cgroup2", flags & ~MountFlags.MS_REC, null);
            return;
        }
        Mounts.Mount(m.Source ?? throw CsrtException.Failed("no cgroup2 directory for the container"), RootDirectory.ProcPath(target), null, MountFlags.MS_BIND | MountFlags.MS_REC);
        if ((flags & ~MountFlags.MS_REC) != MountFlags.None)
        {
            using var mounted = root.Open(m.Destination);
            Remount(mounted, flags, plan.InUserNamespace);
        }
    }

    /// <summary>Device nodes (bind-mounted from the host inside a user namespace, where mknod is
    /// not allowed) and the standard /dev symlinks.</summary>
    public static void SetupDevices(RootDirectory root, InitPlan plan)
    {
        foreach (var d in plan.Devices)
        {
            try
            {
                CreateDevice(root, d, plan.InUserNamespace);
            }
            catch (SyscallException e)
            {
                throw CsrtException.Failed($"creating device {d.Path}: {e.Message}", e);
            }
        }
        if (!plan.SetupDev)
            return;
        var links = new List<(string Target, string Link)>
        {
            ("/proc/self/fd", "/dev/fd"),
            ("/proc/self/fd/0", "/dev/stdin"),
            ("/proc/self/fd/1", "/dev/stdout"),
            ("/proc/self/fd/2", "/dev/stderr"),
        };
        if (Files.Exists("/proc/kcore"))
            links.Add(("/proc/kcore", "/dev/core"));
        foreach (var (target, link) in links)
        {
            var (parent, name) = root.ParentOf(link);
            using (parent)
            {
                try
                {
                    Files.CreateSymlinkAt(target, parent, name);
                }
                catch (SyscallException e) when (e.Errno == Errno.EEXIST)
                {
                }
            }
        }
        // /dev/ptmx must be the container's devpts instance, not the host's ptmx node.
        var (devDir, ptmx) = root.ParentOf("/dev/ptmx");
        using (devDir)
        {
            try
            {
                Files.UnlinkAt(devDir, ptmx);
            }
            catch (SyscallException e) when (e.Errno == Errno.ENOENT)
            {
            }
            Files.CreateSymlinkAt("pts/ptmx", devDir, ptmx);
        }
    }

    private static void CreateDevice(RootDirectory root, DeviceNode d, bool inUserNamespace)
    {
        var typeBits = d.Type switch
        {
            'c' => StatInfo.S_IFCHR,
            'b' => StatInfo.S_IFBLK,
            'p' => StatInfo.S_IFIFO,
            _ => throw CsrtException.Failed($"device {d.Path}: unknown type '{d.Type}'"),
        };
        if (inUserNamespace && d.Type != 'p')
        {
            using var target = root.MakeFile(d.Path, 0);
            Mounts.Mount(d.Path, RootDirectory.ProcPath(target), null, MountFlags.MS_BIND);
            return;
        }
        var (parent, name) = root.ParentOf(d.Path);
        using (parent)
        {
            try
            {
                Files.UnlinkAt(parent, name);
            }
            catch (SyscallException e) when (e.Errno == Errno.ENOENT)
            {
            }
            var dev = MakeDev(d.Major, d.Minor);
            Files.MakeNodeAt(parent, name, typeBits | (d.FileMode & FileModes.Permissions), dev);
        }
        using var node = root.Open(d.Path, OpenFlags.O_PATH | OpenFlags.O_NOFOLLOW);
        Files.Chown(RootDirectory.ProcPath(node), d.Uid, d.Gid);
        Files.Chmod(RootDirectory.ProcPath(node), d.FileMode & FileModes.Permissions);
    }

    /// <summary>glibc's makedev.</summary>
    public static ulong MakeDev(long major, long minor)
    {
        var ma = (ulong)major;
        var mi = (ulong)minor;
        return ((ma & 0xfffff000UL) << 32) | ((ma & 0xfffUL) << 8) | ((mi & 0xffffff00UL) << 12) | (mi & 0xffUL);
    }

    /// <summary>Switches the root: pivot_root into the rootfs and detach the old root; or, with
    /// --no-pivot, move the rootfs over "/" and chroot (needed on ramfs roots, weaker isolation);
    /// or, without a mount namespace of the container's own, chroot into the rootfs (as runc and
    /// crun do: the host's mount table stays in the namespace, so this isolates no better than
    /// --no-pivot). Then the spec's rootfsPropagation is given to the new "/".</summary>
    public static void SwitchRoot(InitPlan plan)
    {
        if (!plan.OwnMountNamespace)
        {
            ProcessSession.ChangeRoot(plan.Rootfs);
            ProcessSession.ChangeDirectory("/");
            return;
        }
        if (plan.NoPivot)
        {
            ProcessSession.ChangeDirectory(plan.Rootfs);
            Mounts.Mount(plan.Rootfs, "/", null, MountFlags.MS_MOVE);
            ProcessSession.ChangeRoot(".");
            ProcessSession.ChangeDirectory("/");
        }
        else
        {
            PivotInto(plan.Rootfs);
        }
        // The bind of the rootfs was made under a private parent, so it starts out private
        // whatever "/" was: a "shared" root would not propagate to a bind of "/" made in the
        // container, as it does under crun, which gives "/" the propagation again here.
        if (plan.NewRootPropagation != 0)
            Mounts.Mount(null, "/", null, (MountFlags)plan.NewRootPropagation);
    }

    private static void PivotInto(string rootfs)
    {
        using var oldRoot = Files.Open("/", OpenFlags.O_DIRECTORY | OpenFlags.O_RDONLY);
        using var newRoot = Files.Open(rootfs, OpenFlags.O_DIRECTORY | OpenFlags.O_RDONLY);
        ProcessSession.ChangeDirectory(newRoot);
        // pivot_root(".", "."): the old root ends up stacked under the new one at "/", where it can
        // be detached without a directory for it in the image.
        Mounts.PivotRoot(".", ".");
        ProcessSession.ChangeDirectory(oldRoot);
        // Keep the unmount from propagating back to the host's mounts.
        Mounts.Mount(null, ".", null, MountFlags.MS_SLAVE | MountFlags.MS_REC);
        Mounts.Unmount(".", UnmountFlags.MNT_DETACH);
        ProcessSession.ChangeDirectory("/");
    }

    /// <summary>After pivot_root: masked paths (tmpfs over directories, /dev/null over files),
    /// read-only paths, then a read-only root.</summary>
    public static void Finish(InitPlan plan)
    {
        foreach (var path in plan.MaskedPaths)
        {
            var info = Files.TryStat(path);
            if (info is null)
                continue;
            try
            {
                if (info.Value.IsDirectory)
                    Mounts.Mount("tmpfs", path, "tmpfs", MountFlags.MS_RDONLY, null);
                else
                    Mounts.Mount("/dev/null", path, null, MountFlags.MS_BIND);
            }
            catch (SyscallException e)
            {
                throw CsrtException.Failed($"masking {path}: {e.Message}", e);
            }
        }
        foreach (var path in plan.ReadonlyPaths)
        {
            if (Files.TryStat(path) is null)
                continue;
            try
            {
                Mounts.Mount(path, path, null, MountFlags.MS_BIND | MountFlags.MS_REC);
                var flags = MountFlags.MS_BIND | MountFlags.MS_REMOUNT | MountFlags.MS_RDONLY | MountFlags.MS_REC |
                            (Mounts.CurrentFlags(path) & (MountFlags.MS_NOSUID | MountFlags.MS_NODEV | MountFlags.MS_NOEXEC));
                Mounts.Mount(null, path, null, flags);
            }
            catch (SyscallException e)
            {
                throw CsrtException.Failed($"making {path} read-only: {e.Message}", e);
            }
        }
        if (plan.RootfsReadonly)
        {
            var flags = MountFlags.MS_BIND | MountFlags.MS_REMOUNT | MountFlags.MS_RDONLY |
                        (Mounts.CurrentFlags("/") & (MountFlags.MS_NOSUID | MountFlags.MS_NODEV | MountFlags.MS_NOEXEC));
            Mounts.Mount(null, "/", null, flags);
        }
    }

    /// <summary>Writes linux.sysctl into the container's /proc/sys.</summary>
    public static void ApplySysctls(InitPlan plan)
    {
        foreach (var (key, value) in plan.Sysctl ?? new Dictionary<string, string>())
        {
            var path = "/proc/sys/" + key.Replace('.', '/');
            Files.WriteText(path, value);
        }
    }
}
