using Containerd;
using Containerd.Task.V2;
using Task = System.Threading.Tasks.Task;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Transport;
using Grpc.Core;
using Xunit;
using TaskStatus = Containerd.Types.Status;
using TaskService = Containerd.Task.V2.Task;

namespace Csrt.IntegrationTests.Ttrpc;

/// <summary>
/// Our ttrpc client against a real Go ttrpc server: the stock containerd-shim-runc-v2 of a task
/// started with <c>ctr run -d</c>, reached through the address file in its bundle, with the
/// answers checked against what <c>ctr</c> reports.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class RuncShimInteropTests(ContainerdFixture fixture)
{
    private const string NamespaceHeader = "containerd-namespace-ttrpc";
    private readonly PrivateContainerd ctd = fixture.Containerd;

    private sealed class RunningTask(PrivateContainerd ctd, string id) : IDisposable
    {
        public string Id { get; } = id;

        public string Address => File.ReadAllText(Path.Combine(ctd.BundleDir(Id), "address")).Trim();

        public uint Pid
        {
            get
            {
                // TASK  PID  STATUS
                string line = ctd.CtrOk("tasks", "ls").Split('\n').Single(l => l.StartsWith(Id + " ", StringComparison.Ordinal));
                return uint.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
            }
        }

        public void Dispose()
        {
            ctd.Ctr("tasks", "kill", "-s", "SIGKILL", Id);
            ctd.Ctr("tasks", "delete", "-f", Id);
            ctd.Ctr("containers", "delete", Id);
        }
    }

    private RunningTask StartTask(params string[] command)
    {
        string id = TestBundle.NewId("ttrpc");
        ctd.Ctr(["run", "-d", "--runtime", PrivateContainerd.RuncRuntime, TestImages.BusyboxImage, id, .. command]).EnsureSuccess();
        return new RunningTask(ctd, id);
    }

    private static CallOptions Options(TimeSpan? timeout = null) => new(
        headers: new Metadata { { NamespaceHeader, PrivateContainerd.DefaultNamespace } },
        deadline: DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10)));

    [Fact]
    public async Task ConnectStatePidsAndStatsOfTheRuncShimMatchCtr()
    {
        using RunningTask task = StartTask("sleep", "300");
        string address = task.Address;
        Assert.StartsWith("unix:///run/containerd/s/", address);
        await using TtrpcChannel channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(address));
        var shim = new TaskService.TaskClient(channel);
        uint pid = task.Pid;

        ConnectResponse connect = await shim.ConnectAsync(new ConnectRequest { Id = task.Id }, Options());
        Assert.Equal(pid, connect.TaskPid);
        string shimPidFile = Path.Combine(ctd.BundleDir(task.Id), "shim.pid");
        if (File.Exists(shimPidFile))
        {
            Assert.Equal(uint.Parse(File.ReadAllText(shimPidFile).Trim()), connect.ShimPid);
        }
        Assert.Equal(HostState.Stat((int)pid)?.ParentPid, (int)connect.ShimPid);

        StateResponse state = await shim.StateAsync(new StateRequest { Id = task.Id }, Options());
        Assert.Equal(task.Id, state.Id);
        Assert.Equal(pid, state.Pid);
        Assert.Equal(TaskStatus.Running, state.Status);
        Assert.Equal(ctd.BundleDir(task.Id), state.Bundle);

        PidsResponse pids = await shim.PidsAsync(new PidsRequest { Id = task.Id }, Options());
        // PID  INFO
        uint[] ctrPids = ctd.CtrOk("tasks", "ps", task.Id).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Skip(1).Select(l => uint.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0])).ToArray();
        Assert.Equal(ctrPids.Order(), pids.Processes.Select(p => p.Pid).Order());
        Assert.Contains(pid, pids.Processes.Select(p => p.Pid));

        StatsResponse stats = await shim.StatsAsync(new StatsRequest { Id = task.Id }, Options());
        if (TypeUrls.TryUnpack(stats.Stats, out global::Containerd.Cgroups.V1.Metrics? v1))
        {
            Assert.Equal("io.containerd.cgroups.v1.Metrics", stats.Stats.TypeUrl);
            Assert.Equal((ulong)ctrPids.Length, v1.Pids.Current);
            Assert.True(v1.Memory.Usage.Usage > 0, "memory usage of the container's cgroup is 0");
        }
        else
        {
            Assert.True(TypeUrls.TryUnpack(stats.Stats, out global::Containerd.Cgroups.V2.Metrics? v2), $"Stats returned type URL '{stats.Stats.TypeUrl}'");
            Assert.Equal("io.containerd.cgroups.v2.Metrics", stats.Stats.TypeUrl);
            Assert.Equal((ulong)ctrPids.Length, v2.Pids.Current);
            Assert.True(v2.Memory.Usage > 0, "memory usage of the container's cgroup is 0");
        }
    }

    [Fact]
    public async Task GoServerStatusesArriveAsRpcExceptionsAndTheConnectionGoesOn()
    {
        using RunningTask task = StartTask("sleep", "300");
        await using TtrpcChannel channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(task.Address));
        var shim = new TaskService.TaskClient(channel);

        var notFound = await Assert.ThrowsAsync<RpcException>(() => shim.StateAsync(new StateRequest { Id = task.Id, ExecId = "no-such-exec" }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, notFound.StatusCode);

        // A method the Go server does not have: its own "method <name>" status.
        var unknownMethod = new Method<StateRequest, StateResponse>(MethodType.Unary, "containerd.task.v2.Task", "NoSuchMethod",
            Marshallers.Create((StateRequest m, SerializationContext c) => c.Complete(Google.Protobuf.MessageExtensions.ToByteArray(m)), c => StateRequest.Parser.ParseFrom(c.PayloadAsNewBuffer())),
            Marshallers.Create((StateResponse m, SerializationContext c) => c.Complete(Google.Protobuf.MessageExtensions.ToByteArray(m)), c => StateResponse.Parser.ParseFrom(c.PayloadAsNewBuffer())));
        var unimplemented = await Assert.ThrowsAsync<RpcException>(() => channel.AsyncUnaryCall(unknownMethod, null, Options(), new StateRequest { Id = task.Id }).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, unimplemented.StatusCode);
        Assert.Equal("method NoSuchMethod", unimplemented.Status.Detail);

        Assert.Equal(TaskStatus.Running, (await shim.StateAsync(new StateRequest { Id = task.Id }, Options())).Status);
    }

    [Fact]
    public async Task ManyConcurrentCallsOnOneConnectionToTheGoServerAllSucceed()
    {
        using RunningTask task = StartTask("sleep", "300");
        await using TtrpcChannel channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(task.Address));
        var shim = new TaskService.TaskClient(channel);

        StateResponse[] states = await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, 500)
            .Select(_ => shim.StateAsync(new StateRequest { Id = task.Id }, Options(TimeSpan.FromSeconds(30))).ResponseAsync));

        Assert.All(states, s => Assert.Equal(task.Id, s.Id));
    }

    [Fact]
    public async Task BlockingWaitOnTheGoServerHitsOurDeadlineWhileOtherCallsProceedThenReportsTheExit()
    {
        using RunningTask task = StartTask("sleep", "300");
        await using TtrpcChannel channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(task.Address));
        var shim = new TaskService.TaskClient(channel);

        var timedOut = await Assert.ThrowsAsync<RpcException>(() => shim.WaitAsync(new WaitRequest { Id = task.Id }, Options(TimeSpan.FromMilliseconds(300))).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, timedOut.StatusCode);

        AsyncUnaryCall<WaitResponse> wait = shim.WaitAsync(new WaitRequest { Id = task.Id }, Options(TimeSpan.FromSeconds(30)));
        Assert.Equal(TaskStatus.Running, (await shim.StateAsync(new StateRequest { Id = task.Id }, Options())).Status);
        Assert.False(wait.ResponseAsync.IsCompleted);
        await shim.KillAsync(new KillRequest { Id = task.Id, Signal = 9 }, Options());

        WaitResponse exited = await wait.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(137u, exited.ExitStatus);
        Assert.Equal(TaskStatus.Stopped, (await shim.StateAsync(new StateRequest { Id = task.Id }, Options())).Status);
    }
}
