using Csrt.Runtime.Errors;
using Csrt.Shim.Io;
using Google.Protobuf.WellKnownTypes;

namespace Csrt.Shim.Tasks;

/// <summary>The states of a task process (containerd's init_state.go / exec_state.go).</summary>
public enum ProcessState
{
    Created,
    Running,
    Pausing,
    Paused,
    Stopped,
    Deleted,
}

/// <summary>
/// One process the shim manages: a container's init or an exec. Its state object refuses illegal
/// operations with <see cref="ErrorKind.FailedPrecondition"/> (FAILED_PRECONDITION on the wire), so
/// the task service stays a list of calls. All transitions happen under <see cref="Lock"/>.
/// </summary>
public abstract class ShimProcess
{
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _exitHandled;

    protected ShimProcess(string containerId, string id, ProcessIo io)
    {
        ContainerId = containerId;
        Id = id;
        Io = io;
    }

    public object Lock { get; } = new();

    public string ContainerId { get; }

    /// <summary>The exec id, or the container id for the init.</summary>
    public string Id { get; }

    public abstract bool IsInit { get; }

    public ProcessIo Io { get; }

    public int Pid { get; set; }

    public ProcessState State { get; set; } = ProcessState.Created;

    public uint ExitStatus { get; private set; }

    public DateTimeOffset? ExitedAt { get; private set; }

    /// <summary>Completes when the process has exited (or failed to start).</summary>
    public Task Exited => _exited.Task;

    /// <summary>Whether the exit has been handled; true exactly once (the reaper and a spawner may both see it).</summary>
    public bool ClaimExit() => Interlocked.Exchange(ref _exitHandled, 1) == 0;

    public void SetExited(int status)
    {
        lock (Lock)
        {
            ExitStatus = (uint)status;
            ExitedAt = DateTimeOffset.UtcNow;
            if (State != ProcessState.Deleted)
                State = ProcessState.Stopped;
        }
        _exited.TrySetResult();
    }

    /// <summary>Go's zero time for a process that has not exited (what containerd 1.6 expects).</summary>
    public Timestamp ExitedAtTimestamp() =>
        ExitedAt is { } t ? Timestamp.FromDateTimeOffset(t) : Containerd.Timestamps.NotExited();

    /// <summary>Running → Pausing, before the cgroup is frozen.</summary>
    public void BeginPause()
    {
        lock (Lock)
        {
            Require(new[] { ProcessState.Running }, "pause");
            State = ProcessState.Pausing;
        }
    }

    /// <summary>After the freeze (or its failure): Pausing → Paused, or back to Running. An exit
    /// handled during the freeze already made the process Stopped, and it stays so (otherwise
    /// Delete would be refused forever); false then.</summary>
    public bool EndPause(bool frozen)
    {
        lock (Lock)
        {
            if (State != ProcessState.Pausing)
                return false;
            State = frozen ? ProcessState.Paused : ProcessState.Running;
            return true;
        }
    }

    /// <summary>After the thaw: Paused → Running; false when an exit landed first (it stays Stopped).</summary>
    public bool EndResume()
    {
        lock (Lock)
        {
            if (State != ProcessState.Paused)
                return false;
            State = ProcessState.Running;
            return true;
        }
    }

    public void Require(ProcessState[] allowed, string operation)
    {
        if (Array.IndexOf(allowed, State) < 0)
            throw CsrtException.FailedPrecondition($"cannot {operation} a {State.ToString().ToLowerInvariant()} process");
    }
}

public sealed class InitProcess : ShimProcess
{
    public InitProcess(string containerId, ProcessIo io, string bundle, bool privatePidNamespace)
        : base(containerId, containerId, io)
    {
        Bundle = bundle;
        PrivatePidNamespace = privatePidNamespace;
    }

    public override bool IsInit => true;

    public string Bundle { get; }

    /// <summary>Without its own pid namespace, the init's death does not end the container's other processes.</summary>
    public bool PrivatePidNamespace { get; }
}

public sealed class ExecProcess : ShimProcess
{
    public ExecProcess(string containerId, string execId, ProcessIo io, Csrt.Runtime.Spec.Process spec)
        : base(containerId, execId, io)
    {
        Spec = spec;
    }

    public override bool IsInit => false;

    public Csrt.Runtime.Spec.Process Spec { get; }
}
