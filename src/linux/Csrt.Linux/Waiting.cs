using System.Globalization;

namespace Csrt.Linux;

/// <summary>How a child ended. <see cref="Status"/> follows the shell convention containerd uses:
/// the exit code, or 128 + signal when it was killed.</summary>
public readonly record struct ChildExit(int Pid, int ExitCode, int Signal)
{
    public bool Signaled => Signal != 0;

    public int Status => Signaled ? 128 + Signal : ExitCode;

    internal static ChildExit FromWaitStatus(int pid, int status)
    {
        var sig = status & 0x7f;
        return sig == 0 ? new ChildExit(pid, (status >> 8) & 0xff, 0) : new ChildExit(pid, 0, sig);
    }
}

/// <summary>Waiting for children (waitpid, waitid).</summary>
public static unsafe class Waiting
{
    /// <summary>Blocks until <paramref name="pid"/> exits and reaps it.</summary>
    public static ChildExit WaitFor(int pid)
    {
        int status;
        int r;
        do
        {
            r = Interop.Libc.waitpid(pid, &status, 0);
        } while (Sys.Interrupted(r));
        Sys.Check(r, "waitpid", pid.ToString(CultureInfo.InvariantCulture));
        return ChildExit.FromWaitStatus(r, status);
    }

    /// <summary>Reaps <paramref name="pid"/> if it has exited; null while it runs.</summary>
    public static ChildExit? TryWaitFor(int pid)
    {
        int status;
        int r;
        do
        {
            r = Interop.Libc.waitpid(pid, &status, Interop.Libc.WNOHANG);
        } while (Sys.Interrupted(r));
        Sys.Check(r, "waitpid", pid.ToString(CultureInfo.InvariantCulture));
        return r == 0 ? null : ChildExit.FromWaitStatus(r, status);
    }

    /// <summary>Reaps any exited child without blocking (a subreaper's SIGCHLD loop); null when
    /// none is ready or there are no children.</summary>
    public static ChildExit? TryReapAny()
    {
        Interop.Libc.siginfo info = default;
        int r;
        do
        {
            r = Interop.Libc.waitid(Interop.Libc.P_ALL, 0, &info, Interop.Libc.WEXITED | Interop.Libc.WNOHANG);
        } while (Sys.Interrupted(r));
        if (r < 0)
        {
            if (Sys.LastErrno == Errno.ECHILD)
                return null;
            throw new SyscallException("waitid", Sys.LastErrno);
        }
        if (info.si_pid == 0)
            return null;
        return info.si_code == Interop.Libc.CLD_EXITED
            ? new ChildExit(info.si_pid, info.si_status, 0)
            : new ChildExit(info.si_pid, 0, info.si_status);
    }
}
