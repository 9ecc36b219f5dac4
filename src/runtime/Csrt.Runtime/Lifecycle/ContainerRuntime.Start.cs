using Csrt.Linux;
using Csrt.Runtime.Hooks;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

public sealed partial class ContainerRuntime
{
    /// <summary>Releases a created container's init (it execs the user process), then runs the
    /// poststart hooks. Starting twice, or a stopped container, is refused.</summary>
    public ContainerRecord Start(string id)
    {
        using var containerLock = Store.Lock(id);
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (status != ContainerStatus.Created)
            throw new InvalidContainerStateException(id, status, "start");
        var fifoPath = Store.ExecFifoOf(id);
        using (var fifo = Files.Open(fifoPath, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK))
        {
            // Opening the read end unblocks the init's open for writing; it then writes one byte.
            // Poll so that an init that died meanwhile is noticed instead of waited for forever.
            var buffer = new byte[1];
            while (true)
            {
                if (Polling.WaitReadable(fifo, TimeSpan.FromMilliseconds(100)))
                {
                    try
                    {
                        if (Files.Read(fifo, buffer) == 1)
                            break;
                    }
                    catch (SyscallException e) when (e.Errno == Errno.EAGAIN)
                    {
                        continue;
                    }
                }
                if (!ProcStat.IsAlive(r.InitPid, r.InitStartTime))
                    throw new InvalidContainerStateException(id, ContainerStatus.Stopped, "start");
            }
        }
        Files.TryUnlink(fifoPath);
        var spec = LoadSavedSpec(id);
        var state = HookStateJson(r, ContainerStatus.Running);
        foreach (var hook in InitPlanBuilder.Hooks(spec?.Hooks?.Poststart))
        {
            try
            {
                HookRunner.Run(hook, "poststart", state, _options.ExitMonitor);
            }
            catch (HookFailedException e)
            {
                // The spec: a failing poststart hook is a warning; the container keeps running.
                Warn(e.Message);
            }
        }
        return r;
    }

    /// <summary>The config.json saved at create (hooks, process defaults, seccomp for exec).</summary>
    private RuntimeSpec? LoadSavedSpec(string id)
    {
        var path = Store.ConfigOf(id);
        return Files.Exists(path) ? SpecLoader.Load(path) : null;
    }
}
