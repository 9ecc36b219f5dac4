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

/// <summary>Mounting, unmounting and pivot_root.</summary>
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
            } while (r < 0 && Sys.LastErrno == Errno.EINTR);
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
            } while (r < 0 && Sys.LastErrno == Errno.EINTR);
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

    public static void PivotRoot(string newRoot, string putOld)
    {
        fixed (byte* n = Sys.Z(newRoot))
        fixed (byte* o = Sys.Z(putOld))
        {
            var r = Interop.Libc.syscall(Interop.SyscallNumbers.pivot_root, (nint)n, (nint)o, 0, 0, 0);
            Sys.Check((long)r, "pivot_root", $"{newRoot}, {putOld}");
        }
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
