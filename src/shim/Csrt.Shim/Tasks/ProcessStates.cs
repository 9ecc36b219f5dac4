using Csrt.Runtime.Errors;

namespace Csrt.Shim.Tasks;

/// <summary>What the State RPC reports of a process, and what the state objects are named after.</summary>
public enum ProcessStatus
{
    /// <summary>An exec id taken by an Exec whose IO is still opening: not a process yet, invisible to every RPC.</summary>
    Reserved,
    Created,
    Running,
    Pausing,
    Paused,
    Stopped,
    Deleted,
}

/// <summary>
/// One state of a shim process, as containerd's runc shim has them (pkg/process/init_state.go,
/// exec_state.go): one object per state, each answering an operation with the state after it or
/// refusing it: FAILED_PRECONDITION for what the state forbids, NOT_FOUND for a process that is
/// gone. The container applies the answer once the runtime call it guards has succeeded (a pause
/// shows Pausing during the freeze, and goes back to Running if it fails). Exits always land
/// (<see cref="Exit"/>). The refusal texts are containerd's runc shim's, which
/// clients match (CRI takes "process already finished: not found" as already stopped).
/// </summary>
public abstract class ProcessState
{
    public abstract ProcessStatus Status { get; }

    public virtual ProcessState Open() => throw Refuse("open");

    public virtual ProcessState Start() => throw Refuse("start");

    /// <summary>Whether an exec may be added to (or started in) the container of this init.</summary>
    public virtual void ExecIn() => throw Refuse("exec in");

    public virtual ProcessState Pause() => throw Refuse("pause");

    /// <summary>After the freeze: <paramref name="frozen"/> or not.</summary>
    public virtual ProcessState Paused(bool frozen) => throw Refuse("finish pausing");

    public virtual ProcessState Resume() => throw Refuse("resume");

    public virtual ProcessState Delete(ShimProcess p) => throw Refuse("delete");

    /// <summary>Sends <paramref name="signal"/> as containerd's Kill means it in this state.</summary>
    public virtual void Kill(ShimProcess p, IContainerControl control, int signal, bool all) => throw Refuse("kill");

    /// <summary>The process exited (or will never run): stopped, unless already deleted.</summary>
    public virtual ProcessState Exit() => Stopped;

    private CsrtException Refuse(string operation) =>
        CsrtException.FailedPrecondition($"cannot {operation} a {Status.ToString().ToLowerInvariant()} process");

    /// <summary>containerd's runc shim's words for a process that has exited (checkKillError).</summary>
    public static CsrtException Finished() => CsrtException.NotFound("process already finished");

    /// <summary>A signal for the init goes through the runtime (pidfd checked against the start
    /// time; `all` to the whole cgroup). What the runtime reports in its own words becomes the
    /// runc shim's (checkKillError): a stopped container is a finished process, a missing one
    /// "no such container", both NOT_FOUND.</summary>
    protected static void KillThroughRuntime(ShimProcess p, IContainerControl control, int signal, bool all)
    {
        try
        {
            control.Kill(p.ContainerId, signal, all);
        }
        catch (CsrtException e) when (e.Kind == ErrorKind.FailedPrecondition)
        {
            throw Finished();
        }
        catch (CsrtException e) when (e.Kind == ErrorKind.NotFound)
        {
            throw CsrtException.NotFound("no such container");
        }
    }

    public static readonly ProcessState Reserved = new ReservedState();
    public static readonly ProcessState Stopped = new StoppedState();
    public static readonly ProcessState Deleted = new DeletedState();

    private sealed class ReservedState : ProcessState
    {
        public override ProcessStatus Status => ProcessStatus.Reserved;

        public override ProcessState Open() => ExecStates.Created;
    }

    private sealed class StoppedState : ProcessState
    {
        public override ProcessStatus Status => ProcessStatus.Stopped;

        public override ProcessState Delete(ShimProcess p) => ProcessState.Deleted;

        public override void Kill(ShimProcess p, IContainerControl control, int signal, bool all)
        {
            // What a container without a pid namespace leaves behind its init can still be signalled.
            if (p.IsInit && all)
                KillThroughRuntime(p, control, signal, all);
            else
                throw Finished();
        }
    }

    private sealed class DeletedState : ProcessState
    {
        public override ProcessStatus Status => ProcessStatus.Deleted;

        public override ProcessState Delete(ShimProcess p) =>
            throw CsrtException.NotFound(p.IsInit ? "container not created" : $"process does not exist {p.Id}");

        public override void Kill(ShimProcess p, IContainerControl control, int signal, bool all) => Stopped.Kill(p, control, signal, all);

        public override ProcessState Exit() => this;
    }
}

/// <summary>The states of a container's init (init_state.go) before it stops.</summary>
public static class InitStates
{
    public static readonly ProcessState Created = new CreatedState();
    public static readonly ProcessState Running = new RunningState();
    public static readonly ProcessState Pausing = new PausingState();
    public static readonly ProcessState Paused = new PausedState();

    /// <summary>The init of a created, running or paused container is signalled through the runtime.</summary>
    private abstract class Live : ProcessState
    {
        public override void Kill(ShimProcess p, IContainerControl control, int signal, bool all) =>
            KillThroughRuntime(p, control, signal, all);
    }

    private sealed class CreatedState : Live
    {
        public override ProcessStatus Status => ProcessStatus.Created;

        public override ProcessState Start() => Running;

        public override void ExecIn()
        {
        }

        public override ProcessState Delete(ShimProcess p) => ProcessState.Deleted;
    }

    private sealed class RunningState : Live
    {
        public override ProcessStatus Status => ProcessStatus.Running;

        public override void ExecIn()
        {
        }

        public override ProcessState Pause() => Pausing;
    }

    private sealed class PausingState : Live
    {
        public override ProcessStatus Status => ProcessStatus.Pausing;

        public override ProcessState Paused(bool frozen) => frozen ? InitStates.Paused : Running;
    }

    private sealed class PausedState : Live
    {
        public override ProcessStatus Status => ProcessStatus.Paused;

        public override ProcessState Resume() => Running;
    }
}

/// <summary>The states of an exec (exec_state.go) before it stops; it is <see cref="ProcessState.Reserved"/> first.</summary>
public static class ExecStates
{
    public static readonly ProcessState Created = new CreatedState();
    public static readonly ProcessState Running = new RunningState();

    private sealed class CreatedState : ProcessState
    {
        public override ProcessStatus Status => ProcessStatus.Created;

        public override ProcessState Start() => Running;

        public override ProcessState Delete(ShimProcess p) => ProcessState.Deleted;

        public override void Kill(ShimProcess p, IContainerControl control, int signal, bool all) =>
            throw CsrtException.FailedPrecondition("process not created");
    }

    private sealed class RunningState : ProcessState
    {
        public override ProcessStatus Status => ProcessStatus.Running;

        public override void Kill(ShimProcess p, IContainerControl control, int signal, bool all)
        {
            if (!control.Signal(p.Pid, signal))
                throw Finished();
        }
    }
}
