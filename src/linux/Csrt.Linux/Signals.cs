using System.Globalization;

namespace Csrt.Linux;

/// <summary>Sending and naming signals.</summary>
public static class Signals
{
    public const int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGPIPE = 13,
        SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGWINCH = 28, SIGRTMIN = 34, SIGRTMAX = 64;

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
