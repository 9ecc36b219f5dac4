using System.Collections.Concurrent;
using System.Diagnostics;
using Containerd;
using Containerd.Events;
using Containerd.Services.Events.Ttrpc.V1;
using Containerd.Task.V2;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Server;
using Csrt.Ttrpc.Transport;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Xunit;
using Task = System.Threading.Tasks.Task;
using TaskService = Containerd.Task.V2.Task;

namespace Csrt.IntegrationTests.Ttrpc;

/// <summary>
/// Our ttrpc server against a real Go ttrpc client (ttrpc v1.1.1, as built into Debian's
/// containerd 1.6.20 binaries): the stock containerd-shim-runc-v2, driven through a task's life by
/// our client playing containerd, publishes its task events to TTRPC_ADDRESS — here our server
/// serving <c>containerd.services.events.ttrpc.v1.Events/Forward</c>.
/// </summary>
public sealed class GoClientInteropTests
{
    private const string RuncShim = "/usr/bin/containerd-shim-runc-v2";
    private const string Namespace = "csrt-ttrpc";

    private sealed record Received(Envelope Envelope, string? NamespaceHeader, TimeSpan? Timeout);

    private sealed class EventRecorder : Events.EventsBase
    {
        public ConcurrentQueue<Received> Received { get; } = new();

        public override Task<Empty> Forward(ForwardRequest request, ServerCallContext context)
        {
            TimeSpan? timeout = context.Deadline == DateTime.MaxValue ? null : context.Deadline - DateTime.UtcNow;
            Received.Enqueue(new Received(request.Envelope, context.RequestHeaders.GetValue("containerd-namespace-ttrpc"), timeout));
            return Task.FromResult(new Empty());
        }

        public async Task<Received> WaitForAsync(string topic)
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(20))
            {
                if (Received.FirstOrDefault(r => r.Envelope.Topic == topic) is { } found)
                {
                    return found;
                }
                await Task.Delay(20);
            }
            throw new TimeoutException($"no {topic} event arrived in 20 s; got: {string.Join(", ", Received.Select(r => r.Envelope.Topic))}");
        }
    }

    [Fact]
    public async Task RuncShimPublishesEachTaskEventToOurServerWithNamespaceAndDeadline()
    {
        string id = TestBundle.NewId("gottrpc");
        using var bundle = TestBundle.Create(TestBundle.DefaultConfigJson(["sleep", "300"]), id);
        // The shim daemon logs into the FIFO "log" in its working directory; keep a reader on it.
        Files.MakeFifo(Path.Combine(bundle.Dir, "log"), 0b111_000_000); // 0700
        using Process logReader = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "exec cat log > shim.log"]) { WorkingDirectory = bundle.Dir })!;

        string eventsSocket = Path.Combine(RepoPaths.RunDir, $"ev-{id}.sock");
        var recorder = new EventRecorder();
        var errors = new ConcurrentQueue<string>();
        var server = new TtrpcServer(new TtrpcServerOptions
        {
            RequireSameUser = true,
            ErrorLog = (message, exception) => errors.Enqueue($"{message}: {exception?.Message}"),
        });
        Events.BindService(server, recorder);
        Task serving = server.ListenAndServeAsync(UnixSocketAddress.FromPath(eventsSocket));
        uint shimPid = 0;
        try
        {
            CommandResult started = Commands.Run(RuncShim,
                ["-namespace", Namespace, "-address", Path.Combine(RepoPaths.RunDir, $"ctd-{id}.sock"), "-publish-binary", "/bin/false", "-id", id, "start"],
                TimeSpan.FromSeconds(30), environment: new Dictionary<string, string> { ["TTRPC_ADDRESS"] = eventsSocket },
                workingDirectory: bundle.Dir).EnsureSuccess();
            string shimAddress = started.Stdout.Trim();
            await using TtrpcChannel channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(shimAddress));
            var shim = new TaskService.TaskClient(channel);
            var options = new CallOptions(new Metadata { { "containerd-namespace-ttrpc", Namespace } }, DateTime.UtcNow.AddSeconds(30));
            shimPid = (await shim.ConnectAsync(new ConnectRequest { Id = id }, options)).ShimPid;

            uint pid = (await shim.CreateAsync(new CreateTaskRequest { Id = id, Bundle = bundle.Dir }, options)).Pid;
            Received create = await recorder.WaitForAsync("/tasks/create");
            await shim.StartAsync(new StartRequest { Id = id }, options);
            Received start = await recorder.WaitForAsync("/tasks/start");
            await shim.KillAsync(new KillRequest { Id = id, Signal = 9 }, options);
            Assert.Equal(137u, (await shim.WaitAsync(new WaitRequest { Id = id }, options)).ExitStatus);
            Received exit = await recorder.WaitForAsync("/tasks/exit");
            await shim.DeleteAsync(new DeleteRequest { Id = id }, options);
            Received delete = await recorder.WaitForAsync("/tasks/delete");
            try
            {
                await shim.ShutdownAsync(new ShutdownRequest { Id = id }, options);
            }
            catch (RpcException closed) when (closed.StatusCode == StatusCode.Unavailable)
            {
                // The shim may exit before its answer is written; containerd ignores ErrClosed here too.
            }
            await channel.Completion.WaitAsync(TimeSpan.FromSeconds(20));

            Assert.Equal(["/tasks/create", "/tasks/start", "/tasks/exit", "/tasks/delete"], recorder.Received.Select(r => r.Envelope.Topic));
            Assert.All(recorder.Received, r =>
            {
                Assert.Equal(Namespace, r.Envelope.Namespace);
                Assert.Equal(Namespace, r.NamespaceHeader);
                Assert.NotNull(r.Envelope.Timestamp);
                Assert.True(r.Timeout is { } t && t > TimeSpan.Zero && t <= TimeSpan.FromSeconds(6), $"publisher deadline {r.Timeout}");
            });
            Assert.Equal("containerd.events.TaskCreate", create.Envelope.Event.TypeUrl);
            Assert.True(TypeUrls.TryUnpack(create.Envelope.Event, out TaskCreate? created));
            Assert.Equal(id, created.ContainerId);
            Assert.Equal(bundle.Dir, created.Bundle);
            Assert.Equal(pid, created.Pid);
            Assert.True(TypeUrls.TryUnpack(start.Envelope.Event, out TaskStart? startedEvent));
            Assert.Equal(pid, startedEvent.Pid);
            Assert.True(TypeUrls.TryUnpack(exit.Envelope.Event, out TaskExit? exited));
            Assert.Equal(137u, exited.ExitStatus);
            Assert.True(TypeUrls.TryUnpack(delete.Envelope.Event, out TaskDelete? deleted));
            Assert.Equal(id, deleted.ContainerId);
            Assert.Empty(errors);
        }
        finally
        {
            if (shimPid != 0 && HostState.IsAlive((int)shimPid))
            {
                HostState.KillAndWait([(int)shimPid], TimeSpan.FromSeconds(10));
            }
            Commands.Run("/usr/sbin/runc", "--root", $"/run/containerd/runc/{Namespace}", "delete", "-f", id);
            await server.DisposeAsync();
            await serving;
            logReader.Kill();
            await logReader.WaitForExitAsync();
        }
    }
}
