using System.Globalization;

namespace Csrt.Linux;

/// <summary>Sending and naming signals.</summary>
public static class Signals
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGFPE = 8, SIGKILL = 9,
        SIGUSR1 = 10, SIGSEGV = 11, SIGPIPE = 13, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGURG = 23,
        SIGWINCH = 28, SIGPWR = 30, SIGRTMIN = 34, SIGRTMAX = 64;

    /// <summary>
    /// The signals this process can take a handler for without taking them from the kernel, glibc or
    /// the .NET runtime: all of 1..SIGRTMAX except
    /// <list type="bullet">
    /// <item>SIGKILL and SIGSTOP, which no handler can catch;</item>
    /// <item>32 and 33, glibc's own (thread cancellation, set*id across threads): sigaction refuses them;</item>
    /// <item>SIGRTMIN (34), NativeAOT's activation signal: it is sent to each thread to suspend it for a GC;</item>
    /// <item>SIGPIPE, which the runtime ignores so that a write to a closed pipe fails with EPIPE;</item>
    /// <item>the signals the kernel raises for a thread's own fault (SIGILL, SIGTRAP, SIGBUS, SIGFPE,
    /// SIGSEGV): a handler cannot tell a fault from a kill(2), returning from one re-runs the faulting
    /// instruction, and NativeAOT turns SIGSEGV and SIGFPE into exceptions.</item>
    /// </list>
    /// </summary>
    public static IReadOnlyList<int> Catchable { get; } = Enumerable.Range(1, SIGRTMAX)
        .Where(s => s is not (SIGKILL or SIGSTOP or 32 or 33 or SIGRTMIN or SIGPIPE or SIGILL or SIGTRAP or SIGBUS or SIGFPE or SIGSEGV))
        .ToArray();

    private static readonly string[] Names =
    {
        "", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU",
        "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    };

    /// <summary>Parses a signal as runc does: "9", "KILL", "SIGKILL", "sigkill", "RTMIN+3", "SIGRTMAX-1".</summary>
    public static bool TryParse(string text, out int signal)
    {
        signal = 0;
        var s = text.Trim().ToUpperInvariant();
        if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            signal = n;
            return n is > 0 and <= SIGRTMAX;
        }
        if (s.StartsWith("SIG", StringComparison.Ordinal))
            s = s[3..];
        var i = Array.IndexOf(Names, s);
        if (i > 0)
        {
            signal = i;
            return true;
        }
        if (s == "IOT")
        {
            signal = 6;
            return true;
        }
        if (s == "POLL")
        {
            signal = 29;
            return true;
        }
        foreach (var (prefix, baseSig, dir) in new[] { ("RTMIN", SIGRTMIN, 1), ("RTMAX", SIGRTMAX, -1) })
        {
            if (!s.StartsWith(prefix, StringComparison.Ordinal))
                continue;
            var rest = s[prefix.Length..];
            var off = 0;
            if (rest.Length > 0 && !(rest[0] == (dir > 0 ? '+' : '-') && int.TryParse(rest[1..], NumberStyles.None, CultureInfo.InvariantCulture, out off)))
                return false;
            signal = baseSig + dir * off;
            return signal is >= SIGRTMIN and <= SIGRTMAX;
        }
        return false;
    }

    public static int Parse(string text) =>
        TryParse(text, out var s) ? s : throw new ArgumentException($"unknown signal \"{text}\"; expected a name such as SIGTERM or a number 1-64");

    public static string Name(int signal) =>
        signal > 0 && signal < Names.Length ? "SIG" + Names[signal] : signal >= SIGRTMIN && signal <= SIGRTMAX ? $"SIGRTMIN+{signal - SIGRTMIN}" : signal.ToString(CultureInfo.InvariantCulture);

    /// <summary>kill(2). Returns false when the process no longer exists (ESRCH).</summary>
    public static bool Send(int pid, int signal)
    {
        if (Interop.Libc.kill(pid, signal) == 0)
            return true;
        if (Sys.LastErrno == Errno.ESRCH)
            return false;
        throw new SyscallException("kill", Sys.LastErrno, pid.ToString(CultureInfo.InvariantCulture), Name(signal));
    }

    /// <summary>pidfd_send_signal(2): no pid-reuse race. Returns false when the process has exited.</summary>
    public static bool Send(FileDescriptor pidfd, int signal)
    {
        var r = Interop.Libc.syscall(Interop.SyscallNumbers.pidfd_send_signal, pidfd.Number, signal, 0, 0, 0);
        if (r == 0)
            return true;
        if (Sys.LastErrno == Errno.ESRCH)
            return false;
        throw new SyscallException("pidfd_send_signal", Sys.LastErrno, pidfd.ToString(), Name(signal));
    }
}
