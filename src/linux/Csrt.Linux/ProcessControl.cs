using System.Globalization;
using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>setrlimit resources, as in sys/resource.h.</summary>
public enum ResourceLimit
{
    RLIMIT_CPU = 0,
    RLIMIT_FSIZE = 1,
    RLIMIT_DATA = 2,
    RLIMIT_STACK = 3,
    RLIMIT_CORE = 4,
    RLIMIT_RSS = 5,
    RLIMIT_NPROC = 6,
    RLIMIT_NOFILE = 7,
    RLIMIT_MEMLOCK = 8,
    RLIMIT_AS = 9,
    RLIMIT_LOCKS = 10,
    RLIMIT_SIGPENDING = 11,
    RLIMIT_MSGQUEUE = 12,
    RLIMIT_NICE = 13,
    RLIMIT_RTPRIO = 14,
    RLIMIT_RTTIME = 15,
}

/// <summary>Process attributes: prctl, rlimits, hostname, ids, umask, oom score.</summary>
public static unsafe class ProcessControl
{
    private const int PR_SET_DUMPABLE = 4, PR_SET_NAME = 15, PR_SET_CHILD_SUBREAPER = 36;

    private static int Prctl(int option, nuint a2, string name) =>
        Sys.Check(Interop.Libc.prctl(option, a2, 0, 0, 0), "prctl", name);

    /// <summary>The thread's name (comm), at most 15 bytes, e.g. <c>csrt:[1:INIT]</c>.</summary>
    public static void SetName(string name)
    {
        var z = Sys.Z(name.Length > 15 ? name[..15] : name);
        fixed (byte* p = z)
            Prctl(PR_SET_NAME, (nuint)p, "PR_SET_NAME");
    }

    public static void SetChildSubreaper(bool on) => Prctl(PR_SET_CHILD_SUBREAPER, on ? 1u : 0u, "PR_SET_CHILD_SUBREAPER");

    /// <summary>PR_SET_DUMPABLE: a non-dumpable process's /proc files (fds, memory, environ) are
    /// closed to everyone without CAP_SYS_PTRACE; execve resets it.</summary>
    public static void SetDumpable(bool on) => Prctl(PR_SET_DUMPABLE, on ? 1u : 0u, "PR_SET_DUMPABLE");

    public static void SetHostname(string name)
    {
        var z = Sys.Z(name);
        fixed (byte* p = z)
            Sys.Check(sethostname(p, z.Length - 1), "sethostname", name);
    }

    public static void SetDomainname(string name)
    {
        var z = Sys.Z(name);
        fixed (byte* p = z)
            Sys.Check(setdomainname(p, z.Length - 1), "setdomainname", name);
    }

    public static string GetHostname()
    {
        var buf = stackalloc byte[256];
        Sys.Check(gethostname(buf, 256), "gethostname");
        return Sys.FromZ(buf);
    }

    /// <summary>prlimit(2) on another process (0 = self). Raising a hard limit needs CAP_SYS_RESOURCE.</summary>
    public static void SetResourceLimit(int pid, ResourceLimit resource, ulong soft, ulong hard)
    {
        var limit = new Interop.Libc.rlimit { rlim_cur = soft, rlim_max = hard };
        if (Interop.Libc.prlimit(pid, (int)resource, &limit, null) < 0)
        {
            // Read errno once: the message is built before the exception, and anything in between may change it.
            var errno = Sys.LastErrno;
            throw new SyscallException("prlimit", errno, resource.ToString(),
                $"soft {soft}, hard {hard}" + (errno == Errno.EPERM ? " (raising a hard limit needs CAP_SYS_RESOURCE)" : ""));
        }
    }

    public static int GetPid() => getpid();

    public static int GetParentPid() => getppid();

    public static uint GetEffectiveUid() => geteuid();

    public static uint GetEffectiveGid() => getegid();

    public static uint SetUmask(uint mask) => (uint)umask((Tmds.Linux.mode_t)mask);

    /// <summary>Sets /proc/&lt;pid&gt;/oom_score_adj. Lowering it needs CAP_SYS_RESOURCE.</summary>
    public static void SetOomScoreAdj(int pid, int value)
    {
        var path = $"/proc/{(pid == 0 ? "self" : pid.ToString(CultureInfo.InvariantCulture))}/oom_score_adj";
        try
        {
            Files.WriteText(path, value.ToString(CultureInfo.InvariantCulture));
        }
        catch (SyscallException e) when (e.Errno is Errno.EPERM or Errno.EACCES)
        {
            throw new SyscallException("write", e.Errno, path,
                $"setting oom_score_adj to {value} (lowering it needs CAP_SYS_RESOURCE)");
        }
    }

    public static int GetOomScoreAdj(int pid) =>
        int.Parse(Files.ReadText($"/proc/{(pid == 0 ? "self" : pid.ToString(CultureInfo.InvariantCulture))}/oom_score_adj").Trim(), CultureInfo.InvariantCulture);

    /// <summary>The highest capability number the running kernel knows.</summary>
    public static int LastCapability { get; } = ReadLastCap();

    private static int ReadLastCap()
    {
        var text = Files.TryReadText("/proc/sys/kernel/cap_last_cap");
        return text is null ? 40 : int.Parse(text.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>pidfd_open(2): a handle that stays valid (and pollable) even after the pid is reused.</summary>
    public static FileDescriptor OpenPidFd(int pid)
    {
        var r = Interop.Libc.syscall(Interop.SyscallNumbers.pidfd_open, pid, 0, 0, 0, 0);
        Sys.Check((long)r, "pidfd_open", pid.ToString(CultureInfo.InvariantCulture));
        var fd = new FileDescriptor((int)r);
        Files.SetCloseOnExec(fd, true);
        return fd;
    }

    /// <summary>
    /// execveat(fd, "", argv, envp, AT_EMPTY_PATH): replaces this process's image with the
    /// executable open at <paramref name="executable"/>. Only returns by throwing.
    /// </summary>
    public static void ExecuteFile(FileDescriptor executable, IReadOnlyList<string> argv, IReadOnlyList<string> env)
    {
        const int AT_EMPTY_PATH = 0x1000;
        using var arena = new Native.NativeArena();
        var empty = arena.String("");
        Interop.Libc.execveat(executable.Number, empty, arena.Strings(argv), arena.Strings(env), AT_EMPTY_PATH);
        throw new SyscallException("execveat", Sys.LastErrno, argv.Count > 0 ? argv[0] : null);
    }
}
