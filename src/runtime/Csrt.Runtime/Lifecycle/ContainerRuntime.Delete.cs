using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

public sealed partial class ContainerRuntime
{
    /// <summary>
    /// Deletes a container: a stopped or created one always; a running or paused one only with
    /// <paramref name="force"/> (every process is killed first). The cgroup, the mounts a container
    /// without a mount namespace of its own made in ours, and the state directory are removed, then
    /// the poststop hooks run (their failures are warnings, as the spec says).
    /// </summary>
    public void Delete(string id, bool force = false)
    {
        using var containerLock = Store.Lock(id);
        ContainerRecord r;
        try
        {
            r = Store.Load(id);
        }
        catch (ContainerNotFoundException)
        {
            // A directory without state: a create that died half-way. Remove what is there.
            Store.Remove(id);
            return;
        }
        catch (InvalidOperationException) when (force)
        {
            Store.Remove(id);
            return;
        }
        var status = StatusOf(r);
        if (status is ContainerStatus.Running or ContainerStatus.Paused && !force)
            throw new InvalidContainerStateException(id, status, "delete", "stop it first, or use --force");
        var cgroup = r.CgroupPaths.Count > 0 ? Cgroups(r) : null;
        if (status != ContainerStatus.Stopped)
        {
            if (status == ContainerStatus.Paused)
                cgroup?.Thaw();
            SignalInit(r, Signals.SIGKILL);
            cgroup?.KillAll(Signals.SIGKILL);
            WaitGone(r);
        }
        else if (cgroup is not null && (r.CreatedNamespaces & (ulong)CloneFlags.CLONE_NEWPID) == 0)
        {
            // Without its own pid namespace the init's death does not take the rest with it.
            try
            {
                cgroup.KillAll(Signals.SIGKILL);
            }
            catch (Exception e) when (e is SyscallException or CgroupException)
            {
                Warn($"killing what is left in {id}'s cgroup: {e.Message}");
            }
        }
        var poststop = LoadSavedSpecIfItHasHooks(id)?.Hooks?.Poststop;
        try
        {
            cgroup?.Destroy();
        }
        catch (Exception e) when (e is SyscallException or CgroupException)
        {
            if (!force)
                throw;
            Warn($"removing the cgroup of {id}: {e.Message}");
        }
        if (r.HostMounts is { Count: > 0 } hostMounts)
            HostMounts.Detach(hostMounts, Warn);
        Store.Remove(id);
        if (poststop is { Count: > 0 })
            RunHooksWarningOnFailure(poststop, "poststop", HookStateJson(r, ContainerStatus.Stopped));
    }

    /// <summary>Waits (bounded) until the init is gone, so the cgroup can be removed.</summary>
    private void WaitGone(ContainerRecord r)
    {
        var deadline = Environment.TickCount64 + 10_000;
        while (ProcStat.IsAlive(r.InitPid, r.InitStartTime))
        {
            if (Environment.TickCount64 > deadline)
            {
                Warn($"container {r.Id}: init {r.InitPid} is still alive 10 s after SIGKILL");
                return;
            }
            Thread.Sleep(5);
        }
    }
}
