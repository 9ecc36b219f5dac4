using Csrt.Linux;
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
        var r = LoadFor(id, "start", ContainerStatus.Created);
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
        if (LoadSavedSpecIfItHasHooks(id)?.Hooks?.Poststart is { Count: > 0 } poststart)
            RunHooksWarningOnFailure(poststart, "poststart", HookStateJson(r, ContainerStatus.Running));
        return r;
    }

    /// <summary>The config.json saved at create (hooks, process defaults, seccomp for exec); null
    /// when there is none, or no such container.</summary>
    public RuntimeSpec? SavedSpec(string id)
    {
        var path = Store.ConfigOf(id);
        return Files.Exists(path) ? SpecLoader.Load(path) : null;
    }

    /// <summary>The saved config.json when it may have hooks, else null: `start` and `delete` need
    /// the spec only for their hooks, and most containers have none, so they skip parsing it.</summary>
    private RuntimeSpec? LoadSavedSpecIfItHasHooks(string id)
    {
        var path = Store.ConfigOf(id);
        using var fd = Files.TryOpen(path, OpenFlags.O_RDONLY);
        if (fd is null)
            return null;
        var json = Files.ReadToEnd(fd);
        return SpecLoader.MayHaveHooks(json) ? SpecLoader.Parse(json, path) : null;
    }
}
