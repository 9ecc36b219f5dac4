using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>open(2) flags (x86_64 values; checked against the C headers by the unit tests).</summary>
[Flags]
public enum OpenFlags
{
    O_RDONLY = 0,
    O_WRONLY = 0x1,
    O_RDWR = 0x2,
    O_CREAT = 0x40,
    O_EXCL = 0x80,
    O_NOCTTY = 0x100,
    O_TRUNC = 0x200,
    O_APPEND = 0x400,
    O_NONBLOCK = 0x800,
    O_DIRECTORY = 0x10000,
    O_NOFOLLOW = 0x20000,
    O_CLOEXEC = 0x80000,
    O_PATH = 0x200000,
}

/// <summary>openat2(2) RESOLVE_* flags.</summary>
[Flags]
public enum ResolveFlags : ulong
{
    None = 0,
    RESOLVE_NO_XDEV = 0x01,
    RESOLVE_NO_MAGICLINKS = 0x02,
    RESOLVE_NO_SYMLINKS = 0x04,
    RESOLVE_BENEATH = 0x08,
    RESOLVE_IN_ROOT = 0x10,
}

/// <summary>The parts of struct stat the runtime reads.</summary>
public readonly record struct StatInfo(uint Mode, ulong Device, ulong RDevice, ulong Inode, uint Uid, uint Gid, long Size)
{
    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFCHR = 0x2000, S_IFBLK = 0x6000,
        S_IFREG = 0x8000, S_IFIFO = 0x1000, S_IFLNK = 0xA000, S_IFSOCK = 0xC000;

    public bool IsDirectory => (Mode & S_IFMT) == S_IFDIR;
    public bool IsRegular => (Mode & S_IFMT) == S_IFREG;
    public bool IsSymlink => (Mode & S_IFMT) == S_IFLNK;
    public bool IsCharDevice => (Mode & S_IFMT) == S_IFCHR;
    public bool IsBlockDevice => (Mode & S_IFMT) == S_IFBLK;
    public bool IsFifo => (Mode & S_IFMT) == S_IFIFO;
    public uint DeviceMajor => (uint)(((RDevice >> 8) & 0xfff) | ((RDevice >> 32) & ~0xfffUL));
    public uint DeviceMinor => (uint)((RDevice & 0xff) | ((RDevice >> 12) & ~0xffUL));
}

/// <summary>Files, directories and fds. Every fd opened here is O_CLOEXEC.</summary>
public static unsafe class Files
{
    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const int AT_EMPTY_PATH = 0x1000;
    private const int AT_REMOVEDIR = 0x200;

    public static FileDescriptor Open(string path, OpenFlags flags, uint mode = 0) =>
        OpenAtCore(AT_FDCWD, path, flags, mode, path);

    public static FileDescriptor OpenAt(FileDescriptor dir, string path, OpenFlags flags, uint mode = 0) =>
        OpenAtCore(dir.Number, path, flags, mode, path);

    /// <summary>Opens, or returns null when the file does not exist (ENOENT).</summary>
    public static FileDescriptor? TryOpen(string path, OpenFlags flags, uint mode = 0)
    {
        try
        {
            return Open(path, flags, mode);
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT)
        {
            return null;
        }
    }

    private static FileDescriptor OpenAtCore(int dirfd, string path, OpenFlags flags, uint mode, string what)
    {
        var z = Sys.Z(path);
        int fd;
        fixed (byte* p = z)
        {
            do
            {
                fd = openat(dirfd, p, (int)(flags | OpenFlags.O_CLOEXEC), (mode_t)mode);
            } while (Sys.Interrupted(fd));
        }
        Sys.Check(fd, "open", what);
        return new FileDescriptor(fd);
    }

    /// <summary>openat2 relative to <paramref name="dir"/> with RESOLVE_* rules: with RESOLVE_IN_ROOT,
    /// symlinks and ".." are resolved as if <paramref name="dir"/> were "/", so a path can never
    /// leave it (the container's rootfs).</summary>
    public static FileDescriptor OpenInRoot(FileDescriptor dir, string path, OpenFlags flags, uint mode = 0,
        ResolveFlags resolve = ResolveFlags.RESOLVE_IN_ROOT | ResolveFlags.RESOLVE_NO_MAGICLINKS)
    {
        var z = Sys.Z(path);
        open_how how = default;
        how.flags = (ulong)(flags | OpenFlags.O_CLOEXEC);
        how.mode = mode;
        how.resolve = (ulong)resolve;
        long fd;
        fixed (byte* p = z)
        {
            do
            {
                fd = Interop.Libc.syscall(Interop.SyscallNumbers.openat2, dir.Number, (nint)p, (nint)(&how), sizeof(open_how), 0);
            } while (Sys.Interrupted(fd));
        }
        Sys.Check(fd, "openat2", path);
        return new FileDescriptor((int)fd);
    }

    public static int Read(FileDescriptor fd, Span<byte> buffer)
    {
        long n;
        fixed (byte* p = buffer)
        {
            do
            {
                n = read(fd.Number, p, buffer.Length);
            } while (Sys.Interrupted(n));
        }
        Sys.Check(n, "read", fd.ToString());
        return (int)n;
    }

    /// <summary>Reads until the buffer is full or EOF; returns the count.</summary>
    public static int ReadFull(FileDescriptor fd, Span<byte> buffer)
    {
        var done = 0;
        while (done < buffer.Length)
        {
            var n = Read(fd, buffer[done..]);
            if (n == 0)
                break;
            done += n;
        }
        return done;
    }

    /// <summary>The rest of a file whose size stat does not tell (procfs, cgroupfs). Read on the
    /// stack first: most such files fit, and then the one array made is the result, of its size.</summary>
    public static byte[] ReadToEnd(FileDescriptor fd)
    {
        Span<byte> first = stackalloc byte[16384];
        var used = ReadFull(fd, first);
        if (used < first.Length)
            return first[..used].ToArray();
        var buffer = new byte[first.Length * 4];
        first.CopyTo(buffer);
        while (true)
        {
            used += ReadFull(fd, buffer.AsSpan(used));
            if (used < buffer.Length)
                return buffer.AsSpan(0, used).ToArray();
            Array.Resize(ref buffer, buffer.Length * 2);
        }
    }

    public static int Write(FileDescriptor fd, ReadOnlySpan<byte> data)
    {
        long n;
        fixed (byte* p = data)
        {
            do
            {
                n = write(fd.Number, p, data.Length);
            } while (Sys.Interrupted(n));
        }
        Sys.Check(n, "write", fd.ToString());
        return (int)n;
    }

    public static void WriteAll(FileDescriptor fd, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
            data = data[Write(fd, data)..];
    }

    /// <summary>Reads a whole (small) file such as a /proc or cgroup file.</summary>
    public static string ReadText(string path)
    {
        using var fd = Open(path, OpenFlags.O_RDONLY);
        return Encoding.UTF8.GetString(ReadToEnd(fd));
    }

    public static string? TryReadText(string path)
    {
        using var fd = TryOpen(path, OpenFlags.O_RDONLY);
        return fd is null ? null : Encoding.UTF8.GetString(ReadToEnd(fd));
    }

    /// <summary>Writes <paramref name="text"/> in one write(2), as cgroup and /proc files need;
    /// errors name the file.</summary>
    public static void WriteText(string path, string text, OpenFlags flags = OpenFlags.O_WRONLY | OpenFlags.O_TRUNC, uint mode = 0)
    {
        using var fd = Open(path, flags, mode);
        var bytes = Encoding.UTF8.GetBytes(text);
        try
        {
            WriteAll(fd, bytes);
        }
        catch (SyscallException e)
        {
            throw new SyscallException("write", e.Errno, path, $"writing \"{text.TrimEnd()}\"");
        }
    }

    /// <summary>Writes a file atomically: a temporary file beside it, fsync, rename.</summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> data, uint mode = FileModes.UserReadWriteOthersRead)
    {
        var tmp = path + ".tmp-" + Environment.ProcessId;
        using (var fd = Open(tmp, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC, mode))
        {
            WriteAll(fd, data);
        }
        Rename(tmp, path);
    }

    public static void Rename(string from, string to)
    {
        fixed (byte* a = Sys.Z(from))
        fixed (byte* b = Sys.Z(to))
            Sys.Check(Interop.Libc.rename(a, b), "rename", $"{from} → {to}");
    }

    public static void MakeDirectory(string path, uint mode = FileModes.UserAllOthersReadExecute)
    {
        fixed (byte* p = Sys.Z(path))
            Sys.Check(mkdir(p, (mode_t)mode), "mkdir", path);
    }

    /// <summary>mkdir -p; existing directories are fine.</summary>
    public static void MakeDirectories(string path, uint mode = FileModes.UserAllOthersReadExecute)
    {
        if (path.Length == 0 || IsDirectory(path))
            return;
        var parent = Path.GetDirectoryName(path.TrimEnd('/'));
        if (!string.IsNullOrEmpty(parent) && parent != path)
            MakeDirectories(parent, mode);
        try
        {
            MakeDirectory(path, mode);
        }
        catch (SyscallException e) when (e.Errno == Errno.EEXIST && IsDirectory(path))
        {
        }
    }

    public static void MakeDirectoryAt(FileDescriptor dir, string name, uint mode = FileModes.UserAllOthersReadExecute)
    {
        fixed (byte* p = Sys.Z(name))
            Sys.Check(mkdirat(dir.Number, p, (mode_t)mode), "mkdirat", name);
    }

    public static void RemoveDirectory(string path)
    {
        fixed (byte* p = Sys.Z(path))
            Sys.Check(rmdir(p), "rmdir", path);
    }

    /// <summary>Unlinks; a missing file is not an error.</summary>
    public static bool TryUnlink(string path)
    {
        fixed (byte* p = Sys.Z(path))
        {
            if (unlink(p) == 0)
                return true;
            if (Sys.LastErrno == Errno.ENOENT)
                return false;
            throw new SyscallException("unlink", Sys.LastErrno, path);
        }
    }

    public static void UnlinkAt(FileDescriptor dir, string name, bool directory = false)
    {
        fixed (byte* p = Sys.Z(name))
            Sys.Check(unlinkat(dir.Number, p, directory ? AT_REMOVEDIR : 0), "unlinkat", name);
    }

    public static void CreateSymlinkAt(string target, FileDescriptor dir, string name)
    {
        fixed (byte* t = Sys.Z(target))
        fixed (byte* l = Sys.Z(name))
            Sys.Check(symlinkat(t, dir.Number, l), "symlinkat", $"{name} → {target}");
    }

    /// <summary>A hard link named <paramref name="name"/> in <paramref name="dir"/> to the file
    /// <paramref name="target"/> is open on (O_PATH is enough): linkat through the fd's /proc magic
    /// link, which needs no CAP_DAC_READ_SEARCH, unlike AT_EMPTY_PATH.</summary>
    public static void LinkAt(FileDescriptor target, FileDescriptor dir, string name)
    {
        const int AT_SYMLINK_FOLLOW = 0x400;
        var source = "/proc/self/fd/" + target.Number.ToString(System.Globalization.CultureInfo.InvariantCulture);
        fixed (byte* s = Sys.Z(source))
        fixed (byte* p = Sys.Z(name))
            Sys.Check(linkat(AT_FDCWD, s, dir.Number, p, AT_SYMLINK_FOLLOW), "linkat", name);
    }

    public static string ReadLink(string path)
    {
        var buf = stackalloc byte[4096];
        long n;
        fixed (byte* p = Sys.Z(path))
            n = readlink(p, buf, 4096);
        Sys.Check(n, "readlink", path);
        return Encoding.UTF8.GetString(buf, (int)n);
    }

    public static void MakeNodeAt(FileDescriptor dir, string name, uint mode, ulong device)
    {
        fixed (byte* p = Sys.Z(name))
            Sys.Check(Interop.Libc.mknodat(dir.Number, p, mode, device), "mknodat", name);
    }

    public static void MakeFifo(string path, uint mode)
    {
        fixed (byte* p = Sys.Z(path))
            Sys.Check(mkfifo(p, (mode_t)mode), "mkfifo", path);
    }

    public static void Chown(string path, uint uid, uint gid, bool followSymlinks = true)
    {
        fixed (byte* p = Sys.Z(path))
            Sys.Check(fchownat(AT_FDCWD, p, uid, gid, followSymlinks ? 0 : AT_SYMLINK_NOFOLLOW), "chown", path);
    }

    public static void Chown(FileDescriptor fd, uint uid, uint gid) =>
        Sys.Check(fchown(fd.Number, uid, gid), "fchown", fd.ToString());

    public static void Chmod(string path, uint mode)
    {
        fixed (byte* p = Sys.Z(path))
            Sys.Check(chmod(p, (mode_t)mode), "chmod", path);
    }

    public static void Chmod(FileDescriptor fd, uint mode) =>
        Sys.Check(fchmod(fd.Number, (mode_t)mode), "fchmod", fd.ToString());

    public static StatInfo Stat(string path) => StatAt(AT_FDCWD, path, 0, path);

    public static StatInfo Stat(FileDescriptor fd) => StatAt(fd.Number, "", AT_EMPTY_PATH, fd.ToString());

    /// <summary>fstatat relative to a directory fd, not following a final symlink.</summary>
    public static StatInfo LstatAt(FileDescriptor dir, string name) => StatAt(dir.Number, name, AT_SYMLINK_NOFOLLOW, name);

    public static string ReadLinkAt(FileDescriptor dir, string name)
    {
        var buf = stackalloc byte[4096];
        long n;
        fixed (byte* p = Sys.Z(name))
            n = readlinkat(dir.Number, p, buf, 4096);
        Sys.Check(n, "readlinkat", name);
        return Encoding.UTF8.GetString(buf, (int)n);
    }

    public static void ChownAt(FileDescriptor dir, string name, uint uid, uint gid)
    {
        fixed (byte* p = Sys.Z(name))
            Sys.Check(fchownat(dir.Number, p, uid, gid, AT_SYMLINK_NOFOLLOW), "fchownat", name);
    }

    /// <summary>Stat, or null when the path does not exist (ENOENT, ENOTDIR). Existence tests
    /// are frequent (cgroups, rootfs), so "missing" is a return value here, not an exception.</summary>
    public static StatInfo? TryStat(string path) => TryStatAt(AT_FDCWD, path, 0, path);

    public static StatInfo? TryLstat(string path) => TryStatAt(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, path);

    private static StatInfo StatAt(int dirfd, string path, int flags, string what) =>
        TryStatAt(dirfd, path, flags, what, missingIsError: true)!.Value;

    private static StatInfo? TryStatAt(int dirfd, string path, int flags, string what, bool missingIsError = false)
    {
        stat st;
        int r;
        fixed (byte* p = Sys.Z(path))
            r = fstatat(dirfd, p, &st, flags);
        if (r < 0)
        {
            var errno = Sys.LastErrno;
            if (!missingIsError && errno is Errno.ENOENT or Errno.ENOTDIR)
                return null;
            throw new SyscallException("stat", errno, what);
        }
        return new StatInfo((uint)st.st_mode, (ulong)st.st_dev, (ulong)st.st_rdev, (ulong)st.st_ino, (uint)st.st_uid, (uint)st.st_gid, (long)st.st_size);
    }

    public static bool Exists(string path) => TryLstat(path) is not null;

    public static bool IsDirectory(string path) => TryStat(path) is { IsDirectory: true };

    /// <summary>faccessat(W_OK, AT_EACCESS): whether this process, by its effective ids, may write
    /// <paramref name="path"/> (a directory: create entries in it). A missing path is not writable.</summary>
    public static bool IsWritable(string path)
    {
        const int W_OK = 2, AT_EACCESS = 0x200;
        fixed (byte* p = Sys.Z(path))
        {
            if (Interop.Libc.faccessat(AT_FDCWD, p, W_OK, AT_EACCESS) == 0)
                return true;
        }
        var errno = Sys.LastErrno;
        return errno is Errno.EACCES or Errno.EPERM or Errno.EROFS or Errno.ENOENT or Errno.ENOTDIR
            ? false
            : throw new SyscallException("faccessat", errno, path);
    }

    /// <summary>A pipe; both ends CLOEXEC.</summary>
    public static (FileDescriptor Read, FileDescriptor Write) Pipe(bool nonBlocking = false)
    {
        int* fds = stackalloc int[2];
        Sys.Check(pipe2(fds, (int)OpenFlags.O_CLOEXEC | (nonBlocking ? (int)OpenFlags.O_NONBLOCK : 0)), "pipe2");
        return (new FileDescriptor(fds[0]), new FileDescriptor(fds[1]));
    }

    /// <summary>dup with CLOEXEC, to a number at or above <paramref name="atLeast"/>.</summary>
    public static FileDescriptor Duplicate(FileDescriptor fd, int atLeast = 0)
    {
        const int F_DUPFD_CLOEXEC = 1030;
        return new FileDescriptor(Sys.Check(fcntl(fd.Number, F_DUPFD_CLOEXEC, atLeast), "fcntl(F_DUPFD_CLOEXEC)", fd.ToString()));
    }

    /// <summary>dup2 onto an exact number (the target is not CLOEXEC).</summary>
    public static void DuplicateTo(FileDescriptor fd, int target)
    {
        int r;
        do
        {
            r = dup2(fd.Number, target);
        } while (Sys.Interrupted(r));
        Sys.Check(r, "dup2", $"{fd} → {target}");
    }

    public static void SetCloseOnExec(FileDescriptor fd, bool on)
    {
        const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1;
        var flags = Sys.Check(fcntl(fd.Number, F_GETFD), "fcntl(F_GETFD)", fd.ToString());
        flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
        Sys.Check(fcntl(fd.Number, F_SETFD, flags), "fcntl(F_SETFD)", fd.ToString());
    }

    public static void SetNonBlocking(FileDescriptor fd, bool on)
    {
        const int F_GETFL = 3, F_SETFL = 4;
        var flags = Sys.Check(fcntl(fd.Number, F_GETFL), "fcntl(F_GETFL)", fd.ToString());
        flags = on ? flags | (int)OpenFlags.O_NONBLOCK : flags & ~(int)OpenFlags.O_NONBLOCK;
        Sys.Check(fcntl(fd.Number, F_SETFL, flags), "fcntl(F_SETFL)", fd.ToString());
    }

    /// <summary>Marks every fd from <paramref name="first"/> up CLOEXEC (close_range(2)).</summary>
    public static void CloseOnExecFrom(int first)
    {
        const nint CLOSE_RANGE_CLOEXEC = 4;
        var r = Interop.Libc.syscall(Interop.SyscallNumbers.close_range, first, unchecked((nint)(uint)~0), CLOSE_RANGE_CLOEXEC, 0, 0);
        Sys.Check((long)r, "close_range");
    }

    public enum LockKind
    {
        Shared = 1,
        Exclusive = 2,
    }

    /// <summary>flock(2); blocking unless <paramref name="nonBlocking"/>, which returns false when held.</summary>
    public static bool Lock(FileDescriptor fd, LockKind kind, bool nonBlocking = false, string? path = null)
    {
        const int LOCK_NB = 4;
        int r;
        do
        {
            r = Interop.Libc.flock(fd.Number, (int)kind | (nonBlocking ? LOCK_NB : 0));
        } while (Sys.Interrupted(r));
        if (r < 0 && nonBlocking && Sys.LastErrno == Errno.EAGAIN)
            return false;
        Sys.Check(r, "flock", path ?? fd.ToString());
        return true;
    }

    /// <summary>memfd_create(2) with MFD_CLOEXEC (and MFD_ALLOW_SEALING when asked).</summary>
    public static FileDescriptor CreateMemoryFile(string name, bool allowSealing)
    {
        const uint MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
        fixed (byte* p = Sys.Z(name))
            return new FileDescriptor(Sys.Check(memfd_create(p, MFD_CLOEXEC | (allowSealing ? MFD_ALLOW_SEALING : 0)), "memfd_create", name));
    }

    /// <summary>F_ADD_SEALS: seal, shrink, grow, write — the file can never change again.</summary>
    public static void SealForever(FileDescriptor fd)
    {
        const int F_ADD_SEALS = 1033;
        const int F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4, F_SEAL_WRITE = 8;
        Sys.Check(fcntl(fd.Number, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE), "fcntl(F_ADD_SEALS)", fd.ToString());
    }

    /// <summary>Copies all of <paramref name="from"/> (from its start) into <paramref name="to"/> in the kernel.</summary>
    public static void CopyAll(FileDescriptor from, FileDescriptor to)
    {
        long offset = 0;
        var size = Stat(from).Size;
        while (offset < size)
        {
            var n = Interop.Libc.sendfile(to.Number, from.Number, &offset, (nuint)(size - offset));
            if (Sys.Interrupted(n))
                continue;
            Sys.Check((long)n, "sendfile", from.ToString());
            if (n == 0)
                break;
        }
    }

    /// <summary>Names of the entries of a directory (no "." and ".."), via getdents64.</summary>
    public static List<string> ListDirectory(string path)
    {
        using var dir = Open(path, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        return ListDirectory(dir, path);
    }

    public static List<string> ListDirectory(FileDescriptor dir, string? what = null) =>
        Directories.ReadEntries(dir, what ?? dir.ToString(), directoriesOnly: false).ConvertAll(e => e.Name);
}
