using Containerd;
using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.Spec;
using Csrt.Shim.Bootstrap;
using Csrt.Shim.Events;
using Csrt.Shim.Io;
using Csrt.Shim.Metrics;
using Csrt.Shim.Reaping;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Ev = Containerd.Events;
using TaskV2 = Containerd.Task.V2;
using Types = Containerd.Types;

namespace Csrt.Shim.Tasks;

/// <summary>
/// containerd's task service (containerd.task.v2.Task, also served as v3) over the in-process
/// runtime core: each RPC finds its <see cref="ShimContainer"/>, which checks the process's state
/// and calls the runtime, and publishes the events it returns. Exits come from the
/// <see cref="Reaper"/>; spawners subscribe before spawning, so an exit that happens before Create
/// or Start returns is still handled.
/// </summary>
public sealed class TaskService : TaskV2.Task.TaskBase
{
    private readonly string _namespace;

    /// <summary>The runtime options `start` received; a task's own CreateTaskRequest.options override them.</summary>
    public ShimOptions Options { get; init; } = ShimOptions.None;
    private readonly ContainerRuntime _runtime;
    private readonly ContainerCreator _creator;
    private readonly Reaper _reaper;
    private readonly EventPublisher _events;
    private readonly CgroupOomWatcher _oom;
    private readonly Action _shutdown;
    private readonly object _lock = new();
    private readonly Dictionary<string, ShimContainer> _containers = new(StringComparer.Ordinal);
    private readonly Dictionary<int, (ShimContainer Container, ShimProcess Process)> _byPid = new();
    private string? _lastBundle;

    public TaskService(string ns, ContainerRuntime runtime, Reaper reaper, EventPublisher events, Action shutdown)
    {
        _namespace = ns;
        _runtime = runtime;
        _creator = new ContainerCreator(runtime, new RuntimeControl(runtime), ns, reaper);
        _reaper = reaper;
        _events = events;
        _shutdown = shutdown;
        _oom = new CgroupOomWatcher(id => _events.Publish("/tasks/oom", new Ev.TaskOOM { ContainerId = id }));
        _reaper.Exited += OnReaped;
    }

    public int ContainerCount
    {
        get
        {
            lock (_lock)
                return _containers.Count;
        }
    }

    private ShimContainer Get(string id)
    {
        lock (_lock)
            return _containers.TryGetValue(id, out var c) ? c : throw CsrtException.NotFound("container not created");
    }

    /// <summary>Runs a state change of <paramref name="c"/> and publishes the events it returns
    /// before any other state change of the container can publish its own.</summary>
    private void Publish(ShimContainer c, Func<IReadOnlyList<TaskEvent>> change)
    {
        lock (c.EventOrder)
            Publish(change());
    }

    private void Publish(IReadOnlyList<TaskEvent> events)
    {
        foreach (var e in events)
            _events.Publish(e.Topic, e.Message);
    }

    private void Register(ShimContainer c, ShimProcess p)
    {
        lock (_lock)
            _byPid[p.Pid] = (c, p);
    }

    public override Task<TaskV2.CreateTaskResponse> Create(TaskV2.CreateTaskRequest request, ServerCallContext context)
    {
        ContainerId.Validate(request.Id);
        lock (_lock)
        {
            if (_containers.ContainsKey(request.Id))
                throw CsrtException.AlreadyExists($"container {request.Id}");
        }
        if (request.Checkpoint.Length > 0)
            throw CsrtException.Unsupported("restoring a checkpoint is not supported by csrt");
        using var exits = _reaper.Subscribe();
        var c = _creator.Create(request, Options);
        lock (_lock)
            _containers[request.Id] = c;
        Register(c, c.Init);
        var created = new Ev.TaskCreate
        {
            ContainerId = c.Id,
            Bundle = c.Bundle,
            Io = new Ev.TaskIO { Stdin = request.Stdin, Stdout = request.Stdout, Stderr = request.Stderr, Terminal = request.Terminal },
            Checkpoint = request.Checkpoint,
            Pid = (uint)c.Init.Pid,
        };
        created.Rootfs.AddRange(request.Rootfs);
        Publish(c, () => [new TaskEvent("/tasks/create", created)]);
        if (Reaper.TryGetSeen(exits, c.Init.Pid, out var early))
            HandleEarlyExit(c, c.Init, early.Status);
        return Task.FromResult(new TaskV2.CreateTaskResponse { Pid = (uint)c.Init.Pid });
    }

    public override Task<TaskV2.StartResponse> Start(TaskV2.StartRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        if (request.ExecId.Length == 0)
        {
            Publish(c, c.Start);
            WatchOom(c.Id);
            return Task.FromResult(new TaskV2.StartResponse { Pid = (uint)c.Init.Pid });
        }
        using var exits = _reaper.Subscribe();
        ShimProcess? exec = null;
        Publish(c, () => c.StartExec(request.ExecId, e =>
        {
            exec = e;
            Register(c, e);
        }));
        if (Reaper.TryGetSeen(exits, exec!.Pid, out var early))
            HandleEarlyExit(c, exec, early.Status);
        return Task.FromResult(new TaskV2.StartResponse { Pid = (uint)exec.Pid });
    }

    private void WatchOom(string id)
    {
        try
        {
            if (_runtime.OomSourceOf(id) is { } source)
                _oom.Add(id, source);
            else
                Log.Warn($"container {id}: OOM events will not be reported: no memory cgroup to watch");
        }
        catch (Exception e)
        {
            Log.Warn($"container {id}: OOM events will not be reported: {e.Message}");
        }
    }

    public override Task<TaskV2.DeleteResponse> Delete(TaskV2.DeleteRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        if (request.ExecId.Length > 0)
        {
            var exec = c.DeleteExec(request.ExecId);
            return Task.FromResult(new TaskV2.DeleteResponse { Pid = (uint)exec.Pid, ExitStatus = exec.ExitStatus, ExitedAt = exec.ExitedAtTimestamp() });
        }
        var deleted = c.Delete();
        _oom.Remove(c.Id);
        if (c.RootfsMounted)
            RootfsMounts.UnmountAll(Path.Combine(c.Bundle, "rootfs"));
        lock (_lock)
        {
            _containers.Remove(c.Id);
            if (_byPid.TryGetValue(c.Init.Pid, out var entry) && ReferenceEquals(entry.Process, c.Init))
                _byPid.Remove(c.Init.Pid);
            _lastBundle = c.Bundle;
        }
        Publish(deleted);
        var init = c.Init;
        return Task.FromResult(new TaskV2.DeleteResponse { Pid = (uint)init.Pid, ExitStatus = init.ExitStatus, ExitedAt = init.ExitedAtTimestamp() });
    }

    public override Task<Empty> Kill(TaskV2.KillRequest request, ServerCallContext context)
    {
        Get(request.Id).Kill(request.ExecId, (int)request.Signal, request.All);
        return Task.FromResult(new Empty());
    }

    public override Task<TaskV2.PidsResponse> Pids(TaskV2.PidsRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        var response = new TaskV2.PidsResponse();
        var execs = c.ExecPids();
        foreach (var pid in _runtime.Pids(c.Id))
        {
            var info = new Types.ProcessInfo { Pid = (uint)pid };
            if (execs.TryGetValue(pid, out var execId))
                info.Info = TypeUrls.Pack(new Containerd.Runc.V1.ProcessDetails { ExecId = execId });
            response.Processes.Add(info);
        }
        return Task.FromResult(response);
    }

    public override Task<Empty> Pause(TaskV2.PauseRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        Publish(c, c.Pause);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> Resume(TaskV2.ResumeRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        Publish(c, c.Resume);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> Checkpoint(TaskV2.CheckpointTaskRequest request, ServerCallContext context) =>
        throw CsrtException.Unsupported("checkpoint is not implemented by csrt (no CRIU support yet)");

    public override Task<Empty> Exec(TaskV2.ExecProcessRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        ContainerId.Validate(request.ExecId);
        if (request.Spec is null)
            throw new ArgumentException("exec: no process spec");
        var json = TypeUrls.UnpackJson(request.Spec, TypeUrls.OciProcess);
        var spec = SpecLoader.ParseProcess(json.Span, "exec process spec");
        spec.Terminal = request.Terminal;
        var exec = c.ReserveExec(request.ExecId, spec);
        ProcessIo? io = null;
        try
        {
            c.Options.ChownFifos(request.Stdin, request.Stdout, request.Stderr);
            io = ProcessIo.Open(request.ExecId, _namespace, request.Stdin, request.Stdout, request.Stderr, request.Terminal);
            Publish(c, () => c.AddExec(exec, io));
        }
        catch
        {
            io?.Dispose();
            c.ReleaseExec(exec);
            throw;
        }
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> ResizePty(TaskV2.ResizePtyRequest request, ServerCallContext context)
    {
        var p = Get(request.Id).Process(request.ExecId);
        p.Io.Resize((ushort)request.Width, (ushort)request.Height);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> CloseIO(TaskV2.CloseIORequest request, ServerCallContext context)
    {
        Get(request.Id).Process(request.ExecId).Io.CloseStdin();
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> Update(TaskV2.UpdateTaskRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        if (request.Resources is null)
            throw new ArgumentException("update: no resources");
        var json = TypeUrls.UnpackJson(request.Resources, TypeUrls.OciLinuxResources);
        _runtime.Update(c.Id, SpecLoader.ParseResources(json.Span, "update resources"));
        return Task.FromResult(new Empty());
    }

    public override async Task<TaskV2.WaitResponse> Wait(TaskV2.WaitRequest request, ServerCallContext context)
    {
        var p = Get(request.Id).Process(request.ExecId);
        await p.Exited.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        return new TaskV2.WaitResponse { ExitStatus = p.ExitStatus, ExitedAt = p.ExitedAtTimestamp() };
    }

    public override Task<TaskV2.StatsResponse> Stats(TaskV2.StatsRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        // As containerd's runc shim, until Delete: the cgroup of a stopped container still answers.
        var stats = _runtime.Stats(c.Id, evenIfStopped: true);
        var any = stats.FromUnified ? TypeUrls.Pack(MetricsMapper.ToV2(stats)) : TypeUrls.Pack(MetricsMapper.ToV1(stats));
        return Task.FromResult(new TaskV2.StatsResponse { Stats = any });
    }

    public override Task<TaskV2.ConnectResponse> Connect(TaskV2.ConnectRequest request, ServerCallContext context)
    {
        uint taskPid = 0;
        lock (_lock)
        {
            if (_containers.TryGetValue(request.Id, out var c))
                taskPid = (uint)c.Init.Pid;
        }
        return Task.FromResult(new TaskV2.ConnectResponse { ShimPid = (uint)Environment.ProcessId, TaskPid = taskPid, Version = Csrt.Runtime.BuildInfo.Version });
    }

    public override Task<Empty> Shutdown(TaskV2.ShutdownRequest request, ServerCallContext context)
    {
        // Containers of the pod remain: containerd sends Shutdown after each task's delete.
        if (ContainerCount == 0)
        {
            string? bundle;
            lock (_lock)
                bundle = _lastBundle;
            SocketFile.RemoveOnShutdown(bundle);
            _shutdown();
        }
        return Task.FromResult(new Empty());
    }

    public override Task<TaskV2.StateResponse> State(TaskV2.StateRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        var p = c.Process(request.ExecId);
        var status = p.Status switch
        {
            ProcessStatus.Created => Types.Status.Created,
            ProcessStatus.Running => Types.Status.Running,
            ProcessStatus.Pausing => Types.Status.Pausing,
            ProcessStatus.Paused => Types.Status.Paused,
            _ => Types.Status.Stopped,
        };
        return Task.FromResult(new TaskV2.StateResponse
        {
            Id = p.Id,
            Bundle = c.Bundle,
            Pid = (uint)p.Pid,
            Status = status,
            Stdin = p.Io.Stdin,
            Stdout = p.Io.Stdout,
            Stderr = p.Io.Stderr,
            Terminal = p.Io.Terminal,
            ExitStatus = p.ExitStatus,
            ExitedAt = p.ExitedAtTimestamp(),
            ExecId = request.ExecId,
        });
    }

    /// <summary>The reaper's thread: never block it (a spawner may be waiting on a subscription).</summary>
    private void OnReaped(ChildExit exit)
    {
        (ShimContainer Container, ShimProcess Process) entry;
        lock (_lock)
        {
            if (!_byPid.Remove(exit.Pid, out entry))
                return;
        }
        HandleExit(entry.Container, entry.Process, exit.Status);
    }

    /// <summary>An exit the spawner's subscription saw before the pid was registered: the reaper
    /// found no one for it, so the entry registered since is stale and goes (a later process with
    /// the same pid, once pids wrap, must not be taken for this one).</summary>
    private void HandleEarlyExit(ShimContainer c, ShimProcess p, int status)
    {
        lock (_lock)
        {
            if (_byPid.TryGetValue(p.Pid, out var registered) && ReferenceEquals(registered.Process, p))
                _byPid.Remove(p.Pid);
        }
        HandleExit(c, p, status);
    }

    private void HandleExit(ShimContainer c, ShimProcess p, int status)
    {
        if (!p.ClaimExit())
            return;
        ThreadPool.QueueUserWorkItem(_ =>
        {
            try
            {
                Publish(c, () => c.Exited(p, status));
            }
            catch (Exception e)
            {
                Log.Error($"handling the exit of {p.Id} (pid {p.Pid})", e);
            }
        });
    }

    /// <summary>On the way out (SIGTERM): stop watching; containers keep running, as with runc's shim.</summary>
    public void Stop() => _oom.Dispose();
}
