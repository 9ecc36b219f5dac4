using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Grpc.Core;

namespace Csrt.Bench.Scale;

/// <summary>
/// Many pods on one node: a private containerd (CRI on, cgroupfs) and, for each pass of the
/// order (csrt, runc, csrt by default), N pods (a pause sandbox and one <c>sleep</c> container
/// each) started one after another, then removed, then N started C at a time, then removed.
/// Per pod its RunPodSandbox, CreateContainer and StartContainer latency; at each checkpoint
/// (10, 25, 50, 100 pods) the shims' summed memory, containerd's, and the latency of the CRI
/// list calls a kubelet makes; the time to stop and remove everything. See README.md.
/// </summary>
public static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    internal sealed class Options
    {
        public int Pods = 100;
        public int Concurrency = 10;
        public List<int> Checkpoints = [10, 25, 50, 100];
        public List<string> Order = ["csrt", "runc", "csrt"];
        /// <summary>The pods' network: "cni" (their own network namespace, set up by the CNI bridge plugin) or "host" (the node's network namespace, as a hostNetwork pod: containerd runs no CNI plugin); the whole order runs once per mode.</summary>
        public List<string> Networks = ["cni"];
        public int ListReps = 3;
        public int SettleSeconds = 8;
        public int Warmup = 3;
        public string Phases = "seq,conc";
        public string? BinDir;
        public string Out = ".";
    }

    public static int Main(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--pods": o.Pods = Positive("--pods", Next()); break;
                case "--concurrency": o.Concurrency = Positive("--concurrency", Next()); break;
                case "--checkpoints": o.Checkpoints = Next().Split(',').Select(s => Positive("--checkpoints", s)).ToList(); break;
                case "--order":
                    o.Order = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
                    if (o.Order.Count == 0 || o.Order.Any(h => h is not ("csrt" or "runc")))
                        throw new ArgumentException("--order takes a comma-separated list of the handlers csrt and runc");
                    break;
                case "--network":
                    o.Networks = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
                    if (o.Networks.Count == 0 || o.Networks.Any(n => n is not ("cni" or "host")) || o.Networks.Distinct().Count() != o.Networks.Count)
                        throw new ArgumentException("--network takes cni, host, cni,host or host,cni");
                    break;
                case "--list-reps": o.ListReps = Positive("--list-reps", Next()); break;
                case "--settle": o.SettleSeconds = int.Parse(Next(), Inv); break;
                case "--warmup": o.Warmup = int.Parse(Next(), Inv); break;
                case "--phases":
                    o.Phases = Next();
                    if (o.Phases.Split(',').Any(p => p is not ("seq" or "conc")))
                        throw new ArgumentException("--phases takes seq, conc or seq,conc");
                    break;
                case "--bin": o.BinDir = Path.GetFullPath(Next()); break;
                case "--out": o.Out = Path.GetFullPath(Next()); break;
                default:
                    Console.Error.WriteLine($"scale-bench: unknown argument {args[i]} (see run.sh --help)");
                    return 2;
            }
        }
        // Checkpoints past the pod count are dropped; the last pod is always one.
        o.Checkpoints = o.Checkpoints.Where(c => c < o.Pods).Append(o.Pods).Distinct().Order().ToList();
        Directory.CreateDirectory(o.Out);
        return new Bench(o).Run();
    }

    private static int Positive(string option, string value) =>
        int.TryParse(value, NumberStyles.None, Inv, out var n) && n > 0 ? n : throw new ArgumentException($"{option} takes positive numbers, not '{value}'");

    /// <summary>One pass: the <paramref name="Index"/>-th run of the order's phases, on one handler and one network mode (warm-up pods: index -1).</summary>
    internal sealed record PassInfo(int Index, string Handler, string Network);

    /// <summary>Every network mode runs the whole order (A B A) in turn: passes are numbered across the modes.</summary>
    internal static List<PassInfo> Passes(Options o) =>
        o.Networks.SelectMany(n => o.Order.Select(h => (Handler: h, Network: n))).Select((p, i) => new PassInfo(i, p.Handler, p.Network)).ToList();

    internal static void Log(string message) =>
        Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    /// <summary>One pod's start: its ids (empty where the step did not happen) and the latency of each step in ms (NaN where it failed or did not run).</summary>
    internal sealed record PodStart(int Pass, string Handler, string Network, string Phase, int Index, string PodId, string ContainerId,
        double RunPodMs, double CreateMs, double StartMs)
    {
        /// <summary>CPU time of containerd and every process it started (shims, CNI plugins, runc) during this pod's start; seq phase only (NaN when pods overlap).</summary>
        public double CpuMs { get; init; } = double.NaN;

        /// <summary>Of <see cref="CpuMs"/>: containerd's own threads, and the children it reaped (CNI plugins, the shim's `start` run), from /proc/&lt;containerd&gt;/stat in clock ticks (coarse per pod, fine over many); the rest is the shims'.</summary>
        public double ContainerdCpuMs { get; init; } = double.NaN;

        public double ContainerdChildrenCpuMs { get; init; } = double.NaN;

        /// <summary>Of <see cref="CpuMs"/>: this pod's own shim (the shim process that appeared during its start, with the children it reaped: the runc shim's runc runs), in clock ticks; the rest of the cgroup's CPU is the other shims' and the container processes' before they move into their own cgroups.</summary>
        public double ShimCpuMs { get; init; } = double.NaN;

        /// <summary>Of containerd's, its reaped children's and the pod's own shim's CPU: the time spent in the kernel (stime), in clock ticks.</summary>
        public double SysCpuMs { get; init; } = double.NaN;

        public bool Ok => !double.IsNaN(RunPodMs) && !double.IsNaN(CreateMs) && !double.IsNaN(StartMs);

        /// <summary>"Pod start": RunPodSandbox + CreateContainer + StartContainer, what a kubelet waits for before the pod's container runs.</summary>
        public double PodStartMs => RunPodMs + CreateMs + StartMs;
    }

    internal sealed record Memory(int Pass, string Handler, string Network, string Phase, int Pods, string When, int Shims,
        double ShimPssMb, double ShimPssAnonMb, double ShimPssFileMb, double ShimRssMb, double ShimPrivateMb, double ContainerdRssMb, double ContainerdPssMb,
        double ContainerdCpuMs, double ContainerdChildrenCpuMs, double ShimsCpuMs);

    internal sealed record ListCall(int Pass, string Handler, string Network, string Phase, int Pods, string Call, int Rep, double Ms, int Items, string Error);

    /// <summary>CPU time of containerd and its children while a phase's pods started (checkpoints excluded).</summary>
    internal sealed record PhaseCpu(int Pass, string Handler, string Network, string Phase, int Pods, double CpuMs);

    internal sealed record Teardown(int Pass, string Handler, string Network, string Phase, int Pods, double TotalMs, int Failures, int ShimsLeft, double ShimsGoneMs);

    internal sealed record Failure(int Pass, string Handler, string Network, string Phase, int Index, string Op, string Error);


    private sealed class Bench(Options o)
    {
        private static readonly Dictionary<string, string> HandlerShim = new(StringComparer.Ordinal)
        {
            ["csrt"] = "containerd-shim-csrt-v2",
            ["runc"] = "containerd-shim-runc-v2",
        };

        private readonly ConcurrentBag<PodStart> _pods = new();
        private readonly List<Memory> _memory = new();
        private readonly List<ListCall> _lists = new();
        private readonly List<Teardown> _teardowns = new();
        private readonly List<PhaseCpu> _phaseCpu = new();
        private CpuAccount? _cpu;
        private readonly ConcurrentBag<Failure> _failures = new();
        private PrivateContainerd _ctd = null!;
        private RuntimeService.RuntimeServiceClient _cri = null!;

        private static DateTime Deadline => DateTime.UtcNow.AddSeconds(120);

        public int Run()
        {
            var shim = Path.Combine(o.BinDir ?? RepoPaths.BinDir, "containerd-shim-csrt-v2");
            RepoPaths.RequireBinary(shim);
            Log($"csrt shim: {shim} ({new FileInfo(shim).Length} bytes); order {string.Join(',', o.Order)}, network {string.Join(',', o.Networks)}; {o.Pods} pods, checkpoints {string.Join(',', o.Checkpoints)}, concurrency {o.Concurrency}");
            var loadBefore = File.ReadAllText("/proc/loadavg").Trim();
            var clock = Stopwatch.StartNew();
            _ctd = PrivateContainerd.Start(new PrivateContainerdOptions { BinDir = o.BinDir });
            try
            {
                Log($"private containerd in slot {_ctd.Slot} ({_ctd.Address}), pid {_ctd.Pid}");
                _cpu = CpuAccount.Create(_ctd.Pid, "csrt-scale-bench-" + _ctd.Slot.ToString(Inv), Log);
                using var channel = _ctd.OpenGrpcChannel();
                _cri = new RuntimeService.RuntimeServiceClient(channel);
                var phases = o.Phases.Split(',');
                Warmup();
                foreach (var pass in Passes(o))
                {
                    if (phases.Contains("seq"))
                        Phase(pass, "seq", 1);
                    if (phases.Contains("conc"))
                        Phase(pass, "conc", o.Concurrency);
                }
            }
            finally
            {
                _ctd.Dispose();
                _cpu?.Dispose();
                RemovePodCgroups();
                var loadAfter = File.ReadAllText("/proc/loadavg").Trim();
                new Report(o, _pods.ToList(), _memory, _lists, _teardowns, _failures.ToList(), _phaseCpu).Write(shim, loadBefore, loadAfter, clock.Elapsed);
            }
            return 0;
        }

        /// <summary>Starts the pods up to each checkpoint (at most <paramref name="concurrency"/>
        /// in flight), measures there, then stops and removes them all and times it.</summary>
        private void Phase(PassInfo pass, string phase, int concurrency)
        {
            Log($"pass {pass.Index} {pass.Handler} {pass.Network} network {phase}: {o.Pods} pods, {concurrency} at a time");
            var started = new ConcurrentBag<PodStart>();
            SampleMemory(pass, phase, 0, "start");
            var from = 0;
            var cpu = 0.0;
            foreach (var checkpoint in o.Checkpoints)
            {
                var before = Cpu();
                Parallel.ForEachAsync(Enumerable.Range(from, checkpoint - from), new ParallelOptions { MaxDegreeOfParallelism = concurrency },
                    async (i, _) =>
                    {
                        var shimsBefore = concurrency == 1 ? ShimPids() : [];
                        var own = concurrency == 1 ? Cpu() : double.NaN;
                        var ctd = CpuTicks(_ctd.Pid);
                        var p = await StartPod(pass, phase, i);
                        if (concurrency == 1)
                        {
                            var cpu = Cpu() - own;
                            var after = CpuTicks(_ctd.Pid);
                            // The pod's own shim is the one that was not there before: all its CPU so far is this pod's start.
                            var shims = ShimPids().Except(shimsBefore).Select(CpuTicks).ToList();
                            p = p with
                            {
                                CpuMs = cpu,
                                ContainerdCpuMs = (after.Self - ctd.Self) * TickMs,
                                ContainerdChildrenCpuMs = (after.Children - ctd.Children) * TickMs,
                                ShimCpuMs = shims.Sum(c => c.Self + c.Children) * TickMs,
                                SysCpuMs = (after.Sys - ctd.Sys + shims.Sum(c => c.Sys)) * TickMs,
                            };
                        }
                        started.Add(p);
                    }).GetAwaiter().GetResult();
                cpu += Cpu() - before;
                from = checkpoint;
                Checkpoint(pass, phase, checkpoint);
            }
            foreach (var p in started)
                _pods.Add(p);
            _phaseCpu.Add(new PhaseCpu(pass.Index, pass.Handler, pass.Network, phase, o.Pods, cpu));
            RemoveAll(pass, phase, concurrency, started.ToList());
        }

        private double Cpu() => _cpu?.Milliseconds() ?? double.NaN;

        /// <summary>Before the passes, a few pods per handler started and removed, not recorded:
        /// the first pods of a fresh containerd pay for its caches and the images' first use.</summary>
        private void Warmup()
        {
            if (o.Warmup == 0)
                return;
            Log($"warm-up: {o.Warmup} pods per handler and network mode");
            foreach (var network in o.Networks)
            {
                foreach (var handler in o.Order.Distinct())
                {
                    var pass = new PassInfo(-1, handler, network);
                    var started = Enumerable.Range(0, o.Warmup).Select(i => StartPod(pass, "warmup", i).GetAwaiter().GetResult()).ToList();
                    RemoveAll(pass, "warmup", 1, started);
                }
            }
            _teardowns.RemoveAll(t => t.Pass < 0);
        }

        /// <summary>The pods' parent cgroups live under this directory of every hierarchy; a kubelet would remove them, here <see cref="RemovePodCgroups"/> does.</summary>
        private string PodCgroupRoot => $"csrt-scale-{_ctd.Slot}";

        private void RemovePodCgroups()
        {
            foreach (var hierarchy in Directory.EnumerateDirectories("/sys/fs/cgroup").Prepend("/sys/fs/cgroup"))
            {
                var root = Path.Combine(hierarchy, PodCgroupRoot);
                if (!Directory.Exists(root))
                    continue;
                try
                {
                    foreach (var pod in Directory.EnumerateDirectories(root))
                        Directory.Delete(pod);
                    Directory.Delete(root);
                }
                catch (IOException e)
                {
                    Log($"warning: could not remove {root}: {e.Message}");
                }
            }
        }

        private async Task<PodStart> StartPod(PassInfo pass, string phase, int index)
        {
            var name = $"scale-{pass.Index}-{pass.Handler}-{pass.Network}-{phase}-{index}";
            // A hostNetwork pod as a kubelet asks for it: the node's network namespace for the
            // sandbox and its containers, so containerd creates no netns and runs no CNI plugin.
            var network = pass.Network == "host" ? new NamespaceOption { Network = NamespaceMode.Node } : null;
            var config = new PodSandboxConfig
            {
                Metadata = new PodSandboxMetadata { Name = name, Namespace = "scale", Uid = name, Attempt = 1 },
                // A kubelet gives a hostNetwork pod no hostname: it has the node's UTS namespace too.
                Hostname = network is null ? "scale" : "",
                LogDirectory = Path.Combine(_ctd.Dir, "pod-logs", name),
                // As a kubelet with the cgroupfs driver gives every pod its own parent cgroup
                // (containerd's ListPodSandboxStats reads the pod's metrics from it).
                Linux = new LinuxPodSandboxConfig
                {
                    CgroupParent = $"/{PodCgroupRoot}/pod{name}",
                    SecurityContext = network is null ? null : new LinuxSandboxSecurityContext { NamespaceOptions = network },
                },
            };
            string pod = "", container = "";
            double runPod = double.NaN, create = double.NaN, start = double.NaN;
            var sw = Stopwatch.StartNew();
            var op = "RunPodSandbox";
            try
            {
                pod = (await _cri.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = pass.Handler }, deadline: Deadline)).PodSandboxId;
                runPod = sw.Elapsed.TotalMilliseconds;
                op = "CreateContainer";
                sw.Restart();
                container = (await _cri.CreateContainerAsync(new CreateContainerRequest
                {
                    PodSandboxId = pod,
                    SandboxConfig = config,
                    Config = new ContainerConfig
                    {
                        Metadata = new ContainerMetadata { Name = "sleep" },
                        Image = new ImageSpec { Image = TestImages.BusyboxImage },
                        Command = { "sleep", "3600" },
                        LogPath = "sleep.log",
                        Linux = new LinuxContainerConfig
                        {
                            SecurityContext = network is null ? null : new LinuxContainerSecurityContext { NamespaceOptions = network },
                        },
                    },
                }, deadline: Deadline)).ContainerId;
                create = sw.Elapsed.TotalMilliseconds;
                op = "StartContainer";
                sw.Restart();
                await _cri.StartContainerAsync(new StartContainerRequest { ContainerId = container }, deadline: Deadline);
                start = sw.Elapsed.TotalMilliseconds;
            }
            catch (RpcException e)
            {
                Fail(pass, phase, index, op, e.Status.ToString());
            }
            return new PodStart(pass.Index, pass.Handler, pass.Network, phase, index, pod, container, runPod, create, start);
        }

        private void Fail(PassInfo pass, string phase, int index, string op, string error)
        {
            _failures.Add(new Failure(pass.Index, pass.Handler, pass.Network, phase, index, op, error));
            Log($"pass {pass.Index} {pass.Handler} {pass.Network} network {phase} pod {index}: {op} failed: {error}");
        }

        private void Checkpoint(PassInfo pass, string phase, int pods)
        {
            SampleMemory(pass, phase, pods, "fresh");
            for (var rep = 0; rep < o.ListReps; rep++)
            {
                TimeList(pass, phase, pods, rep, "ListContainers", () => _cri.ListContainers(new ListContainersRequest(), deadline: Deadline).Containers.Count);
                TimeList(pass, phase, pods, rep, "ListContainerStats", () => _cri.ListContainerStats(new ListContainerStatsRequest(), deadline: Deadline).Stats.Count);
                TimeList(pass, phase, pods, rep, "ListPodSandboxStats", () => _cri.ListPodSandboxStats(new ListPodSandboxStatsRequest(), deadline: Deadline).Stats.Count);
            }
            if (o.SettleSeconds > 0)
            {
                // Longer than the csrt shim's 3 s idle trim: what a node's long-lived pods hold.
                Thread.Sleep(TimeSpan.FromSeconds(o.SettleSeconds));
                SampleMemory(pass, phase, pods, "settled");
            }
            var last = _memory[^1];
            Log($"  {pods} pods: {last.Shims} shims, Pss {last.ShimPssMb / Math.Max(1, pods):0.00} MB/pod ({last.When}), containerd RSS {last.ContainerdRssMb:0.0} MB");
        }

        private void TimeList(PassInfo pass, string phase, int pods, int rep, string call, Func<int> list)
        {
            var sw = Stopwatch.StartNew();
            try
            {
                var items = list();
                _lists.Add(new ListCall(pass.Index, pass.Handler, pass.Network, phase, pods, call, rep, sw.Elapsed.TotalMilliseconds, items, ""));
            }
            catch (RpcException e)
            {
                _lists.Add(new ListCall(pass.Index, pass.Handler, pass.Network, phase, pods, call, rep, double.NaN, 0, e.Status.ToString()));
                Fail(pass, phase, pods, call, e.Status.ToString());
            }
        }

        /// <summary>Every containerd-shim-* process of this containerd (whatever the handler:
        /// a pass leaves none behind for the next), summed; and containerd's own memory.</summary>
        private void SampleMemory(PassInfo pass, string phase, int pods, string when)
        {
            var shims = ShimPids();
            double pss = 0, anon = 0, file = 0, rss = 0, priv = 0;
            foreach (var pid in shims)
            {
                var rollup = Measures.KeyValues($"/proc/{pid}/smaps_rollup");
                var status = Measures.KeyValues($"/proc/{pid}/status");
                pss += Measures.Kb(rollup, "Pss");
                anon += Measures.Kb(rollup, "Pss_Anon");
                file += Measures.Kb(rollup, "Pss_File");
                priv += Measures.Kb(rollup, "Private_Clean") + Measures.Kb(rollup, "Private_Dirty");
                rss += Measures.Kb(status, "VmRSS");
            }
            var ctdStatus = Measures.KeyValues($"/proc/{_ctd.Pid}/status");
            var ctdRollup = Measures.KeyValues($"/proc/{_ctd.Pid}/smaps_rollup");
            var expected = HandlerShim[pass.Handler];
            var foreign = shims.Count(p => HostState.CommandLine(p) is { Count: > 0 } a && !a[0].EndsWith("/" + expected, StringComparison.Ordinal));
            if (shims.Count != pods || foreign > 0)
                Log($"  warning: {shims.Count} shims ({foreign} not {expected}) with {pods} pods (expected one {expected} per pod)");
            var ctdCpu = CpuTicks(_ctd.Pid);
            _memory.Add(new Memory(pass.Index, pass.Handler, pass.Network, phase, pods, when, shims.Count, pss / 1024, anon / 1024, file / 1024, rss / 1024, priv / 1024,
                Measures.Kb(ctdStatus, "VmRSS") / 1024, Measures.Kb(ctdRollup, "Pss") / 1024,
                ctdCpu.Self * TickMs, ctdCpu.Children * TickMs, shims.Sum(p => CpuTicks(p) is var c ? c.Self + c.Children : 0) * TickMs));
        }

        private static readonly double TickMs = 1000.0 / double.Parse(Commands.Run("getconf", "CLK_TCK").EnsureSuccess().Stdout.Trim(), Inv);

        /// <summary>utime+stime of a process (all its threads, ended ones included) and cutime+cstime
        /// (its children it has reaped: containerd's are the CNI plugins and the shims' `start`
        /// runs; the runc shim's are runc), and of both the kernel's part (stime+cstime), in clock
        /// ticks; zeros when it is gone.</summary>
        private static (long Self, long Children, long Sys) CpuTicks(int pid)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                // comm may contain spaces and parentheses: the fields start after the last ')'.
                var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return (long.Parse(f[11], Inv) + long.Parse(f[12], Inv), long.Parse(f[13], Inv) + long.Parse(f[14], Inv), long.Parse(f[12], Inv) + long.Parse(f[14], Inv));
            }
            catch (IOException)
            {
                return (0, 0, 0);
            }
        }

        private List<int> ShimPids() =>
            HostState.ProcessesWithArgument(_ctd.Address)
                .Where(p => HostState.CommandLine(p) is { Count: > 0 } a && Path.GetFileName(a[0]).StartsWith("containerd-shim-", StringComparison.Ordinal))
                .ToList();

        /// <summary>StopContainer (timeout 0), RemoveContainer, StopPodSandbox, RemovePodSandbox for
        /// every pod, as many in flight as were started at once; timed from the first call to the
        /// last answer. Then waits (bounded) for the shims to exit, so the next phase's sums hold its own shims only.</summary>
        private void RemoveAll(PassInfo pass, string phase, int concurrency, List<PodStart> pods)
        {
            var failures = 0;
            var sw = Stopwatch.StartNew();
            Parallel.ForEachAsync(pods, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (p, _) =>
            {
                var op = "";
                try
                {
                    if (p.ContainerId.Length > 0)
                    {
                        op = "StopContainer";
                        await _cri.StopContainerAsync(new StopContainerRequest { ContainerId = p.ContainerId, Timeout = 0 }, deadline: Deadline);
                        op = "RemoveContainer";
                        await _cri.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = p.ContainerId }, deadline: Deadline);
                    }
                    if (p.PodId.Length > 0)
                    {
                        op = "StopPodSandbox";
                        await _cri.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = p.PodId }, deadline: Deadline);
                        op = "RemovePodSandbox";
                        await _cri.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = p.PodId }, deadline: Deadline);
                    }
                }
                catch (RpcException e)
                {
                    Interlocked.Increment(ref failures);
                    Fail(pass, phase, p.Index, op, e.Status.ToString());
                }
            }).GetAwaiter().GetResult();
            var total = sw.Elapsed.TotalMilliseconds;
            var shims = ShimPids();
            var gone = HostState.WaitGone(shims, TimeSpan.FromSeconds(30));
            var goneMs = sw.Elapsed.TotalMilliseconds - total;
            var left = gone ? 0 : ShimPids().Count;
            if (left > 0)
                Fail(pass, phase, -1, "shims-exit", $"{left} shims still running 30 s after every pod was removed");
            _teardowns.Add(new Teardown(pass.Index, pass.Handler, pass.Network, phase, pods.Count, total, failures, left, goneMs));
            Log($"  removed {pods.Count} pods in {total / 1000:0.0} s ({failures} failures); shims gone {goneMs / 1000:0.0} s later");
        }
    }
}
