using Csrt.Linux;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

public sealed partial class ContainerRuntime
{
    /// <summary>Sends a signal to the init, or with <paramref name="all"/> to every process in the
    /// container's cgroup (or its pid namespace, for a rootless container without a cgroup). Signalling the init of a stopped container is an error (nothing to
    /// signal); `--all` on a stopped container signals what is left in its cgroup, as runc does
    /// (the runc shim calls it after the init of a container without a pid namespace exited).</summary>
    public void Kill(string id, int signal, bool all = false)
    {
        using var containerLock = Store.Lock(id);
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (all)
        {
            if (r.CgroupPaths.Count > 0)
                Cgroups(r).KillAll(signal);
            else if (status != ContainerStatus.Stopped)
            {
                // Created rootless without a writable cgroup: its processes are its pid namespace's.
                foreach (var pid in PidNamespaceMembers(r))
                    Signals.Send(pid, signal);
            }
            return;
        }
        if (status == ContainerStatus.Stopped)
            throw new InvalidContainerStateException(id, status, "kill");
        SignalInit(r, signal);
        // A SIGKILL to a frozen process (cgroup v1) waits for the thaw: thaw the container, as
        // runc does, so that killing a paused container ends it now.
        if (status == ContainerStatus.Paused && signal == Signals.SIGKILL && r.CgroupPaths.Count > 0)
            Cgroups(r).Thaw();
    }

    /// <summary>Signals the init through a pidfd checked against its start time, so a reused pid
    /// is never hit.</summary>
    private static bool SignalInit(ContainerRecord r, int signal)
    {
        FileDescriptor pidfd;
        try
        {
            pidfd = ProcessControl.OpenPidFd(r.InitPid);
        }
        catch (SyscallException e) when (e.Errno == Errno.ESRCH)
        {
            return false;
        }
        using (pidfd)
        {
            if (!ProcStat.IsAlive(r.InitPid, r.InitStartTime))
                return false;
            return Signals.Send(pidfd, signal);
        }
    }
}
