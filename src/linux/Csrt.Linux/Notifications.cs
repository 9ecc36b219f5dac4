using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>inotify(7) event bits (linux/inotify.h).</summary>
[Flags]
public enum InotifyMask : uint
{
    IN_ACCESS = 0x1,
    IN_MODIFY = 0x2,
    IN_ATTRIB = 0x4,
    IN_CLOSE_WRITE = 0x8,
    IN_OPEN = 0x20,
    IN_CREATE = 0x100,
    IN_DELETE = 0x200,
    IN_DELETE_SELF = 0x400,
    IN_MOVE_SELF = 0x800,
    IN_UNMOUNT = 0x2000,
    IN_Q_OVERFLOW = 0x4000,
    IN_IGNORED = 0x8000,
}

/// <summary>One inotify event; <see cref="Name"/> only for watches on directories.</summary>
public readonly record struct InotifyEvent(int Watch, InotifyMask Mask, uint Cookie, string? Name);

/// <summary>poll(2) request/result for one fd (layout of struct pollfd).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PollFd
{
    public const short POLLIN = 0x1, POLLPRI = 0x2, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;

    public int Fd;
    public short Events;
    public short Returned;
}

/// <summary>Kernel notifications: eventfd(2), inotify(7), and poll(2) over many fds (one thread
/// watching many cgroups for OOM events).</summary>
public static unsafe partial class Notifications
{
    private const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    private const int IN_CLOEXEC = 0x80000, IN_NONBLOCK = 0x800;

    /// <summary>An eventfd (CLOEXEC).</summary>
    public static FileDescriptor CreateEventFd(uint initial = 0, bool nonBlocking = false)
    {
        var fd = eventfd(initial, EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0));
        return new FileDescriptor(Sys.Check(fd, "eventfd"));
    }

    /// <summary>Reads and resets an eventfd counter; false when it is zero and the fd is non-blocking.</summary>
    public static bool TryReadEventFd(FileDescriptor fd, out ulong value)
    {
        ulong v = 0;
        long n;
        do
        {
            n = read(fd.Number, &v, sizeof(ulong));
        } while (Sys.Interrupted(n));
        value = v;
        if (n < 0 && Sys.LastErrno == Errno.EAGAIN)
            return false;
        Sys.Check(n, "read(eventfd)", fd.ToString());
        return true;
    }

    /// <summary>Adds <paramref name="value"/> to an eventfd counter (wakes its readers).</summary>
    public static void WriteEventFd(FileDescriptor fd, ulong value = 1)
    {
        long n;
        do
        {
            n = write(fd.Number, &value, sizeof(ulong));
        } while (Sys.Interrupted(n));
        Sys.Check(n, "write(eventfd)", fd.ToString());
    }

    /// <summary>An inotify instance (CLOEXEC).</summary>
    public static FileDescriptor CreateInotify(bool nonBlocking = true) =>
        new(Sys.Check(Native.inotify_init1(IN_CLOEXEC | (nonBlocking ? IN_NONBLOCK : 0)), "inotify_init1"));

    /// <summary>inotify_add_watch; returns the watch descriptor.</summary>
    public static int AddWatch(FileDescriptor inotify, string path, InotifyMask mask)
    {
        fixed (byte* p = Sys.Z(path))
            return Sys.Check(Native.inotify_add_watch(inotify.Number, p, (uint)mask), "inotify_add_watch", path);
    }

    /// <summary>inotify_rm_watch; a watch the kernel already dropped (its file is gone) is not an error.</summary>
    public static void RemoveWatch(FileDescriptor inotify, int watch)
    {
        if (Native.inotify_rm_watch(inotify.Number, watch) < 0 && Sys.LastErrno != Errno.EINVAL)
            throw new SyscallException("inotify_rm_watch", Sys.LastErrno, watch.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Reads pending inotify events into <paramref name="into"/>; returns how many were added
    /// (0 when none are pending on a non-blocking fd).</summary>
    public static int ReadInotify(FileDescriptor inotify, List<InotifyEvent> into)
    {
        // Room for many events at once; each is 16 bytes plus the name.
        var buf = stackalloc byte[4096];
        long n;
        do
        {
            n = read(inotify.Number, buf, 4096);
        } while (Sys.Interrupted(n));
        if (n < 0 && Sys.LastErrno == Errno.EAGAIN)
            return 0;
        Sys.Check(n, "read(inotify)", inotify.ToString());
        return ParseInotify(new ReadOnlySpan<byte>(buf, (int)n), into);
    }

    /// <summary>Parses a buffer of <c>struct inotify_event</c> records.</summary>
    public static int ParseInotify(ReadOnlySpan<byte> data, List<InotifyEvent> into)
    {
        var count = 0;
        while (data.Length >= 16)
        {
            var wd = MemoryMarshal.Read<int>(data);
            var mask = MemoryMarshal.Read<uint>(data[4..]);
            var cookie = MemoryMarshal.Read<uint>(data[8..]);
            var len = (int)MemoryMarshal.Read<uint>(data[12..]);
            string? name = null;
            if (len > 0)
            {
                var raw = data.Slice(16, len);
                var end = raw.IndexOf((byte)0);
                name = System.Text.Encoding.UTF8.GetString(end < 0 ? raw : raw[..end]);
            }
            into.Add(new InotifyEvent(wd, (InotifyMask)mask, cookie, name));
            count++;
            data = data[(16 + len)..];
        }
        return count;
    }

    /// <summary>poll(2); returns the number of fds with events (0 on timeout). A negative timeout waits forever.</summary>
    public static int Poll(Span<PollFd> fds, int timeoutMilliseconds)
    {
        fixed (PollFd* p = fds)
        {
            int r;
            do
            {
                r = Interop.Libc.poll(p, (nuint)fds.Length, timeoutMilliseconds);
            } while (Sys.Interrupted(r));
            return Sys.Check(r, "poll");
        }
    }

    private static partial class Native
    {
        [LibraryImport("libc", SetLastError = true)]
        internal static partial int inotify_init1(int flags);

        [LibraryImport("libc", SetLastError = true)]
        internal static partial int inotify_add_watch(int fd, byte* pathname, uint mask);

        [LibraryImport("libc", SetLastError = true)]
        internal static partial int inotify_rm_watch(int fd, int wd);
    }
}
