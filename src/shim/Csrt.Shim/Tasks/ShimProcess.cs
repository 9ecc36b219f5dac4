using Csrt.Shim.Io;
using Google.Protobuf.WellKnownTypes;

namespace Csrt.Shim.Tasks;

/// <summary>
/// One process the shim manages: a container's init or an exec. What it may do next is its
/// <see cref="State"/> object's to say (<see cref="ProcessState"/>); its <see cref="ShimContainer"/>
/// moves it from state to state, under the container's event order, and records its exit here.
/// </summary>
public abstract class ShimProcess
{
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _lock = new();
    private int _exitHandled;
    private ProcessIo? _io;
    private ProcessState _state;

    protected ShimProcess(string containerId, string id, ProcessIo? io, ProcessState state)
    {
        ContainerId = containerId;
        Id = id;
        _io = io;
        _state = state;
    }

    public string ContainerId { get; }

    /// <summary>The exec id, or the container id for the init.</summary>
    public string Id { get; }

    public abstract bool IsInit { get; }

    /// <summary>The process's stdio; an exec has it once <see cref="ProcessState.Open"/> made it created.</summary>
    public ProcessIo Io => _io ?? throw new InvalidOperationException($"process {Id} has no IO yet");

    public int Pid { get; internal set; }

    public ProcessState State
    {
        get
        {
            lock (_lock)
                return _state;
        }
        internal set
        {
            lock (_lock)
                _state = value;
        }
    }

    public ProcessStatus Status => State.Status;

    public uint ExitStatus { get; private set; }

    public DateTimeOffset? ExitedAt { get; private set; }

    /// <summary>Completes when the process has exited (or will never run).</summary>
    public Task Exited => _exited.Task;

    /// <summary>Whether the exit has been handled; true exactly once (the reaper and a spawner may both see it).</summary>
    public bool ClaimExit() => Interlocked.Exchange(ref _exitHandled, 1) == 0;

    /// <summary>Records the exit status and time, moves to the state after an exit and releases waiters.</summary>
    internal void SetExited(int status)
    {
        lock (_lock)
        {
            ExitStatus = (uint)status;
            ExitedAt = DateTimeOffset.UtcNow;
            _state = _state.Exit();
        }
        _exited.TrySetResult();
    }

    internal void Open(ProcessIo io)
    {
        lock (_lock)
        {
            _state = _state.Open();
            _io = io;
        }
    }

    /// <summary>Go's zero time for a process that has not exited (what containerd 1.6 expects).</summary>
    public Timestamp ExitedAtTimestamp() =>
        ExitedAt is { } t ? Timestamp.FromDateTimeOffset(t) : Containerd.Timestamps.NotExited();
}

public sealed class InitProcess : ShimProcess
{
    public InitProcess(string containerId, ProcessIo io, string bundle, bool privatePidNamespace)
        : base(containerId, containerId, io, InitStates.Created)
    {
        Bundle = bundle;
        PrivatePidNamespace = privatePidNamespace;
    }

    public override bool IsInit => true;

    public string Bundle { get; }

    /// <summary>Without its own pid namespace, the init's death does not end the container's other processes.</summary>
    public bool PrivatePidNamespace { get; }
}

/// <summary>An exec: <see cref="ProcessState.Reserved"/> from the Exec RPC until its IO is open.</summary>
public sealed class ExecProcess : ShimProcess
{
    public ExecProcess(string containerId, string execId, Csrt.Runtime.Spec.Process spec)
        : base(containerId, execId, null, ProcessState.Reserved)
    {
        Spec = spec;
    }

    public override bool IsInit => false;

    public Csrt.Runtime.Spec.Process Spec { get; }
}
