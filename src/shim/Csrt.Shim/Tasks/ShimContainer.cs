using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Lifecycle;
using Csrt.Shim.Bootstrap;
using Csrt.Shim.Io;
using Ev = Containerd.Events;

namespace Csrt.Shim.Tasks;

/// <summary>
/// One container of the shim: its init, its execs and the order of their events. Each operation
/// asks the process's state object whether it is allowed, calls the runtime through
/// <see cref="IContainerControl"/>, moves the process to its next state and returns the events it
/// caused. Operations that change states hold <see cref="EventOrder"/>, which the caller keeps
/// while it publishes what they return, so one container's events reach containerd in the order
/// they happened: a process's start before its exit, and the init's exit after those of the execs
/// still running when it died (runc shim 1.7+), so that no Delete overtakes them.
/// </summary>
public sealed class ShimContainer
{
    private static readonly TimeSpan CopierDrain = TimeSpan.FromSeconds(2);
    private readonly IContainerControl _control;
    private readonly object _table = new();
    private readonly Dictionary<string, ExecProcess> _execs = new(StringComparer.Ordinal);
    private int? _pendingInitExit;
    private bool _deleted;

    public ShimContainer(InitProcess init, IContainerControl control, ShimOptions options, bool rootfsMounted)
    {
        Init = init;
        _control = control;
        Options = options;
        RootfsMounted = rootfsMounted;
    }

    public string Id => Init.ContainerId;

    public string Bundle => Init.Bundle;

    public InitProcess Init { get; }

    /// <summary>The runtime options in force for this task (IoUid/IoGid also apply to its execs).</summary>
    public ShimOptions Options { get; }

    /// <summary>Whether the shim mounted the rootfs (CreateTaskRequest.rootfs) and unmounts it at delete.</summary>
    public bool RootfsMounted { get; }

    /// <summary>Held by every state change and by the publication of the events it returns.</summary>
    public object EventOrder { get; } = new();

    /// <summary>The init (empty <paramref name="execId"/>) or an exec; a reserved id is not a process yet.</summary>
    public ShimProcess Process(string execId)
    {
        if (execId.Length == 0)
            return Init;
        lock (_table)
        {
            return _execs.TryGetValue(execId, out var e) && e.Status != ProcessStatus.Reserved
                ? e
                : throw CsrtException.NotFound($"process does not exist {execId}");
        }
    }

    private ExecProcess Exec(string execId) =>
        execId.Length > 0 ? (ExecProcess)Process(execId) : throw CsrtException.InvalidArgument("exec id is empty");

    /// <summary>Exec ids by pid, for the execs that have been started.</summary>
    public Dictionary<int, string> ExecPids()
    {
        lock (_table)
            return _execs.Values.Where(e => e.Pid > 0).ToDictionary(e => e.Pid, e => e.Id);
    }

    /// <summary>Starts the init: TaskStart.</summary>
    public IReadOnlyList<TaskEvent> Start()
    {
        lock (EventOrder)
        {
            var next = Init.State.Start();
            _control.Start(Id);
            Init.State = next;
            return [new TaskEvent("/tasks/start", new Ev.TaskStart { ContainerId = Id, Pid = (uint)Init.Pid })];
        }
    }

    /// <summary>Takes an exec id while its IO opens (which may take a moment): no one else gets
    /// it, and no RPC sees it until <see cref="AddExec"/>.</summary>
    public ExecProcess ReserveExec(string execId, Csrt.Runtime.Spec.Process spec)
    {
        Init.State.ExecIn();
        lock (_table)
        {
            if (_execs.ContainsKey(execId))
                throw CsrtException.AlreadyExists($"id {execId}");
            var exec = new ExecProcess(Id, execId, spec);
            _execs[execId] = exec;
            return exec;
        }
    }

    /// <summary>Gives a reserved exec its IO, making it a created process: TaskExecAdded.</summary>
    public IReadOnlyList<TaskEvent> AddExec(ExecProcess exec, ProcessIo io)
    {
        lock (EventOrder)
        {
            exec.Open(io);
            return [new TaskEvent("/tasks/exec-added", new Ev.TaskExecAdded { ContainerId = Id, ExecId = exec.Id })];
        }
    }

    /// <summary>Frees the id of an exec whose IO could not be opened.</summary>
    public void ReleaseExec(ExecProcess exec)
    {
        lock (_table)
        {
            if (_execs.TryGetValue(exec.Id, out var e) && ReferenceEquals(e, exec) && exec.Status == ProcessStatus.Reserved)
                _execs.Remove(exec.Id);
        }
    }

    /// <summary>Starts a created exec: TaskExecStarted. <paramref name="started"/> runs once it
    /// has a pid, before the event is returned (the caller registers the pid for the reaper).</summary>
    public IReadOnlyList<TaskEvent> StartExec(string execId, Action<ExecProcess>? started = null)
    {
        lock (EventOrder)
        {
            var exec = Exec(execId);
            var next = exec.State.Start();
            if (Init.Status is ProcessStatus.Stopped or ProcessStatus.Deleted)
                throw CsrtException.FailedPrecondition($"container {Id} init process is not running");
            ExecResult result;
            try
            {
                result = _control.Exec(Id, new ExecOptions
                {
                    Process = exec.Spec,
                    Stdin = exec.Io.ProcessStdin ?? ProcessIo.DevNull,
                    Stdout = exec.Io.ProcessStdout ?? ProcessIo.DevNull,
                    Stderr = exec.Io.ProcessStderr ?? ProcessIo.DevNull,
                });
            }
            catch
            {
                // Waiters must not hang on a process that never ran, and the client's copies of the
                // FIFOs only see EOF once ours are closed (ctr waits for that before it reports the
                // error), as the runc shim closes the IO of an exec that failed to start.
                exec.ClaimExit();
                exec.SetExited(127);
                exec.Io.Dispose();
                throw;
            }
            exec.Pid = result.Pid;
            if (result.Master is not null)
                exec.Io.AttachConsole(result.Master);
            exec.Io.ProcessStarted();
            exec.State = next;
            started?.Invoke(exec);
            return [new TaskEvent("/tasks/exec-started", new Ev.TaskExecStarted { ContainerId = Id, ExecId = exec.Id, Pid = (uint)exec.Pid })];
        }
    }

    /// <summary>Deletes a created or stopped exec and closes its IO; its id is free again.</summary>
    public ExecProcess DeleteExec(string execId)
    {
        ExecProcess exec;
        lock (EventOrder)
        {
            exec = Exec(execId);
            exec.State = exec.State.Delete(exec);
            // An exec deleted without ever running (created, or refused at Start) still answers
            // the Wait that containerd made before Start: nothing will ever exit for it.
            if (exec.ClaimExit())
                exec.SetExited(0);
        }
        exec.Io.WaitForCopiers(CopierDrain);
        exec.Io.Dispose();
        lock (_table)
            _execs.Remove(exec.Id);
        return exec;
    }

    /// <summary>Deletes the container (the runtime's state, what is left of its processes) and
    /// closes the IO of its processes: TaskDelete. No event of this container follows it.</summary>
    public IReadOnlyList<TaskEvent> Delete()
    {
        lock (EventOrder)
        {
            var next = Init.State.Delete(Init);
            _control.Delete(Id);
            Init.State = next;
            _deleted = true;
        }
        Init.Io.WaitForCopiers(CopierDrain);
        Init.Io.Dispose();
        ExecProcess[] execs;
        lock (_table)
            execs = _execs.Values.Where(e => e.Status != ProcessStatus.Reserved).ToArray();
        foreach (var e in execs)
            e.Io.Dispose();
        return [new TaskEvent("/tasks/delete", new Ev.TaskDelete { ContainerId = Id, Pid = (uint)Init.Pid, ExitStatus = Init.ExitStatus, ExitedAt = Init.ExitedAtTimestamp() })];
    }

    /// <summary>Kill as the process's state means it (the init through the runtime, an exec by pid).</summary>
    public void Kill(string execId, int signal, bool all)
    {
        var p = Process(execId);
        p.State.Kill(p, _control, signal, all);
    }

    /// <summary>Freezes the container: TaskPaused. The init is pausing meanwhile.</summary>
    public IReadOnlyList<TaskEvent> Pause()
    {
        lock (EventOrder)
        {
            Init.State = Init.State.Pause();
            try
            {
                _control.Pause(Id);
            }
            catch
            {
                Init.State = Init.State.Paused(frozen: false);
                throw;
            }
            Init.State = Init.State.Paused(frozen: true);
            return [new TaskEvent("/tasks/paused", new Ev.TaskPaused { ContainerId = Id })];
        }
    }

    /// <summary>Thaws the container: TaskResumed.</summary>
    public IReadOnlyList<TaskEvent> Resume()
    {
        lock (EventOrder)
        {
            var next = Init.State.Resume();
            _control.Resume(Id);
            Init.State = next;
            return [new TaskEvent("/tasks/resumed", new Ev.TaskResumed { ContainerId = Id })];
        }
    }

    /// <summary>
    /// A process of this container exited (the caller claimed the exit once): records it and
    /// returns the TaskExit events now due. The init's exit waits while execs still run, and is
    /// returned after the last of theirs.
    /// </summary>
    public IReadOnlyList<TaskEvent> Exited(ShimProcess p, int status)
    {
        lock (EventOrder)
        {
            if (_deleted)
            {
                p.SetExited(status);
                return [];
            }
            if (p.IsInit)
            {
                if (!Init.PrivatePidNamespace)
                {
                    // Without a pid namespace the rest of the container outlives its init; end it, as runc's shim does.
                    try
                    {
                        _control.Kill(Id, Signals.SIGKILL, all: true);
                    }
                    catch (Exception e)
                    {
                        Log.Warn($"killing what is left in {Id} after its init exited: {e.Message}");
                    }
                }
                // Execs still running (they share a pid namespace that outlives the init, and are
                // being killed): the init is marked exited, releasing Wait, only after they are.
                if (RunningExecs() > 0)
                {
                    _pendingInitExit = status;
                    return [];
                }
                Init.SetExited(status);
                return [ExitOf(Init)];
            }
            p.SetExited(status);
            var events = new List<TaskEvent> { ExitOf(p) };
            if (_pendingInitExit is { } initStatus && RunningExecs() == 0)
            {
                _pendingInitExit = null;
                Init.SetExited(initStatus);
                events.Add(ExitOf(Init));
            }
            return events;
        }
    }

    private int RunningExecs()
    {
        lock (_table)
            return _execs.Values.Count(e => e.Status == ProcessStatus.Running);
    }

    private TaskEvent ExitOf(ShimProcess p) => new("/tasks/exit", new Ev.TaskExit
    {
        ContainerId = Id,
        Id = p.Id,
        Pid = (uint)p.Pid,
        ExitStatus = p.ExitStatus,
        ExitedAt = p.ExitedAtTimestamp(),
    });
}
