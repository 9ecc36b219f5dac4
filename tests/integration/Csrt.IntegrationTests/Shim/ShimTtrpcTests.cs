using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Containerd;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Transport;
using Google.Protobuf;
using Grpc.Core;
using Xunit;
using Xunit.Abstractions;
using TaskV2 = Containerd.Task.V2;
using TaskV3 = Containerd.Task.V3;
using Types = Containerd.Types;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// The shim's task service called directly on its socket (the address containerd reads from the
/// bundle's `address` file), the way containerd calls it: bad requests get the statuses of
/// protocol doc §3.3/3.4 and §10, never a crash; the per-RPC rules (Wait before Start blocks, State
/// echoes the stdio, exited_at of a running process is Go's zero time, Connect returns pids,
/// Shutdown with containers left does nothing).
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class ShimTtrpcTests
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public ShimTtrpcTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    /// <summary>A task started by ctr (so containerd owns it), and a client on its shim's socket.</summary>
    internal sealed class ShimUnderTest : IAsyncDisposable
    {
        private readonly PrivateContainerd _containerd;

        private ShimUnderTest(PrivateContainerd containerd, string id, string address, TtrpcChannel channel)
        {
            _containerd = containerd;
            Id = id;
            Address = address;
            Channel = channel;
            Client = new TaskV2.Task.TaskClient(channel);
        }

        public string Id { get; }

        public string Address { get; }

        public TtrpcChannel Channel { get; }

        public TaskV2.Task.TaskClient Client { get; }

        public static async Task<ShimUnderTest> StartAsync(PrivateContainerd containerd)
        {
            var id = TestBundle.NewId("ttrpc");
            try
            {
                containerd.CtrOk("run", "-d", "--runtime", PrivateContainerd.CsrtRuntime, TestImages.BusyboxImage, id, "sleep", "1000");
                var address = File.ReadAllText(Path.Combine(containerd.BundleDir(id), "address")).Trim();
                Assert.StartsWith("unix:///run/containerd/s/", address, StringComparison.Ordinal);
                var channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(address));
                return new ShimUnderTest(containerd, id, address, channel);
            }
            catch
            {
                containerd.RemoveTask(id);
                throw;
            }
        }

        public async Task<TaskV2.StateResponse> StateAsync(string id, string execId = "") =>
            await Client.StateAsync(new TaskV2.StateRequest { Id = id, ExecId = execId }, deadline: Deadline);

        public async ValueTask DisposeAsync()
        {
            await Channel.DisposeAsync();
            _containerd.RemoveTask(Id);
        }
    }

    /// <summary>
    /// A second task created on the same shim through the socket (not through containerd): its own
    /// bundle with FIFOs for stdio, left in the created state.
    /// </summary>
    private sealed class DirectTask : IAsyncDisposable
    {
        private readonly ShimUnderTest _shim;
        private readonly TestBundle _bundle;
        private readonly List<Csrt.Linux.FileDescriptor> _readers = new();

        private DirectTask(ShimUnderTest shim, TestBundle bundle)
        {
            _shim = shim;
            _bundle = bundle;
        }

        public string Id => _bundle.Id;

        public string Bundle => _bundle.Dir;

        public string Stdin => Path.Combine(_bundle.Dir, "stdin");

        public string Stdout => Path.Combine(_bundle.Dir, "stdout");

        public string Stderr => Path.Combine(_bundle.Dir, "stderr");

        public uint Pid { get; private set; }

        public static Task<DirectTask> CreateAsync(ShimUnderTest shim, params string[] args) => CreateInPidNamespaceAsync(shim, null, args);

        /// <param name="pidNamespace">A pid namespace to join (a /proc/&lt;pid&gt;/ns/pid path) instead of a new one.</param>
        public static async Task<DirectTask> CreateInPidNamespaceAsync(ShimUnderTest shim, string? pidNamespace, params string[] args)
        {
            var json = TestBundle.DefaultConfigJson(args);
            if (pidNamespace is not null)
            {
                var config = System.Text.Json.Nodes.JsonNode.Parse(json)!;
                foreach (var ns in config["linux"]!["namespaces"]!.AsArray())
                {
                    if ((string?)ns!["type"] == "pid")
                        ns["path"] = pidNamespace;
                }
                json = config.ToJsonString();
            }
            var bundle = TestBundle.Create(json, TestBundle.NewId("direct"));
            var task = new DirectTask(shim, bundle);
            try
            {
                foreach (var fifo in new[] { task.Stdin, task.Stdout, task.Stderr })
                    Commands.RunOk("mkfifo", fifo);
                // The output FIFOs' read ends, as containerd opens them before Create (the shim
                // waits for them); O_RDWR never blocks.
                foreach (var fifo in new[] { task.Stdout, task.Stderr })
                    task._readers.Add(Csrt.Linux.Files.Open(fifo, Csrt.Linux.OpenFlags.O_RDWR));
                var created = await shim.Client.CreateAsync(new TaskV2.CreateTaskRequest
                {
                    Id = task.Id,
                    Bundle = bundle.Dir,
                    Stdin = task.Stdin,
                    Stdout = task.Stdout,
                    Stderr = task.Stderr,
                }, deadline: Deadline);
                task.Pid = created.Pid;
                return task;
            }
            catch
            {
                await task.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _shim.Client.KillAsync(new TaskV2.KillRequest { Id = Id, Signal = 9, All = true }, deadline: Deadline);
            }
            catch (RpcException)
            {
            }
            try
            {
                await _shim.Client.WaitAsync(new TaskV2.WaitRequest { Id = Id }, deadline: DateTime.UtcNow.AddSeconds(30));
                await _shim.Client.DeleteAsync(new TaskV2.DeleteRequest { Id = Id }, deadline: Deadline);
            }
            catch (RpcException)
            {
            }
            _readers.ForEach(r => r.Dispose());
            _bundle.Dispose();
        }
    }

    private static async Task<RpcException> FailsWith(StatusCode code, Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(e.StatusCode == code, $"expected {code}, got {e.StatusCode}: {e.Status.Detail}");
        return e;
    }

    private static Google.Protobuf.WellKnownTypes.Any ExecSpec(params string[] args)
    {
        var json = "{\"args\":[" + string.Join(',', args.Select(a => "\"" + a + "\"")) + "],\"cwd\":\"/\",\"env\":[\"PATH=/bin:/usr/bin\"],\"user\":{\"uid\":0,\"gid\":0}}";
        return TypeUrls.PackJson(TypeUrls.OciProcess, Encoding.UTF8.GetBytes(json));
    }

    [Fact]
    public async Task ATtyExec_WhoseStdinEndsWithCloseIO_IsHungUp_AsRuncsShimDoes()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var dir = Directory.CreateTempSubdirectory("csrt-tty-");
        try
        {
            var stdin = Path.Combine(dir.FullName, "stdin");
            var stdout = Path.Combine(dir.FullName, "stdout");
            Commands.RunOk("mkfifo", stdin, stdout);
            // Our reader first, so the shim's open of stdout finds one; O_RDWR never blocks.
            using var output = Csrt.Linux.Files.Open(stdout, Csrt.Linux.OpenFlags.O_RDWR);
            const string json = "{\"terminal\":true,\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin:/usr/bin\"],\"user\":{\"uid\":0,\"gid\":0}}";
            await shim.Client.ExecAsync(new TaskV2.ExecProcessRequest
            {
                Id = shim.Id, ExecId = "interactive", Terminal = true, Stdin = stdin, Stdout = stdout,
                Spec = TypeUrls.PackJson(TypeUrls.OciProcess, Encoding.UTF8.GetBytes(json)),
            }, deadline: Deadline);
            await shim.Client.StartAsync(new TaskV2.StartRequest { Id = shim.Id, ExecId = "interactive" }, deadline: Deadline);
            using (var input = Csrt.Linux.Files.Open(stdin, Csrt.Linux.OpenFlags.O_WRONLY))
                Csrt.Linux.Files.WriteAll(input, "echo typed\n"u8);

            await shim.Client.CloseIOAsync(new TaskV2.CloseIORequest { Id = shim.Id, ExecId = "interactive", Stdin = true }, deadline: Deadline);

            // An interactive sh on a terminal waits for input forever unless the terminal hangs up.
            var exit = await shim.Client.WaitAsync(new TaskV2.WaitRequest { Id = shim.Id, ExecId = "interactive" }, deadline: DateTime.UtcNow.AddSeconds(20));
            _log.WriteLine($"exit status {exit.ExitStatus}");
            await shim.Client.DeleteAsync(new TaskV2.DeleteRequest { Id = shim.Id, ExecId = "interactive" }, deadline: Deadline);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task TheShimDaemon_RunsFromASealedViewOfItsBinary_NotTheHostsFile()
    {
        // Every process the daemon execs into a container is its clone until the user program
        // replaces it; a "#!/proc/self/exe" program would run the daemon's executable in there.
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var connect = await shim.Client.ConnectAsync(new TaskV2.ConnectRequest { Id = shim.Id }, deadline: Deadline);
        var exe = $"/proc/{connect.ShimPid}/exe";

        Assert.NotEqual(Csrt.Linux.Files.Stat(RepoPaths.ShimBinary).Device, Csrt.Linux.Files.Stat(exe).Device);
        var write = Assert.Throws<Csrt.Linux.SyscallException>(() => Csrt.Linux.Files.Open(exe, Csrt.Linux.OpenFlags.O_WRONLY).Dispose());
        Assert.True(write.Errno is Csrt.Linux.Errno.EROFS or Csrt.Linux.Errno.EPERM, write.Message);
    }

    [Fact]
    public async Task TheTaskV3Service_OfContainerd2_AnswersAsV2DoesOnTheSameSocket()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var v3 = new TaskV3.Task.TaskClient(shim.Channel);

        var v2State = await shim.StateAsync(shim.Id);
        var v3State = await v3.StateAsync(new TaskV3.StateRequest { Id = shim.Id }, deadline: Deadline);
        Assert.Equal(v2State.Pid, v3State.Pid);
        Assert.Equal(Types.Status.Running, v3State.Status);
        Assert.Equal(v2State.Bundle, v3State.Bundle);

        var pids = await v3.PidsAsync(new TaskV3.PidsRequest { Id = shim.Id }, deadline: Deadline);
        Assert.Contains(pids.Processes, p => p.Pid == v3State.Pid);
        var connect = await v3.ConnectAsync(new TaskV3.ConnectRequest { Id = shim.Id }, deadline: Deadline);
        Assert.Equal(v3State.Pid, connect.TaskPid);
        await FailsWith(StatusCode.NotFound, async () => await v3.StateAsync(new TaskV3.StateRequest { Id = "no-such-container" }, deadline: Deadline));
    }

    [Fact]
    public async Task RequestsForUnknownContainersAndExecs_GetNotFound_ButConnectAnswersWithTaskPidZero()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var c = shim.Client;
        const string nobody = "no-such-container";
        await FailsWith(StatusCode.NotFound, async () => await c.StateAsync(new TaskV2.StateRequest { Id = nobody }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.StartAsync(new TaskV2.StartRequest { Id = nobody }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.DeleteAsync(new TaskV2.DeleteRequest { Id = nobody }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.KillAsync(new TaskV2.KillRequest { Id = nobody, Signal = 9 }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.PidsAsync(new TaskV2.PidsRequest { Id = nobody }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.PauseAsync(new TaskV2.PauseRequest { Id = nobody }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.StatsAsync(new TaskV2.StatsRequest { Id = nobody }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.WaitAsync(new TaskV2.WaitRequest { Id = nobody }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.CloseIOAsync(new TaskV2.CloseIORequest { Id = nobody }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.ResizePtyAsync(new TaskV2.ResizePtyRequest { Id = nobody, Width = 80, Height = 24 }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = nobody, ExecId = "x", Spec = ExecSpec("true") }, deadline: Deadline));

        foreach (var call in new Func<Task>[]
        {
            async () => await c.StateAsync(new TaskV2.StateRequest { Id = shim.Id, ExecId = "no-such-exec" }, deadline: Deadline),
            async () => await c.StartAsync(new TaskV2.StartRequest { Id = shim.Id, ExecId = "no-such-exec" }, deadline: Deadline),
            async () => await c.KillAsync(new TaskV2.KillRequest { Id = shim.Id, ExecId = "no-such-exec", Signal = 9 }, deadline: Deadline),
            async () => await c.DeleteAsync(new TaskV2.DeleteRequest { Id = shim.Id, ExecId = "no-such-exec" }, deadline: Deadline),
        })
        {
            var e = await FailsWith(StatusCode.NotFound, call);
            Assert.Contains("no-such-exec", e.Status.Detail, StringComparison.Ordinal);
        }

        var unknown = await c.ConnectAsync(new TaskV2.ConnectRequest { Id = nobody }, deadline: Deadline);
        Assert.Equal(0u, unknown.TaskPid);
        Assert.NotEqual(0u, unknown.ShimPid);
        var known = await c.ConnectAsync(new TaskV2.ConnectRequest { Id = shim.Id }, deadline: Deadline);
        Assert.Equal(unknown.ShimPid, known.ShimPid);
        Assert.Equal((await shim.StateAsync(shim.Id)).Pid, known.TaskPid);
        Assert.EndsWith("containerd-shim-csrt-v2", HostState.Exe((int)known.ShimPid), StringComparison.Ordinal);

        var checkpoint = await FailsWith(StatusCode.Unimplemented, async () => await c.CheckpointAsync(new TaskV2.CheckpointTaskRequest { Id = shim.Id, Path = "/tmp/x" }, deadline: Deadline));
        _log.WriteLine(checkpoint.Status.Detail);
    }

    [Fact]
    public async Task ARunningTask_RefusesStartDeleteAndResume_WithFailedPrecondition_AndReportsGoZeroTimeAsExitedAt()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var c = shim.Client;
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.StartAsync(new TaskV2.StartRequest { Id = shim.Id }, deadline: Deadline));
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.DeleteAsync(new TaskV2.DeleteRequest { Id = shim.Id }, deadline: Deadline));
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.ResumeAsync(new TaskV2.ResumeRequest { Id = shim.Id }, deadline: Deadline));

        var state = await shim.StateAsync(shim.Id);
        Assert.Equal(Types.Status.Running, state.Status);
        Assert.Equal(shim.Id, state.Id);
        Assert.Equal(_containerd.BundleDir(shim.Id), state.Bundle);
        Assert.Equal(Timestamps.GoZeroSeconds, state.ExitedAt.Seconds);
        Assert.Equal(0, state.ExitedAt.Nanos);
        Assert.Equal(0u, state.ExitStatus);

        // Stats: containerd 1.6 resolves only the bare type URL (this host is cgroup v1/hybrid).
        var stats = await c.StatsAsync(new TaskV2.StatsRequest { Id = shim.Id }, deadline: Deadline);
        Assert.Equal("io.containerd.cgroups.v1.Metrics", stats.Stats.TypeUrl);
        var metrics = global::Containerd.Cgroups.V1.Metrics.Parser.ParseFrom(stats.Stats.Value);
        Assert.Equal(1UL, metrics.Pids.Current);
        Assert.True(metrics.Memory.Usage.Usage > 0);

        // Pause twice: the second one is refused; the task stays paused until Resume.
        await c.PauseAsync(new TaskV2.PauseRequest { Id = shim.Id }, deadline: Deadline);
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.PauseAsync(new TaskV2.PauseRequest { Id = shim.Id }, deadline: Deadline));
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "while-paused", Spec = ExecSpec("true") }, deadline: Deadline));
        Assert.Equal(Types.Status.Paused, (await shim.StateAsync(shim.Id)).Status);
        await c.ResumeAsync(new TaskV2.ResumeRequest { Id = shim.Id }, deadline: Deadline);
        Assert.Equal(Types.Status.Running, (await shim.StateAsync(shim.Id)).Status);
    }

    [Fact]
    public async Task ACreatedTask_WaitBlocksUntilItRunsAndExits_PauseIsRefused_StateEchoesItsStdio_AndKillAfterExitIsNotFound()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var c = shim.Client;
        await using var task = await DirectTask.CreateAsync(shim, "sh", "-c", "read line; exit 9");
        Assert.NotEqual(0u, task.Pid);

        var state = await shim.StateAsync(task.Id);
        Assert.Equal(Types.Status.Created, state.Status);
        Assert.Equal(task.Pid, state.Pid);
        Assert.Equal((task.Stdin, task.Stdout, task.Stderr), (state.Stdin, state.Stdout, state.Stderr));
        Assert.False(state.Terminal);
        Assert.Equal(task.Bundle, state.Bundle);
        Assert.Equal(Timestamps.GoZeroSeconds, state.ExitedAt.Seconds);

        await FailsWith(StatusCode.FailedPrecondition, async () => await c.PauseAsync(new TaskV2.PauseRequest { Id = task.Id }, deadline: Deadline));
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.ResumeAsync(new TaskV2.ResumeRequest { Id = task.Id }, deadline: Deadline));

        var wait = c.WaitAsync(new TaskV2.WaitRequest { Id = task.Id }).ResponseAsync;
        await Task.Delay(1000);
        Assert.False(wait.IsCompleted, "Wait returned before the task was even started");

        var started = await c.StartAsync(new TaskV2.StartRequest { Id = task.Id }, deadline: Deadline);
        Assert.Equal(task.Pid, started.Pid);
        Assert.Equal(Types.Status.Running, (await shim.StateAsync(task.Id)).Status);
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.StartAsync(new TaskV2.StartRequest { Id = task.Id }, deadline: Deadline));
        await Task.Delay(500);
        Assert.False(wait.IsCompleted, "Wait returned while the task still runs (it waits for a line on stdin)");

        // The shim holds the stdin FIFO open for writing: our line goes in, the process exits 9.
        await File.WriteAllTextAsync(task.Stdin, "go\n");
        var exited = await wait.WaitAsync(CallTimeout);
        Assert.Equal(9u, exited.ExitStatus);
        Assert.True(exited.ExitedAt.ToDateTime() > DateTime.UtcNow.AddMinutes(-5), $"exited_at {exited.ExitedAt} is not a real time");

        var after = await shim.StateAsync(task.Id);
        Assert.Equal(Types.Status.Stopped, after.Status);
        Assert.Equal(9u, after.ExitStatus);
        Assert.Equal(exited.ExitedAt, after.ExitedAt);
        await FailsWith(StatusCode.NotFound, async () => await c.KillAsync(new TaskV2.KillRequest { Id = task.Id, Signal = 15 }, deadline: Deadline));
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = task.Id, ExecId = "late", Spec = ExecSpec("true") }, deadline: Deadline));
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.PauseAsync(new TaskV2.PauseRequest { Id = task.Id }, deadline: Deadline));

        var deleted = await c.DeleteAsync(new TaskV2.DeleteRequest { Id = task.Id }, deadline: Deadline);
        Assert.Equal(9u, deleted.ExitStatus);
        Assert.Equal(task.Pid, deleted.Pid);
        await FailsWith(StatusCode.NotFound, async () => await c.DeleteAsync(new TaskV2.DeleteRequest { Id = task.Id }, deadline: Deadline));
        await FailsWith(StatusCode.NotFound, async () => await shim.StateAsync(task.Id));
        Assert.False(Directory.Exists(Path.Combine("/run/containerd/csrt", PrivateContainerd.DefaultNamespace, task.Id)), "csrt state of the deleted task is still there");
    }

    [Fact]
    public async Task Execs_DuplicateIdsAreRefused_UnstartedOnesCannotBeKilled_AndWaitReleasesWhenTheyExit()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var c = shim.Client;
        await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "e1", Spec = ExecSpec("sh", "-c", "sleep 1; exit 3") }, deadline: Deadline);
        var dup = await FailsWith(StatusCode.AlreadyExists, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "e1", Spec = ExecSpec("true") }, deadline: Deadline));
        _log.WriteLine(dup.Status.Detail);
        await FailsWith(StatusCode.InvalidArgument, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "bad/id", Spec = ExecSpec("true") }, deadline: Deadline));

        var created = await shim.StateAsync(shim.Id, "e1");
        Assert.Equal(Types.Status.Created, created.Status);
        Assert.Equal("e1", created.ExecId);
        Assert.Equal(Timestamps.GoZeroSeconds, created.ExitedAt.Seconds);
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.KillAsync(new TaskV2.KillRequest { Id = shim.Id, ExecId = "e1", Signal = 9 }, deadline: Deadline));

        var wait = c.WaitAsync(new TaskV2.WaitRequest { Id = shim.Id, ExecId = "e1" }).ResponseAsync;
        await Task.Delay(500);
        Assert.False(wait.IsCompleted, "Wait on a created exec returned before it started");
        var started = await c.StartAsync(new TaskV2.StartRequest { Id = shim.Id, ExecId = "e1" }, deadline: Deadline);
        Assert.NotEqual(0u, started.Pid);
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.StartAsync(new TaskV2.StartRequest { Id = shim.Id, ExecId = "e1" }, deadline: Deadline));
        await FailsWith(StatusCode.FailedPrecondition, async () => await c.DeleteAsync(new TaskV2.DeleteRequest { Id = shim.Id, ExecId = "e1" }, deadline: Deadline));
        var pids = await c.PidsAsync(new TaskV2.PidsRequest { Id = shim.Id }, deadline: Deadline);
        var info = Assert.Single(pids.Processes, p => p.Pid == started.Pid);
        Assert.Equal("containerd.runc.v1.ProcessDetails", info.Info.TypeUrl);

        var exited = await wait.WaitAsync(CallTimeout);
        Assert.Equal(3u, exited.ExitStatus);
        await FailsWith(StatusCode.NotFound, async () => await c.KillAsync(new TaskV2.KillRequest { Id = shim.Id, ExecId = "e1", Signal = 9 }, deadline: Deadline));
        // A resize or CloseIO of a process without a pty or stdin is a no-op, not an error.
        await c.ResizePtyAsync(new TaskV2.ResizePtyRequest { Id = shim.Id, ExecId = "e1", Width = 80, Height = 24 }, deadline: Deadline);
        await c.CloseIOAsync(new TaskV2.CloseIORequest { Id = shim.Id, ExecId = "e1", Stdin = true }, deadline: Deadline);
        var deleted = await c.DeleteAsync(new TaskV2.DeleteRequest { Id = shim.Id, ExecId = "e1" }, deadline: Deadline);
        Assert.Equal(3u, deleted.ExitStatus);
        Assert.Equal(started.Pid, deleted.Pid);
        await FailsWith(StatusCode.NotFound, async () => await shim.StateAsync(shim.Id, "e1"));

        // The id is free again once deleted; an exec that never starts can be deleted as is.
        await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "e1", Spec = ExecSpec("true") }, deadline: Deadline);
        await c.DeleteAsync(new TaskV2.DeleteRequest { Id = shim.Id, ExecId = "e1" }, deadline: Deadline);
        Assert.Equal(Types.Status.Running, (await shim.StateAsync(shim.Id)).Status);
    }

    [Fact]
    public async Task WhenTheInitDies_WaitOnItReturnsOnlyAfterItsExecsExitsAreHandled()
    {
        // The container joins the pid namespace of another (CRI's default pod mode): its init's death
        // does not end its execs; the shim kills what is left in its cgroup, and the init's exit must
        // wait for theirs (runc shim 1.7+: Wait and TaskExit of the init come last).
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var c = shim.Client;
        var sandboxPid = (await shim.StateAsync(shim.Id)).Pid;
        for (var round = 0; round < 5; round++)
        {
            await using var task = await DirectTask.CreateInPidNamespaceAsync(shim, $"/proc/{sandboxPid}/ns/pid", "sleep", "1000");
            await c.StartAsync(new TaskV2.StartRequest { Id = task.Id }, deadline: Deadline);
            var execs = new[] { "a", "b", "c" };
            foreach (var e in execs)
            {
                await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = task.Id, ExecId = e, Spec = ExecSpec("sleep", "1000") }, deadline: Deadline);
                await c.StartAsync(new TaskV2.StartRequest { Id = task.Id, ExecId = e }, deadline: Deadline);
            }
            var wait = c.WaitAsync(new TaskV2.WaitRequest { Id = task.Id }).ResponseAsync;
            await c.KillAsync(new TaskV2.KillRequest { Id = task.Id, Signal = 9 }, deadline: Deadline);
            var exited = await wait.WaitAsync(CallTimeout);
            Assert.Equal(137u, exited.ExitStatus);
            foreach (var e in execs)
            {
                var state = await shim.StateAsync(task.Id, e);
                Assert.True(state.Status == Types.Status.Stopped, $"round {round}: exec {e} is {state.Status} after the init's Wait returned");
                Assert.True(state.ExitedAt.ToDateTime() <= exited.ExitedAt.ToDateTime(), $"round {round}: exec {e} exited at {state.ExitedAt}, after the init ({exited.ExitedAt})");
            }
        }
    }

    [Fact]
    public async Task MalformedRequests_GetInvalidArgumentAlreadyExistsOrUnknown_NeverInternal_AndTheShimStaysUp()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var c = shim.Client;
        var pid = (int)(await c.ConnectAsync(new TaskV2.ConnectRequest { Id = shim.Id }, deadline: Deadline)).ShimPid;
        var json = (string text) => TypeUrls.PackJson(TypeUrls.OciProcess, Encoding.UTF8.GetBytes(text));
        var cases = new (string What, StatusCode Code, Func<Task> Call)[]
        {
            ("exec without a spec", StatusCode.InvalidArgument, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "x1" }, deadline: Deadline)),
            ("exec with a spec that is not JSON", StatusCode.InvalidArgument, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "x2", Spec = json("{not json") }, deadline: Deadline)),
            ("exec with a spec without args", StatusCode.InvalidArgument, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "x3", Spec = json("{\"cwd\":\"/\"}") }, deadline: Deadline)),
            ("exec with a spec of another type", StatusCode.InvalidArgument, async () => await c.ExecAsync(new TaskV2.ExecProcessRequest { Id = shim.Id, ExecId = "x4", Spec = TypeUrls.PackJson(TypeUrls.OciLinuxResources, "{}"u8) }, deadline: Deadline)),
            ("update without resources", StatusCode.InvalidArgument, async () => await c.UpdateAsync(new TaskV2.UpdateTaskRequest { Id = shim.Id }, deadline: Deadline)),
            ("update with resources that are not JSON", StatusCode.InvalidArgument, async () => await c.UpdateAsync(new TaskV2.UpdateTaskRequest { Id = shim.Id, Resources = TypeUrls.PackJson(TypeUrls.OciLinuxResources, "[1,"u8) }, deadline: Deadline)),
            ("create with an invalid id", StatusCode.InvalidArgument, async () => await c.CreateAsync(new TaskV2.CreateTaskRequest { Id = "a/../b", Bundle = "/tmp" }, deadline: Deadline)),
            ("create of an existing id", StatusCode.AlreadyExists, async () => await c.CreateAsync(new TaskV2.CreateTaskRequest { Id = shim.Id, Bundle = _containerd.BundleDir(shim.Id) }, deadline: Deadline)),
            ("create with a bundle that does not exist", StatusCode.InvalidArgument, async () => await c.CreateAsync(new TaskV2.CreateTaskRequest { Id = TestBundle.NewId("nobundle"), Bundle = "/nonexistent/bundle" }, deadline: Deadline)),
            ("create with an unknown stdio scheme", StatusCode.InvalidArgument, async () => await c.CreateAsync(new TaskV2.CreateTaskRequest { Id = TestBundle.NewId("scheme"), Bundle = _containerd.BundleDir(shim.Id), Stdout = "gopher://x" }, deadline: Deadline)),
        };
        foreach (var (what, code, call) in cases)
        {
            var e = await Assert.ThrowsAsync<RpcException>(call);
            _log.WriteLine($"{what}: {e.StatusCode} {e.Status.Detail}");
            Assert.True(e.StatusCode == code, $"{what}: expected {code}, got {e.StatusCode}: {e.Status.Detail}");
        }
        Assert.True(HostState.IsAlive(pid));
        Assert.Equal(Types.Status.Running, (await shim.StateAsync(shim.Id)).Status);
        var pids = await c.PidsAsync(new TaskV2.PidsRequest { Id = shim.Id }, deadline: Deadline);
        Assert.Single(pids.Processes);
    }

    [Fact]
    public async Task ShutdownWhileTheShimStillHoldsContainers_DoesNothing()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var pid = (int)(await shim.Client.ConnectAsync(new TaskV2.ConnectRequest { Id = shim.Id }, deadline: Deadline)).ShimPid;
        await shim.Client.ShutdownAsync(new TaskV2.ShutdownRequest { Id = shim.Id }, deadline: Deadline);
        await shim.Client.ShutdownAsync(new TaskV2.ShutdownRequest { Id = shim.Id, Now = true }, deadline: Deadline);
        await Task.Delay(1000);
        Assert.True(HostState.IsAlive(pid), "the shim exited on Shutdown while it still held a container");
        Assert.Equal(Types.Status.Running, (await shim.StateAsync(shim.Id)).Status);
        Assert.Equal(0, _containerd.Ctr("tasks", "exec", "--exec-id", "after-shutdown", shim.Id, "true").ExitCode);
    }

    [Fact]
    public async Task GarbageOnTheSocket_GetsStatusesOrAClosedConnection_AndTheShimKeepsServing()
    {
        await using var shim = await ShimUnderTest.StartAsync(_containerd);
        var pid = (int)(await shim.Client.ConnectAsync(new TaskV2.ConnectRequest { Id = shim.Id }, deadline: Deadline)).ShimPid;
        var endpoint = UnixSocketAddress.FromShimAddress(shim.Address);

        // Random bytes, then hang up.
        using (var raw = await UnixSocketAddress.ConnectAsync(endpoint))
        {
            await raw.SendAsync(RandomNumberGenerator.GetBytes(64 * 1024));
            raw.Shutdown(SocketShutdown.Both);
        }
        // A header announcing a 4 GiB frame, a few bytes of it, then hang up.
        using (var raw = await UnixSocketAddress.ConnectAsync(endpoint))
        {
            await raw.SendAsync(Frame(1, 1, new byte[16], lengthOverride: uint.MaxValue));
        }
        // Well-framed requests carrying nonsense: each gets an error status on its stream.
        using (var raw = await UnixSocketAddress.ConnectAsync(endpoint))
        {
            await raw.SendAsync(Frame(1, 1, RandomNumberGenerator.GetBytes(100)));
            await raw.SendAsync(Frame(3, 1, Request("containerd.task.v2.Task", "State", RandomNumberGenerator.GetBytes(50))));
            await raw.SendAsync(Frame(5, 1, Request("containerd.task.v2.Task", "NoSuchMethod", [])));
            await raw.SendAsync(Frame(7, 1, Request("no.such.Service", "State", [])));
            var codes = new Dictionary<uint, int>();
            raw.ReceiveTimeout = 30_000;
            using var stream = new NetworkStream(raw);
            while (codes.Count < 4)
            {
                var header = new byte[10];
                await stream.ReadExactlyAsync(header);
                var length = BinaryPrimitives.ReadUInt32BigEndian(header);
                var streamId = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
                var body = new byte[length];
                await stream.ReadExactlyAsync(body);
                Assert.Equal(2, header[8]);
                codes[streamId] = StatusCodeOf(body);
            }
            _log.WriteLine(string.Join(", ", codes.Select(kv => $"{kv.Key}: {kv.Value}")));
            Assert.All(codes.Values, code => Assert.NotEqual(0, code));
            Assert.Equal((int)StatusCode.Unimplemented, codes[5]);
            Assert.Equal((int)StatusCode.Unimplemented, codes[7]);
        }

        Assert.True(HostState.IsAlive(pid), "the shim died");
        await using var fresh = await TtrpcChannel.ConnectAsync(endpoint);
        var state = await new TaskV2.Task.TaskClient(fresh).StateAsync(new TaskV2.StateRequest { Id = shim.Id }, deadline: Deadline);
        Assert.Equal(Types.Status.Running, state.Status);
        // containerd's own connection was never disturbed.
        Assert.Equal(0, _containerd.Ctr("tasks", "exec", "--exec-id", "after-garbage", shim.Id, "true").ExitCode);
        Assert.Equal(Types.Status.Running, (await shim.StateAsync(shim.Id)).Status);
    }

    private static byte[] Frame(uint streamId, byte type, byte[] data, uint? lengthOverride = null)
    {
        var frame = new byte[10 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, lengthOverride ?? (uint)data.Length);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), streamId);
        frame[8] = type;
        data.CopyTo(frame, 10);
        return frame;
    }

    /// <summary>A ttrpc Request message: service 1, method 2, payload 3.</summary>
    private static byte[] Request(string service, string method, byte[] payload)
    {
        using var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteTag(1, WireFormat.WireType.LengthDelimited);
        o.WriteString(service);
        o.WriteTag(2, WireFormat.WireType.LengthDelimited);
        o.WriteString(method);
        o.WriteTag(3, WireFormat.WireType.LengthDelimited);
        o.WriteBytes(ByteString.CopyFrom(payload));
        o.Flush();
        return ms.ToArray();
    }

    /// <summary>The status code in a ttrpc Response (status 1 = google.rpc.Status, whose code is field 1).</summary>
    private static int StatusCodeOf(byte[] response)
    {
        var input = new CodedInputStream(response);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == 1)
            {
                var status = new CodedInputStream(input.ReadBytes().ToByteArray());
                uint t;
                while ((t = status.ReadTag()) != 0)
                {
                    if (WireFormat.GetTagFieldNumber(t) == 1)
                        return status.ReadInt32();
                    status.SkipLastField();
                }
                return 0;
            }
            input.SkipLastField();
        }
        return 0;
    }
}
