using System.Runtime.InteropServices;

namespace Csrt.Linux.Interop;

/// <summary>
/// libc entry points that Tmds.LibC does not declare (or declares in a form we cannot use),
/// named exactly as in C. Everything else comes from <c>Tmds.Linux.LibC</c>. Internal to the
/// syscall layer: nothing outside Csrt.Linux calls libc directly.
/// </summary>
#pragma warning disable CS8981 // C names, on purpose
internal static unsafe partial class Libc
{
    private const string LibName = "libc";

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int close(int fd);

    /// <summary>Tmds.LibC declares poll without SetLastError: its errno (an EINTR from the shim's
    /// SIGCHLDs) would be lost and a stale value read in its place.</summary>
    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int poll(void* fds, nuint nfds, int timeout);

    [LibraryImport(LibName)]
    internal static partial int gettid();

    /// <summary>A signal to one thread (tests interrupt a blocked call with it).</summary>
    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int tgkill(int tgid, int tid, int sig);

    [LibraryImport(LibName)]
    internal static partial byte* strerror_r(int errnum, byte* buf, nuint buflen);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int waitid(int idtype, int id, siginfo* infop, int options);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int waitpid(int pid, int* status, int options);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int prlimit(int pid, int resource, rlimit* newLimit, rlimit* oldLimit);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial nint sendfile(int outFd, int inFd, long* offset, nuint count);

    /// <summary>Tmds.LibC's mknod/mknodat call the pre-2.33 glibc ABI (__xmknod/__xmknodat), which
    /// a static glibc does not have; mknodat itself exists in every glibc since 2.4.</summary>
    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int mknodat(int dirfd, byte* path, uint mode, ulong dev);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int rename(byte* oldpath, byte* newpath);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int faccessat(int dirfd, byte* path, int mode, int flags);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int flock(int fd, int operation);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int execveat(int dirfd, byte* path, byte** argv, byte** envp, int flags);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int personality(nuint persona);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int kill(int pid, int sig);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int ptsname_r(int fd, byte* buf, nuint buflen);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int unlockpt(int fd);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial int getdents64(int fd, byte* dirp, nuint count);

    [LibraryImport(LibName, SetLastError = true)]
    internal static partial nint syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5);

    internal const int P_ALL = 0, P_PID = 1, P_PIDFD = 3;
    internal const int WNOHANG = 1, WEXITED = 4, WNOWAIT = 0x01000000;
    internal const int CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3;

    /// <summary>The part of siginfo_t that waitid fills (x86_64 and arm64 layout).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    internal struct siginfo
    {
        [FieldOffset(0)] public int si_signo;
        [FieldOffset(4)] public int si_errno;
        [FieldOffset(8)] public int si_code;
        [FieldOffset(16)] public int si_pid;
        [FieldOffset(20)] public int si_uid;
        [FieldOffset(24)] public int si_status;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct rlimit
    {
        public ulong rlim_cur;
        public ulong rlim_max;
    }
}
