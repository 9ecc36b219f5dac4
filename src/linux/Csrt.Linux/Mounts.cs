using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>mount(2) flags, as in sys/mount.h.</summary>
[Flags]
public enum MountFlags : ulong
{
    None = 0,
    MS_RDONLY = 1,
    MS_NOSUID = 2,
    MS_NODEV = 4,
    MS_NOEXEC = 8,
    MS_SYNCHRONOUS = 16,
    MS_REMOUNT = 32,
    MS_MANDLOCK = 64,
    MS_DIRSYNC = 128,
    MS_NOSYMFOLLOW = 256,
    MS_NOATIME = 1024,
    MS_NODIRATIME = 2048,
    MS_BIND = 4096,
    MS_MOVE = 8192,
    MS_REC = 16384,
    MS_SILENT = 32768,
    MS_POSIXACL = 1 << 16,
    MS_UNBINDABLE = 1 << 17,
    MS_PRIVATE = 1 << 18,
    MS_SLAVE = 1 << 19,
    MS_SHARED = 1 << 20,
    MS_RELATIME = 1 << 21,
    MS_I_VERSION = 1 << 23,
    MS_STRICTATIME = 1 << 24,
    MS_LAZYTIME = 1 << 25,
}

/// <summary>umount2(2) flags.</summary>
[Flags]
public enum UnmountFlags
{
    None = 0,
    MNT_FORCE = 1,
    MNT_DETACH = 2,
    MNT_EXPIRE = 4,
    UMOUNT_NOFOLLOW = 8,
}

/// <summary>Mounting and unmounting; detached mounts (open_tree, fsmount, move_mount).</summary>
public static unsafe class Mounts
{
    /// <summary>mount(2). Errors name the source and target.</summary>
    public static void Mount(string? source, string target, string? fsType, MountFlags flags, string? data = null)
    {
        var s = source is null ? null : Sys.Z(source);
        var t = Sys.Z(target);
        var f = fsType is null ? null : Sys.Z(fsType);
        var d = string.IsNullOrEmpty(data) ? null : Sys.Z(data);
        int r;
        fixed (byte* ps = s)
        fixed (byte* pt = t)
        fixed (byte* pf = f)
        fixed (byte* pd = d)
        {
            do
            {
                r = mount(ps, pt, pf, (ulong_t)(ulong)flags, pd);
            } while (Sys.Interrupted(r));
        }
        if (r < 0)
        {
            var what = source is null || source == target ? target : $"{source} → {target}";
            var detail = $"type {fsType ?? "none"}, flags {flags}" + (string.IsNullOrEmpty(data) ? "" : $", data \"{data}\"");
            throw new SyscallException("mount", Sys.LastErrno, what, detail);
        }
    }

    public static void Unmount(string target, UnmountFlags flags = UnmountFlags.None)
    {
        int r;
        fixed (byte* p = Sys.Z(target))
        {
            do
            {
                r = umount2(p, (int)flags);
            } while (Sys.Interrupted(r));
        }
        Sys.Check(r, "umount2", target);
    }

    /// <summary>Unmounts; "not mounted" (EINVAL) and "gone" (ENOENT) return false.</summary>
    public static bool TryUnmount(string target, UnmountFlags flags = UnmountFlags.None)
    {
        try
        {
            Unmount(target, flags);
            return true;
        }
        catch (SyscallException e) when (e.Errno is Errno.EINVAL or Errno.ENOENT)
        {
            return false;
        }
    }

    /// <summary>MOUNT_ATTR_IDMAP: the mount shows the ids of a user namespace's mappings.</summary>
    public const ulong MOUNT_ATTR_IDMAP = 0x100000;

    /// <summary>
    /// open_tree(2) with OPEN_TREE_CLONE: a copy of the mount at <paramref name="path"/> (with the
    /// mounts below it when <paramref name="recursive"/>, as rbind) that is attached nowhere yet:
    /// the only state in which the kernel lets a mount be id-mapped.
    /// </summary>
    public static FileDescriptor CloneTree(string path, bool recursive)
    {
        const nint OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = 0x80000, AT_RECURSIVE = 0x8000, AT_FDCWD = -100;
        long r;
        fixed (byte* p = Sys.Z(path))
        {
            do
            {
                r = Interop.Libc.syscall(Interop.SyscallNumbers.open_tree, AT_FDCWD, (nint)p,
                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0), 0, 0);
            } while (Sys.Interrupted(r));
        }
        return new FileDescriptor((int)Sys.Check(r, "open_tree", path));
    }

    /// <summary>
    /// mount_setattr(2) MOUNT_ATTR_IDMAP on a detached mount (from <see cref="CloneTree"/>): its
    /// files show the ids of <paramref name="userNamespace"/>'s mappings. The kernel refuses
    /// (EINVAL) a filesystem that cannot be id-mapped; <paramref name="what"/> names it in the error.
    /// </summary>
    public static void SetIdMapping(FileDescriptor mount, FileDescriptor userNamespace, bool recursive, string what)
    {
        const nint AT_EMPTY_PATH = 0x1000, AT_RECURSIVE = 0x8000;
        var attr = stackalloc ulong[4]; // struct mount_attr { attr_set, attr_clr, propagation, userns_fd }
        attr[0] = MOUNT_ATTR_IDMAP;
        attr[1] = 0;
        attr[2] = 0;
        attr[3] = (ulong)userNamespace.Number;
        fixed (byte* empty = Sys.Z(""))
        {
            long r;
            do
            {
                r = Interop.Libc.syscall(Interop.SyscallNumbers.mount_setattr, mount.Number, (nint)empty,
                    AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), (nint)attr, 32);
            } while (Sys.Interrupted(r));
            if (r < 0)
                throw new SyscallException("mount_setattr", Sys.LastErrno, what,
                    "MOUNT_ATTR_IDMAP" + (recursive ? " recursive" : "") + (Sys.LastErrno == Errno.EINVAL ? ": the filesystem cannot be id-mapped" : ""));
        }
    }

    /// <summary>move_mount(2): attaches a detached mount (<paramref name="mount"/>) on the file or
    /// directory <paramref name="target"/> refers to (an O_PATH fd, so no path is resolved again).</summary>
    public static void MoveMount(FileDescriptor mount, FileDescriptor target, string what)
    {
        const nint MOVE_MOUNT_F_EMPTY_PATH = 0x4, MOVE_MOUNT_T_EMPTY_PATH = 0x40;
        fixed (byte* empty = Sys.Z(""))
        {
            long r;
            do
            {
                r = Interop.Libc.syscall(Interop.SyscallNumbers.move_mount, mount.Number, (nint)empty, target.Number, (nint)empty,
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
            } while (Sys.Interrupted(r));
            Sys.Check(r, "move_mount", what);
        }
    }

    /// <summary>move_mount(2) onto a path (the shim's rootfs and its temporary lower directories).</summary>
    public static void MoveMount(FileDescriptor mount, string target)
    {
        const nint MOVE_MOUNT_F_EMPTY_PATH = 0x4, AT_FDCWD = -100;
        fixed (byte* empty = Sys.Z(""))
        fixed (byte* t = Sys.Z(target))
        {
            long r;
            do
            {
                r = Interop.Libc.syscall(Interop.SyscallNumbers.move_mount, mount.Number, (nint)empty, AT_FDCWD, (nint)t, MOVE_MOUNT_F_EMPTY_PATH);
            } while (Sys.Interrupted(r));
            Sys.Check(r, "move_mount", target);
        }
    }

    /// <summary>
    /// A new <paramref name="fsType"/> instance mounted nowhere (fsopen, fsconfig, fsmount): the
    /// result is an fd on the root of a detached mount that no path reaches and that lives as long
    /// as fds into it do. <paramref name="options"/> are string parameters (fsconfig
    /// FSCONFIG_SET_STRING) in order; <paramref name="optional"/> ones may be refused silently.
    /// <paramref name="mountAttributes"/> are MOUNT_ATTR_* (RDONLY 1, NOSUID 2, NODEV 4, NOEXEC 8).
    /// </summary>
    public static FileDescriptor CreateDetached(string fsType, IReadOnlyList<(string Key, string Value, bool Optional)> options, ulong mountAttributes)
    {
        const int FSOPEN_CLOEXEC = 1, FSMOUNT_CLOEXEC = 1, FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6;
        long r;
        fixed (byte* t = Sys.Z(fsType))
            r = Interop.Libc.syscall(Interop.SyscallNumbers.fsopen, (nint)t, FSOPEN_CLOEXEC, 0, 0, 0);
        using var context = new FileDescriptor((int)Sys.Check(r, "fsopen", fsType));
        foreach (var (key, value, optional) in options)
        {
            fixed (byte* k = Sys.Z(key))
            fixed (byte* v = Sys.Z(value))
                r = Interop.Libc.syscall(Interop.SyscallNumbers.fsconfig, context.Number, FSCONFIG_SET_STRING, (nint)k, (nint)v, 0);
            if (r < 0 && !optional)
                throw new SyscallException("fsconfig", Sys.LastErrno, fsType, $"{key}={value}");
        }
        r = Interop.Libc.syscall(Interop.SyscallNumbers.fsconfig, context.Number, FSCONFIG_CMD_CREATE, 0, 0, 0);
        if (r < 0)
            throw new SyscallException("fsconfig", Sys.LastErrno, fsType, "FSCONFIG_CMD_CREATE");
        r = Interop.Libc.syscall(Interop.SyscallNumbers.fsmount, context.Number, FSMOUNT_CLOEXEC, (nint)mountAttributes, 0, 0);
        return new FileDescriptor((int)Sys.Check(r, "fsmount", fsType));
    }

    /// <summary>Mount points below (and at) <paramref name="prefix"/>, deepest first, from /proc/self/mountinfo.</summary>
    public static List<string> MountPointsUnder(string prefix)
    {
        prefix = prefix.TrimEnd('/');
        var result = new List<string>();
        foreach (var line in Files.ReadText("/proc/self/mountinfo").Split('\n'))
        {
            var fields = line.Split(' ');
            if (fields.Length < 5)
                continue;
            var mountPoint = UnescapeOctal(fields[4]);
            if (mountPoint == prefix || mountPoint.StartsWith(prefix + "/", StringComparison.Ordinal))
                result.Add(mountPoint);
        }
        result.Sort((a, b) => b.Length.CompareTo(a.Length));
        return result;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo.</summary>
    public static string UnescapeOctal(string s)
    {
        if (!s.Contains('\\'))
            return s;
        var sb = new System.Text.StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && IsOctal(s, i + 1))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                sb.Append(s[i]);
            }
        }
        return sb.ToString();
    }

    private static bool IsOctal(string s, int at) =>
        at + 3 <= s.Length && s[at] is >= '0' and <= '7' && s[at + 1] is >= '0' and <= '7' && s[at + 2] is >= '0' and <= '7';
}
