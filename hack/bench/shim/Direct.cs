using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Containerd;
using Containerd.Services.Events.Ttrpc.V1;
using Containerd.Task.V2;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Server;
using Csrt.Ttrpc.Transport;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using TaskService = Containerd.Task.V2.Task;

namespace Csrt.Bench.Shim;

public static partial class Program
{
    /// <summary>Accepts the shims' event Forwards, as containerd's ttrpc socket does; counts them.</summary>
    private sealed class EventSink : Events.EventsBase
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public override System.Threading.Tasks.Task<Empty> Forward(ForwardRequest request, ServerCallContext context)
        {
            Interlocked.Increment(ref _count);
            return System.Threading.Tasks.Task.FromResult(new Empty());
        }
    }

    private sealed partial class Bench
    {
        private const string DirectNamespace = "csrt-bench-direct";

        /// <summary>The shim executable each runtime runs as, for the direct phase.</summary>
        private readonly Dictionary<string, string> _shimPaths = new(StringComparer.Ordinal);

        /// <summary>containerd's side of a shim when the bench plays containerd: the addresses it
        /// passes, and an events endpoint on the ttrpc one (the Go shim publishes every event there).</summary>
        private sealed class FakeContainerd : IAsyncDisposable
        {
            private readonly TtrpcServer _events;
            private readonly System.Threading.Tasks.Task _serving;

            public FakeContainerd()
            {
                var tag = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
                Directory.CreateDirectory(RepoPaths.RunDir);
                GrpcAddress = Path.Combine(RepoPaths.RunDir, $"bench-ctd-{tag}.sock");
                TtrpcAddress = GrpcAddress + ".ttrpc";
                File.Delete(TtrpcAddress);
                _events = new TtrpcServer(new TtrpcServerOptions { RequireSameUser = true });
                Events.BindService(_events, Sink);
                _serving = _events.ListenAndServeAsync(UnixSocketAddress.FromPath(TtrpcAddress));
            }

            public EventSink Sink { get; } = new();

            public string GrpcAddress { get; }

            public string TtrpcAddress { get; }

            public async ValueTask DisposeAsync()
            {
                await _events.DisposeAsync();
                try
                {
                    await _serving;
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
                {
                }
                File.Delete(TtrpcAddress);
            }
        }

        /// <summary>A task's bundle as containerd prepares it before running the shim's
        /// <c>start</c>: config.json, the rootfs already in place (an overlay over the cached
        /// busybox rootfs, mounted by the bench, so Create gets no Rootfs mounts), the shim's
        /// <c>log</c> FIFO held open read-write, and stdout/stderr FIFOs whose read ends are open
        /// (as ctr's are before Create).</summary>
        private sealed class DirectBundle : IDisposable
        {
            private readonly TestBundle _bundle;
            private readonly List<FileDescriptor> _fds = new();

            public DirectBundle(string id, IReadOnlyList<string> args)
            {
                _bundle = TestBundle.Create(TestBundle.DefaultConfigJson(args), id);
                try
                {
                    Files.MakeFifo(Path.Combine(Dir, "log"), 0x1c0);
                    _fds.Add(Files.Open(Path.Combine(Dir, "log"), OpenFlags.O_RDWR | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC));
                }
                catch
                {
                    Dispose();
                    throw;
                }
            }

            public string Id => _bundle.Id;

            public string Dir => _bundle.Dir;

            public string ConfigPath => _bundle.ConfigPath;

            /// <summary>Makes stdout and stderr FIFOs named for <paramref name="name"/> and opens
            /// their read ends (O_RDWR: never blocks, and the shim's writer open finds a reader).</summary>
            public (string Stdout, string Stderr) Fifos(string name)
            {
                var stdout = Path.Combine(Dir, name + "-stdout");
                var stderr = Path.Combine(Dir, name + "-stderr");
                foreach (var f in new[] { stdout, stderr })
                {
                    Files.MakeFifo(f, 0x1c0);
                    _fds.Add(Files.Open(f, OpenFlags.O_RDWR | OpenFlags.O_NONBLOCK | OpenFlags.O_CLOEXEC));
                }
                return (stdout, stderr);
            }

            public void Dispose()
            {
                _fds.ForEach(f => f.Dispose());
                _bundle.Dispose();
            }
        }

        /// <summary>One shim started as containerd starts it, and a ttrpc client on its socket.</summary>
        private sealed class DirectShim : IDisposable
        {
            public required TtrpcChannel Channel { get; init; }

            public required TaskService.TaskClient Client { get; init; }

            public void Dispose() => Channel.Dispose();
        }

        private static CallOptions Call(DateTime? deadline = null) => new(
            headers: new Metadata { { "containerd-namespace-ttrpc", DirectNamespace } },
            deadline: deadline ?? DateTime.UtcNow.AddSeconds(30));

        /// <summary>
        /// <c>&lt;shim&gt; -namespace N -address A -publish-binary containerd -id ID start</c> in the
        /// bundle, with containerd 1.6's environment additions and an empty stdin (ctr passes no
        /// runtime options), then a connection to the address it prints.
        /// </summary>
        private DirectShim StartShim(Runtime rt, FakeContainerd ctd, DirectBundle bundle)
        {
            var env = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["GOMAXPROCS"] = "2",
                ["TTRPC_ADDRESS"] = ctd.TtrpcAddress,
            };
            var r = Commands.Run(_shimPaths[rt.Name],
                ["-namespace", DirectNamespace, "-address", ctd.GrpcAddress, "-publish-binary", "/usr/bin/containerd", "-id", bundle.Id, "start"],
                TimeSpan.FromSeconds(30), stdin: null, environment: env, workingDirectory: bundle.Dir);
            var address = (r.Stdout + r.Stderr).Trim();
            if (r.ExitCode != 0 || !address.StartsWith(UnixSocketAddress.UnixScheme, StringComparison.Ordinal))
                throw new InvalidOperationException($"{rt.Binary} start exited {r.ExitCode}: {address}");
            var channel = TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(address)).GetAwaiter().GetResult();
            return new DirectShim { Channel = channel, Client = new TaskService.TaskClient(channel) };
        }

        /// <summary>Shutdown ends the shim, which may close the connection before it answers.</summary>
        private static void Shutdown(DirectShim shim, string id)
        {
            try
            {
                shim.Client.Shutdown(new ShutdownRequest { Id = id }, Call());
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Cancelled or StatusCode.Internal)
            {
            }
        }

        /// <summary>
        /// The task API calls ctr and containerd 1.6 make for <c>ctr run --rm … /bin/true</c> and
        /// <c>ctr task exec … /bin/true</c>, made straight to each shim by the bench playing
        /// containerd (its own events endpoint, no containerd, no ctr, no snapshotter): the shims'
        /// share of those commands, to subtract from the ctr rows measured in the same run.
        /// </summary>
        private void DirectPhase()
        {
            Log($"direct: {o.Warmup} warm-up + {o.Runs} run sequences and {o.ExecRuns} exec sequences per runtime, straight to the shims, interleaved");
            foreach (var rt in Runtimes)
                RepoPaths.RequireBinary(_shimPaths[rt.Name]);
            var ctd = new FakeContainerd();
            try
            {
                for (var i = 0; i < o.Warmup + o.Runs; i++)
                {
                    foreach (var rt in Order(i))
                        Timed($"direct-run/{rt.Name}", i >= o.Warmup, () => DirectRun(rt, ctd, i >= o.Warmup));
                }
                DirectExecs(ctd);
                Log($"direct: {ctd.Sink.Count} events forwarded by the shims");
            }
            finally
            {
                ctd.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }

        /// <summary>
        /// Runs one sequence after a pause of --direct-gap ms. Through ctr a shim's first call
        /// comes after milliseconds of ctr's and containerd's own work, and the kernel's cost of
        /// moving a process into a cgroup v1 hierarchy depends on that: the first move after a
        /// quiet spell waits for an RCU grace period (cgroup_threadgroup_rwsem), a move soon after
        /// another does not. Back to back, each sequence would find the previous one's moves
        /// still recent and measure less than the shim costs under ctr.
        /// </summary>
        private void Timed(string key, bool record, Func<double> sequence)
        {
            if (o.DirectGap > 0)
                Thread.Sleep(o.DirectGap);
            double ms;
            try
            {
                ms = sequence();
            }
            catch (Exception e) when (e is RpcException or InvalidOperationException or IOException or TimeoutException)
            {
                Fail(key, e.Message);
                return;
            }
            if (record)
                Add(key, ms);
        }

        /// <summary>start, Create, Connect, Wait (sent before Start, as ctr does), Start, the exit,
        /// State (ctr's status check before delete), Delete, Shutdown; each step recorded.</summary>
        private double DirectRun(Runtime rt, FakeContainerd ctd, bool record)
        {
            using var bundle = new DirectBundle(NewId("drun-" + rt.Name), ["/bin/true"]);
            var (stdout, stderr) = bundle.Fifos(bundle.Id);
            var steps = new List<(string Step, double Ms)>();
            var total = Stopwatch.StartNew();
            var sw = Stopwatch.StartNew();
            void Step(string name)
            {
                steps.Add((name, sw.Elapsed.TotalMilliseconds));
                sw.Restart();
            }
            using var shim = StartShim(rt, ctd, bundle);
            Step("start");
            var created = shim.Client.Create(new CreateTaskRequest { Id = bundle.Id, Bundle = bundle.Dir, Stdout = stdout, Stderr = stderr }, Call());
            Step("create");
            shim.Client.Connect(new ConnectRequest { Id = bundle.Id }, Call());
            var wait = shim.Client.WaitAsync(new WaitRequest { Id = bundle.Id }, Call());
            shim.Client.Start(new StartRequest { Id = bundle.Id }, Call());
            Step("taskstart");
            var exited = wait.ResponseAsync.GetAwaiter().GetResult();
            Step("exit");
            if (exited.ExitStatus != 0)
                throw new InvalidOperationException($"/bin/true in {bundle.Id} ({rt.Name}, pid {created.Pid}) exited {exited.ExitStatus}");
            shim.Client.State(new StateRequest { Id = bundle.Id }, Call());
            shim.Client.Delete(new DeleteRequest { Id = bundle.Id }, Call());
            Step("delete");
            Shutdown(shim, bundle.Id);
            Step("shutdown");
            var ms = total.Elapsed.TotalMilliseconds;
            if (record)
            {
                foreach (var (step, stepMs) in steps)
                    Add($"direct-run-{step}/{rt.Name}", stepMs);
            }
            return ms;
        }

        /// <summary>On a running <c>sleep</c> task of each shim (started straight through it), the
        /// calls of <c>ctr task exec … /bin/true</c>: Exec, State + Wait (sent before Start), State
        /// + Start, the exit, State + Delete of the exec (containerd looks each exec up with a State
        /// first).</summary>
        private void DirectExecs(FakeContainerd ctd)
        {
            var hosts = new Dictionary<string, (DirectBundle Bundle, DirectShim Shim, JsonNode Process)>(StringComparer.Ordinal);
            try
            {
                foreach (var rt in Runtimes)
                {
                    var bundle = new DirectBundle(NewId("dexec-" + rt.Name), ["sleep", "1000000"]);
                    DirectShim? shim = null;
                    try
                    {
                        var (stdout, stderr) = bundle.Fifos(bundle.Id);
                        shim = StartShim(rt, ctd, bundle);
                        shim.Client.Create(new CreateTaskRequest { Id = bundle.Id, Bundle = bundle.Dir, Stdout = stdout, Stderr = stderr }, Call());
                        shim.Client.Start(new StartRequest { Id = bundle.Id }, Call());
                        // ctr's exec spec: the container's process with new args.
                        var process = JsonNode.Parse(File.ReadAllText(bundle.ConfigPath))!["process"]!.DeepClone();
                        process["args"] = new JsonArray("/bin/true");
                        process["terminal"] = false;
                        hosts[rt.Name] = (bundle, shim, process);
                    }
                    catch
                    {
                        shim?.Dispose();
                        bundle.Dispose();
                        throw;
                    }
                }
                for (var i = 0; i < o.Warmup + o.ExecRuns; i++)
                {
                    foreach (var rt in Order(i))
                    {
                        var (bundle, shim, process) = hosts[rt.Name];
                        Timed($"direct-exec/{rt.Name}", i >= o.Warmup, () => DirectExec(rt, bundle, shim, process, "dx" + i.ToString(Inv), i >= o.Warmup));
                    }
                }
            }
            finally
            {
                foreach (var (bundle, shim, _) in hosts.Values)
                {
                    try
                    {
                        shim.Client.Kill(new KillRequest { Id = bundle.Id, Signal = 9, All = true }, Call());
                        shim.Client.Wait(new WaitRequest { Id = bundle.Id }, Call());
                        shim.Client.Delete(new DeleteRequest { Id = bundle.Id }, Call());
                        Shutdown(shim, bundle.Id);
                    }
                    catch (RpcException e)
                    {
                        Log($"direct: removing {bundle.Id}: {e.Status}");
                    }
                    shim.Dispose();
                    bundle.Dispose();
                }
            }
        }

        private double DirectExec(Runtime rt, DirectBundle bundle, DirectShim shim, JsonNode process, string execId, bool record)
        {
            var (stdout, stderr) = bundle.Fifos(execId);
            var spec = TypeUrls.PackJson(TypeUrls.OciProcess, Encoding.UTF8.GetBytes(process.ToJsonString()));
            var steps = new List<(string Step, double Ms)>();
            var total = Stopwatch.StartNew();
            var sw = Stopwatch.StartNew();
            void Step(string name)
            {
                steps.Add((name, sw.Elapsed.TotalMilliseconds));
                sw.Restart();
            }
            shim.Client.Exec(new ExecProcessRequest { Id = bundle.Id, ExecId = execId, Spec = spec, Stdout = stdout, Stderr = stderr }, Call());
            Step("exec");
            shim.Client.State(new StateRequest { Id = bundle.Id, ExecId = execId }, Call());
            var wait = shim.Client.WaitAsync(new WaitRequest { Id = bundle.Id, ExecId = execId }, Call());
            shim.Client.State(new StateRequest { Id = bundle.Id, ExecId = execId }, Call());
            shim.Client.Start(new StartRequest { Id = bundle.Id, ExecId = execId }, Call());
            Step("start");
            var exited = wait.ResponseAsync.GetAwaiter().GetResult();
            Step("exit");
            if (exited.ExitStatus != 0)
                throw new InvalidOperationException($"exec {execId} of /bin/true in {bundle.Id} ({rt.Name}) exited {exited.ExitStatus}");
            shim.Client.State(new StateRequest { Id = bundle.Id, ExecId = execId }, Call());
            shim.Client.Delete(new DeleteRequest { Id = bundle.Id, ExecId = execId }, Call());
            Step("delete");
            var ms = total.Elapsed.TotalMilliseconds;
            if (record)
            {
                foreach (var (step, stepMs) in steps)
                    Add($"direct-exec-{step}/{rt.Name}", stepMs);
            }
            return ms;
        }
    }
}
