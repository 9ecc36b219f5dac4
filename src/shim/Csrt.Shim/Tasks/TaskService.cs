using Containerd;
using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;
using Csrt.Runtime.Terminal;
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
/// runtime core: every RPC is a call into <see cref="ContainerRuntime"/>, no runtime binary is
/// executed. Exits come from the <see cref="Reaper"/>; spawners subscribe before spawning, so an
/// exit that happens before Create or Start returns is still handled. Per container, one lock
/// orders the events: TaskStart/TaskExecStarted are queued before that process's TaskExit.
/// </summary>
public sealed class TaskService : TaskV2.Task.TaskBase
{
    private readonly string _namespace;

    /// <summary>The runtime options `start` received; a task's own CreateTaskRequest.options override them.</summary>
    public ShimOptions Options { get; init; } = ShimOptions.None;
    private readonly ContainerRuntime _runtime;
    private readonly Reaper _reaper;
    private readonly EventPublisher _events;
    private readonly CgroupOomWatcher _oom;
    private readonly Action _shutdown;
    private readonly object _lock = new();
    private readonly Dictionary<string, Container> _containers = new(StringComparer.Ordinal);
    private readonly Dictionary<int, ShimProcess> _byPid = new();
    private string? _lastBundle;

    private sealed class Container
    {
        public required string Id { get; init; }
        public required string Bundle { get; init; }
        public required InitProcess Init { get; init; }
        public Dictionary<string, ExecProcess> Execs { get; } = new(StringComparer.Ordinal);
        public object Events { get; } = new();
        /// <summary>The init's exit status while its exit waits for running execs to exit first.</summary>
        public int? PendingInitExit { get; set; }
        public bool RootfsMounted { get; init; }

        /// <summary>The runtime options in force for this task (IoUid/IoGid also apply to its execs).</summary>
        public ShimOptions Options { get; init; } = ShimOptions.None;
    }

    public TaskService(string ns, ContainerRuntime runtime, Reaper reaper, EventPublisher events, Action shutdown)
    {
        _namespace = ns;
        _runtime = runtime;
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

    private Container Get(string id)
    {
        lock (_lock)
            return _containers.TryGetValue(id, out var c) ? c : throw CsrtException.NotFound("container not created");
    }

    private ShimProcess Get(string id, string execId)
    {
        var c = Get(id);
        if (execId.Length == 0)
            return c.Init;
        lock (_lock)
            // null: an id reserved by an Exec still opening its IO, not a process yet.
            return c.Execs.TryGetValue(execId, out var e) && e is not null ? e : throw CsrtException.NotFound($"process does not exist {execId}");
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
        var bundle = request.Bundle;
        var options = Options.ForTask(request.Options, _namespace);
        foreach (var warning in options.Ignored())
            Log.Warn(warning);
        options.RecordStateRoot(bundle, _namespace);
        options.ChownFifos(request.Stdin, request.Stdout, request.Stderr);
        var rootfs = Path.Combine(bundle, "rootfs");
        RootfsMounts.MountAll(rootfs, request.Rootfs, _reaper);
        ProcessIo? io = null;
        FileDescriptor? ours = null, theirs = null;
        try
        {
            var spec = SpecLoader.Load(Path.Combine(bundle, "config.json"));
            var privatePid = spec.Linux?.Namespaces?.Any(n => n.Type == NamespaceTypes.Pid && string.IsNullOrEmpty(n.Path)) == true;
            io = ProcessIo.Open(request.Id, _namespace, request.Stdin, request.Stdout, request.Stderr, request.Terminal);
            if (spec.Process is { } p)
                p.Terminal = request.Terminal;
            if (request.Terminal)
                (ours, theirs) = UnixSockets.Pair(UnixSockets.Kind.Stream);
            using var exits = _reaper.Subscribe();
            var record = _runtime.Create(new CreateOptions
            {
                Id = request.Id,
                Bundle = bundle,
                Spec = spec,
                Stdin = io.ProcessStdin ?? DevNull(),
                Stdout = io.ProcessStdout ?? DevNull(),
                Stderr = io.ProcessStderr ?? DevNull(),
                ConsoleSocket = theirs,
                NoPivot = options.NoPivotRoot,
                NoNewKeyring = options.NoNewKeyring,
            });
            if (ours is not null)
                io.AttachConsole(ConsoleSocket.ReceiveMaster(ours));
            io.ProcessStarted();
            var init = new InitProcess(request.Id, io, bundle, privatePid) { Pid = record.InitPid };
            var container = new Container { Id = request.Id, Bundle = bundle, Init = init, RootfsMounted = request.Rootfs.Count > 0, Options = options };
            lock (_lock)
            {
                _containers[request.Id] = container;
                _byPid[init.Pid] = init;
            }
            var created = new Ev.TaskCreate
            {
                ContainerId = request.Id,
                Bundle = bundle,
                Io = new Ev.TaskIO { Stdin = request.Stdin, Stdout = request.Stdout, Stderr = request.Stderr, Terminal = request.Terminal },
                Checkpoint = request.Checkpoint,
                Pid = (uint)init.Pid,
            };
            created.Rootfs.AddRange(request.Rootfs);
            _events.Publish("/tasks/create", created);
            if (Reaper.TryGetSeen(exits, init.Pid, out var early))
                HandleEarlyExit(init, early.Status);
            return Task.FromResult(new TaskV2.CreateTaskResponse { Pid = (uint)init.Pid });
        }
        catch
        {
            io?.Dispose();
            if (request.Rootfs.Count > 0)
                RootfsMounts.UnmountAll(rootfs);
            throw;
        }
        finally
        {
            ours?.Dispose();
            theirs?.Dispose();
        }
    }

    private static readonly Lazy<FileDescriptor> DevNullFd = new(() => Files.Open("/dev/null", OpenFlags.O_RDWR));

    private static FileDescriptor DevNull() => DevNullFd.Value;

    public override Task<TaskV2.StartResponse> Start(TaskV2.StartRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        if (request.ExecId.Length == 0)
        {
            var init = c.Init;
            lock (c.Events)
            {
                init.Require(new[] { ProcessState.Created }, "start");
                _runtime.Start(c.Id);
                lock (init.Lock)
                {
                    if (init.State == ProcessState.Created)
                        init.State = ProcessState.Running;
                }
                _events.Publish("/tasks/start", new Ev.TaskStart { ContainerId = c.Id, Pid = (uint)init.Pid });
            }
            WatchOom(c.Id);
            return Task.FromResult(new TaskV2.StartResponse { Pid = (uint)init.Pid });
        }
        var exec = (ExecProcess)Get(request.Id, request.ExecId);
        lock (c.Events)
        {
            exec.Require(new[] { ProcessState.Created }, "start");
            if (c.Init.State is ProcessState.Stopped or ProcessState.Deleted)
                throw CsrtException.FailedPrecondition($"container {c.Id} init process is not running");
            using var exits = _reaper.Subscribe();
            ExecResult result;
            try
            {
                result = _runtime.Exec(c.Id, new ExecOptions
                {
                    Process = exec.Spec,
                    Stdin = exec.Io.ProcessStdin ?? DevNull(),
                    Stdout = exec.Io.ProcessStdout ?? DevNull(),
                    Stderr = exec.Io.ProcessStderr ?? DevNull(),
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
            lock (exec.Lock)
                exec.State = ProcessState.Running;
            lock (_lock)
                _byPid[exec.Pid] = exec;
            _events.Publish("/tasks/exec-started", new Ev.TaskExecStarted { ContainerId = c.Id, ExecId = exec.Id, Pid = (uint)exec.Pid });
            if (Reaper.TryGetSeen(exits, exec.Pid, out var early))
                HandleEarlyExit(exec, early.Status);
        }
        return Task.FromResult(new TaskV2.StartResponse { Pid = (uint)exec.Pid });
    }

    private void WatchOom(string id)
    {
        try
        {
            _oom.Add(id, _runtime.CgroupOf(id));
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
            var exec = (ExecProcess)Get(request.Id, request.ExecId);
            lock (exec.Lock)
            {
                if (exec.State == ProcessState.Deleted)
                    throw CsrtException.NotFound($"process does not exist {exec.Id}");
                exec.Require(new[] { ProcessState.Created, ProcessState.Stopped }, "delete");
                exec.State = ProcessState.Deleted;
            }
            // An exec deleted without ever running (created, or refused at Start) still answers
            // the Wait that containerd made before Start: nothing will ever exit for it.
            if (exec.ClaimExit())
                exec.SetExited(0);
            exec.Io.WaitForCopiers(TimeSpan.FromSeconds(2));
            exec.Io.Dispose();
            lock (_lock)
                c.Execs.Remove(exec.Id);
            return Task.FromResult(new TaskV2.DeleteResponse { Pid = (uint)exec.Pid, ExitStatus = exec.ExitStatus, ExitedAt = exec.ExitedAtTimestamp() });
        }
        var init = c.Init;
        lock (init.Lock)
        {
            if (init.State == ProcessState.Deleted)
                throw CsrtException.NotFound("container not created");
            init.Require(new[] { ProcessState.Created, ProcessState.Stopped }, "delete");
            init.State = ProcessState.Deleted;
        }
        try
        {
            _runtime.Delete(c.Id, force: true);
        }
        catch (ContainerNotFoundException)
        {
        }
        _oom.Remove(c.Id);
        init.Io.WaitForCopiers(TimeSpan.FromSeconds(2));
        init.Io.Dispose();
        ExecProcess[] execs;
        lock (_lock)
            execs = c.Execs.Values.Where(e => e is not null).ToArray();
        foreach (var e in execs)
            e.Io.Dispose();
        if (c.RootfsMounted)
            RootfsMounts.UnmountAll(Path.Combine(c.Bundle, "rootfs"));
        lock (_lock)
        {
            _containers.Remove(c.Id);
            _byPid.Remove(init.Pid);
            _lastBundle = c.Bundle;
        }
        var response = new TaskV2.DeleteResponse { Pid = (uint)init.Pid, ExitStatus = init.ExitStatus, ExitedAt = init.ExitedAtTimestamp() };
        _events.Publish("/tasks/delete", new Ev.TaskDelete { ContainerId = c.Id, Pid = response.Pid, ExitStatus = response.ExitStatus, ExitedAt = response.ExitedAt });
        return Task.FromResult(response);
    }

    public override Task<Empty> Kill(TaskV2.KillRequest request, ServerCallContext context)
    {
        var p = Get(request.Id, request.ExecId);
        var signal = (int)request.Signal;
        if (p is InitProcess init)
        {
            if (init.State is ProcessState.Stopped or ProcessState.Deleted && !request.All)
                throw CsrtException.NotFound("process already finished");
            // A kill that finds the process gone is NOT_FOUND with the texts of containerd's runc
            // shim (checkKillError), not the runtime's FAILED_PRECONDITION: containerd's CRI plugin takes
            // NOT_FOUND as already stopped.
            try
            {
                _runtime.Kill(init.ContainerId, signal, request.All);
            }
            catch (InvalidContainerStateException)
            {
                throw CsrtException.NotFound("process already finished");
            }
            catch (ContainerNotFoundException)
            {
                throw CsrtException.NotFound("no such container");
            }
            return Task.FromResult(new Empty());
        }
        switch (p.State)
        {
            case ProcessState.Created:
                throw CsrtException.FailedPrecondition("process not created");
            case ProcessState.Stopped or ProcessState.Deleted:
                throw CsrtException.NotFound("process already finished");
        }
        if (!Signals.Send(p.Pid, signal))
            throw CsrtException.NotFound("process already finished");
        return Task.FromResult(new Empty());
    }

    public override Task<TaskV2.PidsResponse> Pids(TaskV2.PidsRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        var response = new TaskV2.PidsResponse();
        Dictionary<int, string> execs;
        lock (_lock)
            execs = c.Execs.Values.Where(e => e is not null && e.Pid > 0).ToDictionary(e => e.Pid, e => e.Id);
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
        c.Init.BeginPause();
        try
        {
            _runtime.Pause(c.Id);
        }
        catch
        {
            c.Init.EndPause(frozen: false);
            throw;
        }
        // No paused event after the exit event of a process that died during the freeze.
        if (c.Init.EndPause(frozen: true))
            _events.Publish("/tasks/paused", new Ev.TaskPaused { ContainerId = c.Id });
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> Resume(TaskV2.ResumeRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        lock (c.Init.Lock)
            c.Init.Require(new[] { ProcessState.Paused }, "resume");
        _runtime.Resume(c.Id);
        if (c.Init.EndResume())
            _events.Publish("/tasks/resumed", new Ev.TaskResumed { ContainerId = c.Id });
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> Checkpoint(TaskV2.CheckpointTaskRequest request, ServerCallContext context) =>
        throw CsrtException.Unsupported("checkpoint is not implemented by csrt (no CRIU support yet)");

    public override Task<Empty> Exec(TaskV2.ExecProcessRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        ContainerId.Validate(request.ExecId);
        lock (c.Init.Lock)
            c.Init.Require(new[] { ProcessState.Created, ProcessState.Running }, "exec in");
        if (request.Spec is null)
            throw new ArgumentException("exec: no process spec");
        var json = TypeUrls.UnpackJson(request.Spec, TypeUrls.OciProcess);
        var spec = SpecLoader.ParseProcess(json.Span, "exec process spec");
        spec.Terminal = request.Terminal;
        lock (_lock)
        {
            if (c.Execs.ContainsKey(request.ExecId))
                throw CsrtException.AlreadyExists($"id {request.ExecId}");
            // Reserve the id before opening IO (FIFO opens may take a moment).
            c.Execs[request.ExecId] = null!;
        }
        try
        {
            c.Options.ChownFifos(request.Stdin, request.Stdout, request.Stderr);
            var io = ProcessIo.Open(request.ExecId, _namespace, request.Stdin, request.Stdout, request.Stderr, request.Terminal);
            lock (_lock)
                c.Execs[request.ExecId] = new ExecProcess(c.Id, request.ExecId, io, spec);
        }
        catch
        {
            lock (_lock)
                c.Execs.Remove(request.ExecId);
            throw;
        }
        _events.Publish("/tasks/exec-added", new Ev.TaskExecAdded { ContainerId = c.Id, ExecId = request.ExecId });
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> ResizePty(TaskV2.ResizePtyRequest request, ServerCallContext context)
    {
        var p = Get(request.Id, request.ExecId);
        p.Io.Resize((ushort)request.Width, (ushort)request.Height);
        return Task.FromResult(new Empty());
    }

    public override Task<Empty> CloseIO(TaskV2.CloseIORequest request, ServerCallContext context)
    {
        Get(request.Id, request.ExecId).Io.CloseStdin();
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
        var p = Get(request.Id, request.ExecId);
        await p.Exited.WaitAsync(context.CancellationToken).ConfigureAwait(false);
        return new TaskV2.WaitResponse { ExitStatus = p.ExitStatus, ExitedAt = p.ExitedAtTimestamp() };
    }

    public override Task<TaskV2.StatsResponse> Stats(TaskV2.StatsRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        ICgroupManager cgroup;
        try
        {
            cgroup = _runtime.CgroupOf(c.Id);
        }
        catch (ContainerNotFoundException)
        {
            // containerd's runc shim's text for a container without a cgroup.
            throw CsrtException.NotFound("cgroup does not exist");
        }
        var stats = cgroup.Stats();
        var any = cgroup.Layout == CgroupLayout.Unified ? TypeUrls.Pack(MetricsMapper.ToV2(stats)) : TypeUrls.Pack(MetricsMapper.ToV1(stats));
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
            RemoveSocketFile();
            _shutdown();
        }
        return Task.FromResult(new Empty());
    }

    /// <summary>
    /// Before answering the last Shutdown (as runc's shim does): containerd removes the bundle, and
    /// with it the `address` file naming the socket, as soon as it has the answer; and a `start` for
    /// the same group from then on must bind a new shim instead of finding this dying one.
    /// </summary>
    private void RemoveSocketFile()
    {
        string? bundle;
        lock (_lock)
            bundle = _lastBundle;
        foreach (var file in new[] { bundle is null ? null : Path.Combine(bundle, "address"), Path.GetFullPath("address") })
        {
            if (file is not null && ShimPaths.SocketNamedIn(file) is { } path)
            {
                Files.TryUnlink(path);
                return;
            }
        }
    }

    public override Task<TaskV2.StateResponse> State(TaskV2.StateRequest request, ServerCallContext context)
    {
        var c = Get(request.Id);
        var p = Get(request.Id, request.ExecId);
        var status = p.State switch
        {
            ProcessState.Created => Types.Status.Created,
            ProcessState.Running => Types.Status.Running,
            ProcessState.Pausing => Types.Status.Pausing,
            ProcessState.Paused => Types.Status.Paused,
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
    private void OnReaped(Csrt.Linux.ChildExit exit)
    {
        ShimProcess? p;
        lock (_lock)
        {
            if (!_byPid.TryGetValue(exit.Pid, out p))
                return;
            _byPid.Remove(exit.Pid);
        }
        HandleExit(p, exit.Status);
    }

    /// <summary>An exit the spawner's subscription saw before the pid was registered: the reaper
    /// found no one for it, so the entry registered since is stale and goes (a later process with
    /// the same pid, once pids wrap, must not be taken for this one).</summary>
    private void HandleEarlyExit(ShimProcess p, int status)
    {
        lock (_lock)
        {
            if (_byPid.TryGetValue(p.Pid, out var registered) && ReferenceEquals(registered, p))
                _byPid.Remove(p.Pid);
        }
        HandleExit(p, status);
    }

    private void HandleExit(ShimProcess p, int status)
    {
        if (!p.ClaimExit())
            return;
        ThreadPool.QueueUserWorkItem(_ =>
        {
            try
            {
                ProcessExit(p, status);
            }
            catch (Exception e)
            {
                Log.Error($"handling the exit of {p.Id} (pid {p.Pid})", e);
            }
        });
    }

    private void ProcessExit(ShimProcess p, int status)
    {
        Container? c;
        lock (_lock)
            _containers.TryGetValue(p.ContainerId, out c);
        if (c is null)
        {
            p.SetExited(status);
            return;
        }
        lock (c.Events)
        {
            if (p is InitProcess init)
            {
                if (!init.PrivatePidNamespace)
                {
                    // Without a pid namespace the rest of the container outlives its init; end it, as runc's shim does.
                    try
                    {
                        _runtime.CgroupOf(c.Id).KillAll(Signals.SIGKILL);
                    }
                    catch (Exception e)
                    {
                        Log.Warn($"killing what is left in {c.Id} after its init exited: {e.Message}");
                    }
                }
                // Execs still running (they share a pid namespace that outlives the init, and are
                // being killed above): the init is marked exited, releasing Wait, only after they
                // are, so its TaskExit comes last and no Delete can overtake them (runc shim 1.7+).
                if (RunningExecs(c) > 0)
                {
                    c.PendingInitExit = status;
                }
                else
                {
                    init.SetExited(status);
                    PublishExit(c, init);
                }
                return;
            }
            p.SetExited(status);
            PublishExit(c, p);
            if (c.PendingInitExit is { } initStatus && RunningExecs(c) == 0)
            {
                c.PendingInitExit = null;
                c.Init.SetExited(initStatus);
                PublishExit(c, c.Init);
            }
        }
    }

    private int RunningExecs(Container c)
    {
        lock (_lock)
            return c.Execs.Values.Count(e => e is not null && e.State is ProcessState.Running);
    }

    private void PublishExit(Container c, ShimProcess p) =>
        _events.Publish("/tasks/exit", new Ev.TaskExit
        {
            ContainerId = c.Id,
            Id = p.Id,
            Pid = (uint)p.Pid,
            ExitStatus = p.ExitStatus,
            ExitedAt = p.ExitedAtTimestamp(),
        });

    /// <summary>On the way out (SIGTERM): stop watching; containers keep running, as with runc's shim.</summary>
    public void Stop() => _oom.Dispose();
}
