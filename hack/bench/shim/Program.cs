using System.Diagnostics;
using System.Globalization;
using System.Text;
using Containerd.Task.V2;
using TaskService = Containerd.Task.V2.Task;
using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Transport;

namespace Csrt.Bench.Shim;

/// <summary>
/// containerd-shim-csrt-v2 against the stock containerd-shim-runc-v2 on one private containerd,
/// every measurement interleaved (A B B A …, so neither runtime always goes first):
/// <c>ctr run --rm … /bin/true</c>, <c>ctr task exec … /bin/true</c> on a running task, a CRI pod
/// cycle, the memory of each shim with N pods alive (one shim per pod), and the cost of polling
/// Stats once per task per second (as containerd 2.x does) with N tasks per runtime. See README.md.
/// </summary>
public static partial class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <param name="Binary">The shim executable's file name (what the process's argv[0] ends with).</param>
    private sealed record Runtime(string Name, string Type, string Handler, string Binary);

    private static readonly List<Runtime> Runtimes =
    [
        new("csrt", PrivateContainerd.CsrtRuntime, "csrt", "containerd-shim-csrt-v2"),
        new("runc", PrivateContainerd.RuncRuntime, "runc", "containerd-shim-runc-v2"),
    ];

    /// <summary>--compare: a second csrt build, runtime type io.containerd.csrtb.v2.</summary>
    private static readonly Runtime CompareRuntime = new("csrt-b", "io.containerd.csrtb.v2", "csrtb", "containerd-shim-csrtb-v2");

    private sealed class Options
    {
        public int Runs = 30;
        public int ExecRuns = 30;
        public int Cycles = 20;
        public int Pods = 20;
        public int MemRounds = 2;
        public int Warmup = 3;
        public int StatsTasks = 20;
        public int StatsRounds = 30;
        public int StatsIdle = 10;
        public int DirectGap = 20;
        public string StatsVia = "ttrpc";
        public string? BinDir;
        public string Out = ".";
        public string Only = "run,exec,direct,cri,mem,stats";
        public bool Hold;
        public bool Debug;
        public string? CompareDir;
    }

    public static int Main(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--runs": o.Runs = int.Parse(Next(), Inv); break;
                case "--exec-runs": o.ExecRuns = int.Parse(Next(), Inv); break;
                case "--cycles": o.Cycles = int.Parse(Next(), Inv); break;
                case "--pods": o.Pods = int.Parse(Next(), Inv); break;
                case "--mem-rounds": o.MemRounds = int.Parse(Next(), Inv); break;
                case "--warmup": o.Warmup = int.Parse(Next(), Inv); break;
                case "--stats-tasks": o.StatsTasks = int.Parse(Next(), Inv); break;
                case "--stats-rounds": o.StatsRounds = int.Parse(Next(), Inv); break;
                case "--stats-idle": o.StatsIdle = int.Parse(Next(), Inv); break;
                case "--direct-gap": o.DirectGap = int.Parse(Next(), Inv); break;
                case "--stats-via":
                    o.StatsVia = Next();
                    if (o.StatsVia is not ("ttrpc" or "cri"))
                        throw new ArgumentException($"--stats-via takes ttrpc or cri, not '{o.StatsVia}'");
                    break;
                case "--bin": o.BinDir = Path.GetFullPath(Next()); break;
                case "--out": o.Out = Path.GetFullPath(Next()); break;
                case "--only": o.Only = Next(); break;
                case "--hold": o.Hold = true; break;
                case "--debug": o.Debug = true; break;
                case "--compare": o.CompareDir = Path.GetFullPath(Next()); break;
                default:
                    Console.Error.WriteLine($"shim-bench: unknown argument {args[i]}");
                    return 2;
            }
        }
        Directory.CreateDirectory(o.Out);
        var bench = new Bench(o);
        return bench.Run();
    }


    private static void Log(string message) =>
        Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    private sealed partial class Bench(Options o)
    {
        private readonly Dictionary<string, List<double>> _samples = new(StringComparer.Ordinal);
        private readonly List<string> _memRows = new();
        private readonly StringBuilder _summary = new();
        private PrivateContainerd _ctd = null!;
        private CpuAccount? _cpu;
        private int _seq;

        private string NewId(string prefix) => $"{prefix}-{Environment.ProcessId}-{_seq++}";

        public int Run()
        {
            var shim = Path.Combine(o.BinDir ?? RepoPaths.BinDir, "containerd-shim-csrt-v2");
            RepoPaths.RequireBinary(shim);
            Log($"shim under test: {shim} ({new FileInfo(shim).Length} bytes)");
            var binDir = o.BinDir;
            string? extraToml = null;
            if (o.CompareDir is { } compare)
            {
                // Both builds as copies in one directory on containerd's PATH, so that the daemons
                // they re-execute (from /proc/self/exe) can be told apart by their path.
                binDir = Directory.CreateTempSubdirectory("csrt-shim-bench-").FullName;
                File.Copy(shim, Path.Combine(binDir, "containerd-shim-csrt-v2"));
                File.Copy(RepoPaths.RequireBinary(Path.Combine(compare, "containerd-shim-csrt-v2")), Path.Combine(binDir, CompareRuntime.Binary));
                File.SetUnixFileMode(Path.Combine(binDir, "containerd-shim-csrt-v2"), (UnixFileMode)0x1ed);
                File.SetUnixFileMode(Path.Combine(binDir, CompareRuntime.Binary), (UnixFileMode)0x1ed);
                Runtimes.Insert(1, CompareRuntime);
                extraToml = $"[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.{CompareRuntime.Handler}]\n  runtime_type = \"{CompareRuntime.Type}\"";
                Log($"compared with: {compare}/containerd-shim-csrt-v2 as {CompareRuntime.Name}");
            }
            _shimPaths["csrt"] = shim;
            _shimPaths["runc"] = Commands.RunOk("/bin/sh", "-c", "command -v containerd-shim-runc-v2").Trim();
            if (binDir is not null && o.CompareDir is not null)
                _shimPaths[CompareRuntime.Name] = Path.Combine(binDir, CompareRuntime.Binary);
            var loadBefore = File.ReadAllText("/proc/loadavg").Trim();
            var clock = Stopwatch.StartNew();
            _ctd = PrivateContainerd.Start(new PrivateContainerdOptions { BinDir = binDir, LogLevel = o.Debug ? "debug" : "info", ExtraToml = extraToml });
            try
            {
                Log($"private containerd in slot {_ctd.Slot} ({_ctd.Address})");
                _cpu = CpuAccount.Create(_ctd.Pid, "csrt-shim-bench-" + _ctd.Slot.ToString(Inv), Log);
                var phases = o.Only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (phases.Contains("run"))
                    RunPhase();
                if (phases.Contains("exec"))
                    ExecPhase();
                if (phases.Contains("direct"))
                    DirectPhase();
                if (phases.Contains("cri"))
                    CriPhase();
                if (phases.Contains("mem"))
                    MemoryPhase();
                if (phases.Contains("stats"))
                    StatsPhase();
                if (o.Hold)
                {
                    // For profiling by hand: the containerd stays up until stdin reaches EOF.
                    Console.Out.WriteLine($"containerd: {_ctd.Address} (slot {_ctd.Slot}, log {_ctd.LogPath}); close stdin to stop");
                    Console.In.ReadToEnd();
                }
            }
            finally
            {
                _ctd.Dispose();
                _cpu?.Dispose();
                if (o.CompareDir is not null && binDir is not null)
                    Directory.Delete(binDir, recursive: true);
            }
            var loadAfter = File.ReadAllText("/proc/loadavg").Trim();
            WriteResults(shim, loadBefore, loadAfter, clock.Elapsed);
            return 0;
        }

        private static void Log(string message) => Program.Log(message);

        private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);

        private void Fail(string key, string what)
        {
            _failures[key] = _failures.GetValueOrDefault(key) + 1;
            Log($"{key} failed: {what}");
        }

        private void Add(string key, double value)
        {
            if (!_samples.TryGetValue(key, out var list))
                _samples[key] = list = new List<double>();
            list.Add(value);
        }

        /// <summary>Pass i runs the runtimes in order for even i, reversed for odd i (A B B A A B …;
        /// with three, A B C C B A …).</summary>
        private static IEnumerable<Runtime> Order(int i) => i % 2 == 0 ? Runtimes : Enumerable.Reverse(Runtimes);

        private double Cpu() => _cpu?.Milliseconds() ?? double.NaN;

        /// <summary>CPU time of containerd's own threads (schedstat, ns), to split it from its children's.</summary>
        private double ContainerdCpu()
        {
            double ns = 0;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{_ctd.Pid}/task"))
            {
                try
                {
                    ns += double.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], Inv);
                }
                catch (IOException)
                {
                    // The thread ended meanwhile.
                }
            }
            return ns / 1e6;
        }

        /// <summary>Runs ctr; wall time and the CPU time containerd and its shims spent meanwhile,
        /// recorded as "&lt;key&gt;-cpu" and "&lt;key&gt;-shimcpu" (without containerd's own threads).</summary>
        private double TimeCtr(string key, bool record, params string[] args)
        {
            var cpu = Cpu();
            var own = ContainerdCpu();
            var sw = Stopwatch.StartNew();
            var r = _ctd.Ctr(args);
            var ms = sw.Elapsed.TotalMilliseconds;
            cpu = Cpu() - cpu;
            own = ContainerdCpu() - own;
            if (!r.Succeeded)
            {
                // Counted and reported, not fatal: one flaky run should not void the others.
                Fail(key, r.ToString());
                return double.NaN;
            }
            if (record)
            {
                var (name, runtime) = (key[..key.IndexOf('/')], key[(key.IndexOf('/') + 1)..]);
                Add(key, ms);
                Add($"{name}-cpu/{runtime}", cpu);
                Add($"{name}-shimcpu/{runtime}", cpu - own);
            }
            return ms;
        }

        // ---- ctr run --rm … /bin/true -------------------------------------------------------

        private void RunPhase()
        {
            Log($"ctr run --rm /bin/true: {o.Warmup} warm-up + {o.Runs} runs per runtime, interleaved");
            for (var i = 0; i < o.Warmup + o.Runs; i++)
            {
                foreach (var rt in Order(i))
                {
                    TimeCtr($"run/{rt.Name}", i >= o.Warmup, "run", "--rm", "--runtime", rt.Type, TestImages.BusyboxImage, NewId("run-" + rt.Name), "/bin/true");
                }
            }
        }

        // ---- ctr task exec … /bin/true ------------------------------------------------------

        private void ExecPhase()
        {
            Log($"ctr task exec /bin/true: {o.Warmup} warm-up + {o.ExecRuns} execs per runtime, interleaved");
            var hosts = new Dictionary<string, string>();
            foreach (var rt in Runtimes)
            {
                var id = NewId("exec-" + rt.Name);
                _ctd.CtrOk("run", "-d", "--runtime", rt.Type, TestImages.BusyboxImage, id, "sleep", "1000000");
                hosts[rt.Name] = id;
            }
            try
            {
                for (var i = 0; i < o.Warmup + o.ExecRuns; i++)
                {
                    foreach (var rt in Order(i))
                    {
                        TimeCtr($"exec/{rt.Name}", i >= o.Warmup, "task", "exec", "--exec-id", "x" + i.ToString(Inv), hosts[rt.Name], "/bin/true");
                    }
                }
            }
            finally
            {
                foreach (var id in hosts.Values)
                    RemoveTask(id);
            }
        }

        private void RemoveTask(string id)
        {
            _ctd.Ctr("task", "kill", "-s", "SIGKILL", id);
            for (var i = 0; i < 100; i++)
            {
                var d = _ctd.Ctr("task", "delete", id);
                if (d.Succeeded || d.Stderr.Contains("not found", StringComparison.Ordinal))
                    break;
                Thread.Sleep(50);
            }
            _ctd.Ctr("container", "delete", id);
        }

        // ---- CRI pod cycle --------------------------------------------------------------------

        private PodSandboxConfig SandboxConfig(string name) => new()
        {
            Metadata = new PodSandboxMetadata { Name = name, Namespace = "bench", Uid = name, Attempt = 1 },
            Hostname = "bench",
            LogDirectory = Path.Combine(_ctd.Dir, "pod-logs", name),
            Linux = new LinuxPodSandboxConfig(),
        };

        private static ContainerConfig ContainerConfig(string command) => new()
        {
            Metadata = new ContainerMetadata { Name = "c" },
            Image = new ImageSpec { Image = TestImages.BusyboxImage },
            Command = { "sh", "-c", command },
            LogPath = "c.log",
            Linux = new LinuxContainerConfig(),
        };

        private void CriPhase()
        {
            Log($"CRI pod cycle: {o.Warmup} warm-up + {o.Cycles} cycles per runtime, interleaved");
            using var channel = _ctd.OpenGrpcChannel();
            var cri = new RuntimeService.RuntimeServiceClient(channel);
            for (var i = 0; i < o.Warmup + o.Cycles; i++)
            {
                foreach (var rt in Order(i))
                {
                    // No -shimcpu here: CRI's network setup ends containerd threads (LockOSThread),
                    // and an ended thread's CPU time leaves the per-thread sum.
                    var cpu = Cpu();
                    List<(string Step, double Ms)> steps;
                    try
                    {
                        steps = PodCycle(cri, rt);
                    }
                    catch (Grpc.Core.RpcException e)
                    {
                        Fail($"cri/{rt.Name}", e.Status.ToString());
                        continue;
                    }
                    cpu = Cpu() - cpu;
                    if (i < o.Warmup)
                        continue;
                    Add($"cri-cpu/{rt.Name}", cpu);
                    foreach (var (step, ms) in steps)
                        Add($"cri-{step}/{rt.Name}", ms);
                    Add($"cri/{rt.Name}", steps.Sum(s => s.Ms));
                }
            }
        }

        private List<(string Step, double Ms)> PodCycle(RuntimeService.RuntimeServiceClient cri, Runtime rt)
        {
            var steps = new List<(string, double)>();
            var sw = Stopwatch.StartNew();
            void Step(string name)
            {
                steps.Add((name, sw.Elapsed.TotalMilliseconds));
                sw.Restart();
            }
            var name = NewId("pod-" + rt.Name);
            var config = SandboxConfig(name);
            var pod = cri.RunPodSandbox(new RunPodSandboxRequest { Config = config, RuntimeHandler = rt.Handler }).PodSandboxId;
            Step("runpod");
            var c = cri.CreateContainer(new CreateContainerRequest { PodSandboxId = pod, SandboxConfig = config, Config = ContainerConfig("sleep 3600") }).ContainerId;
            Step("create");
            cri.StartContainer(new StartContainerRequest { ContainerId = c });
            Step("start");
            cri.StopContainer(new StopContainerRequest { ContainerId = c, Timeout = 0 });
            Step("stop");
            cri.RemoveContainer(new RemoveContainerRequest { ContainerId = c });
            Step("remove");
            cri.StopPodSandbox(new StopPodSandboxRequest { PodSandboxId = pod });
            Step("stoppod");
            cri.RemovePodSandbox(new RemovePodSandboxRequest { PodSandboxId = pod });
            Step("removepod");
            return steps;
        }

        // ---- memory with N pods alive ----------------------------------------------------------

        private void MemoryPhase()
        {
            Log($"memory: {o.Pods} pods alive per runtime, {o.MemRounds} rounds, interleaved");
            using var channel = _ctd.OpenGrpcChannel();
            var cri = new RuntimeService.RuntimeServiceClient(channel);
            for (var round = 0; round < o.MemRounds; round++)
            {
                foreach (var rt in Order(round))
                    MemoryRound(cri, rt, round);
            }
        }

        private void MemoryRound(RuntimeService.RuntimeServiceClient cri, Runtime rt, int round)
        {
            var pods = new List<string>();
            var containers = new List<string>();
            try
            {
                for (var i = 0; i < o.Pods; i++)
                {
                    var config = SandboxConfig(NewId("mem-" + rt.Name));
                    var pod = cri.RunPodSandbox(new RunPodSandboxRequest { Config = config, RuntimeHandler = rt.Handler }).PodSandboxId;
                    pods.Add(pod);
                    var c = cri.CreateContainer(new CreateContainerRequest { PodSandboxId = pod, SandboxConfig = config, Config = ContainerConfig("sleep 3600") }).ContainerId;
                    cri.StartContainer(new StartContainerRequest { ContainerId = c });
                    containers.Add(c);
                }
                Thread.Sleep(2000);
                Sample(rt, round, "idle", o.Pods);
                // What a kubelet does to a live pod: stats every few seconds, the odd exec probe.
                foreach (var c in containers)
                {
                    var r = cri.ExecSync(new ExecSyncRequest { ContainerId = c, Cmd = { "/bin/true" }, Timeout = 30 });
                    if (r.ExitCode != 0)
                        throw new InvalidOperationException($"ExecSync /bin/true in {c} exited {r.ExitCode}");
                    for (var k = 0; k < 5; k++)
                        cri.ContainerStats(new ContainerStatsRequest { ContainerId = c });
                }
                Thread.Sleep(2000);
                Sample(rt, round, "busy", o.Pods);
                // Long-lived pods spend most of their life here: quiet for longer than the
                // csrt shim's 3 s memory-trim period.
                Thread.Sleep(8000);
                Sample(rt, round, "settled", o.Pods);
            }
            finally
            {
                foreach (var c in containers)
                {
                    cri.StopContainer(new StopContainerRequest { ContainerId = c, Timeout = 0 });
                    cri.RemoveContainer(new RemoveContainerRequest { ContainerId = c });
                }
                foreach (var p in pods)
                {
                    cri.StopPodSandbox(new StopPodSandboxRequest { PodSandboxId = p });
                    cri.RemovePodSandbox(new RemovePodSandboxRequest { PodSandboxId = p });
                }
            }
        }

        /// <summary>Every shim of this containerd with the runtime's binary: its VmRSS, Pss (and
        /// the anon/file/shmem split), threads, and the memfd bytes it holds open (not in RSS).</summary>
        private void Sample(Runtime rt, int round, string when, int pods)
        {
            var shims = ShimPids(rt);
            if (shims.Count != pods)
                Log($"warning: {shims.Count} {rt.Binary} processes with {pods} pods (expected one per pod)");
            foreach (var pid in shims)
            {
                var status = Measures.KeyValues($"/proc/{pid}/status");
                var rollup = Measures.KeyValues($"/proc/{pid}/smaps_rollup");
                var memfd = MemfdBytes(pid);
                double Kb(Dictionary<string, string> d, string key) => Measures.Kb(d, key, double.NaN);
                var rss = Kb(status, "VmRSS") / 1024;
                var pss = Kb(rollup, "Pss") / 1024;
                Add($"mem-{when}-rss/{rt.Name}", rss);
                Add($"mem-{when}-pss/{rt.Name}", pss);
                Add($"mem-{when}-pss-anon/{rt.Name}", Kb(rollup, "Pss_Anon") / 1024);
                Add($"mem-{when}-pss-file/{rt.Name}", Kb(rollup, "Pss_File") / 1024);
                Add($"mem-{when}-private/{rt.Name}", (Kb(rollup, "Private_Clean") + Kb(rollup, "Private_Dirty")) / 1024);
                Add($"mem-{when}-threads/{rt.Name}", Kb(status, "Threads"));
                Add($"mem-{when}-memfd/{rt.Name}", memfd / 1024.0 / 1024);
                _memRows.Add(string.Join(',', rt.Name, round.ToString(Inv), when, pid.ToString(Inv),
                    rss.ToString("0.000", Inv), pss.ToString("0.000", Inv), Kb(status, "Threads").ToString(Inv), (memfd / 1024.0 / 1024).ToString("0.000", Inv)));
            }
        }

        /// <summary>The shims of this containerd running the runtime's binary.</summary>
        private List<int> ShimPids(Runtime rt)
        {
            var binary = "/" + rt.Binary;
            return HostState.ProcessesWithArgument(_ctd.Address)
                .Where(p => HostState.CommandLine(p) is { Count: > 0 } a && a[0].EndsWith(binary, StringComparison.Ordinal))
                .ToList();
        }

        // ---- Stats once per task per second ---------------------------------------------------

        /// <summary>
        /// containerd 2.x polls one Stats per task per second. N pods per runtime (one shim each,
        /// a pause sandbox and one <c>sleep</c> container); every second, one Stats per container,
        /// the runtimes interleaved: with --stats-via ttrpc (the default) straight to the shim's
        /// ttrpc socket over a connection kept open, as containerd does; with --stats-via cri as
        /// a CRI ContainerStats (containerd turns it into one Stats RPC to the shim). Per call: its latency, and the CPU time its shim spent, from
        /// /proc/&lt;pid&gt;/stat utime+stime (which keeps the time of ended threads, in clock
        /// ticks) and from the sum of the shim's threads' schedstat (nanoseconds, but loses the
        /// time of threads that end), over the recorded rounds. An idle window before the rounds
        /// gives each shim's CPU per second without Stats (timers, GC), to subtract.
        /// </summary>
        private void StatsPhase()
        {
            Log($"Stats via {o.StatsVia}: {o.StatsTasks} pods per runtime, {o.StatsIdle} s idle, {o.Warmup} warm-up + {o.StatsRounds} rounds of one Stats per container per second, interleaved");
            using var channel = _ctd.OpenGrpcChannel();
            var cri = new RuntimeService.RuntimeServiceClient(channel);
            var ttrpc = new Dictionary<string, (TtrpcChannel Channel, TaskService.TaskClient Client)>(StringComparer.Ordinal);
            var pods = new List<string>();
            var containers = Runtimes.ToDictionary(rt => rt.Name, _ => new List<string>(), StringComparer.Ordinal);
            try
            {
                for (var i = 0; i < o.StatsTasks; i++)
                {
                    foreach (var rt in Order(i))
                    {
                        var config = SandboxConfig(NewId("stats-" + rt.Name));
                        var pod = cri.RunPodSandbox(new RunPodSandboxRequest { Config = config, RuntimeHandler = rt.Handler }).PodSandboxId;
                        pods.Add(pod);
                        var c = cri.CreateContainer(new CreateContainerRequest { PodSandboxId = pod, SandboxConfig = config, Config = ContainerConfig("sleep 3600") }).ContainerId;
                        cri.StartContainer(new StartContainerRequest { ContainerId = c });
                        containers[rt.Name].Add(c);
                    }
                }
                var shims = Runtimes.ToDictionary(rt => rt.Name, ShimPids, StringComparer.Ordinal);
                foreach (var rt in Runtimes)
                {
                    if (shims[rt.Name].Count != o.StatsTasks)
                        throw new InvalidOperationException($"{shims[rt.Name].Count} {rt.Binary} processes with {o.StatsTasks} pods (expected one per pod)");
                }
                if (o.StatsVia == "ttrpc")
                {
                    foreach (var c in containers.Values.SelectMany(l => l))
                    {
                        var addressFile = Path.Combine(_ctd.BundleDir(c, PrivateContainerd.CriNamespace), "address");
                        var address = File.ReadAllText(addressFile).Trim();
                        var ch = TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(address)).GetAwaiter().GetResult();
                        ttrpc[c] = (ch, new TaskService.TaskClient(ch));
                    }
                }
                var tick = 1000.0 / double.Parse(Commands.Run("getconf", "CLK_TCK").Stdout.Trim(), Inv);
                Thread.Sleep(2000);

                var idle = Runtimes.ToDictionary(rt => rt.Name, rt => shims[rt.Name].Select(p => (Ticks: ShimTicks(p), Sched: ShimSchedMs(p))).ToList(), StringComparer.Ordinal);
                var idleClock = Stopwatch.StartNew();
                Thread.Sleep(TimeSpan.FromSeconds(o.StatsIdle));
                var idleSeconds = idleClock.Elapsed.TotalSeconds;
                foreach (var rt in Runtimes)
                {
                    for (var k = 0; k < shims[rt.Name].Count; k++)
                    {
                        var pid = shims[rt.Name][k];
                        Add($"stats-idlecpu/{rt.Name}", (ShimTicks(pid) - idle[rt.Name][k].Ticks) * tick / idleSeconds);
                        Add($"stats-idlecpu-sched/{rt.Name}", (ShimSchedMs(pid) - idle[rt.Name][k].Sched) / idleSeconds);
                    }
                }

                Dictionary<string, List<(long Ticks, double Sched)>>? before = null;
                var clock = Stopwatch.StartNew();
                for (var round = 0; round < o.Warmup + o.StatsRounds; round++)
                {
                    var wait = TimeSpan.FromSeconds(round) - clock.Elapsed;
                    if (wait > TimeSpan.Zero)
                        Thread.Sleep(wait);
                    if (round == o.Warmup)
                        before = Runtimes.ToDictionary(rt => rt.Name, rt => shims[rt.Name].Select(p => (ShimTicks(p), ShimSchedMs(p))).ToList(), StringComparer.Ordinal);
                    foreach (var rt in Order(round))
                    {
                        foreach (var c in containers[rt.Name])
                        {
                            var sw = Stopwatch.StartNew();
                            try
                            {
                                if (ttrpc.TryGetValue(c, out var shim))
                                {
                                    var r = shim.Client.Stats(new StatsRequest { Id = c }, new Grpc.Core.CallOptions(
                                        headers: new Grpc.Core.Metadata { { "containerd-namespace-ttrpc", PrivateContainerd.CriNamespace } },
                                        deadline: DateTime.UtcNow.AddSeconds(10)));
                                    if (r.Stats is null)
                                        throw new InvalidOperationException($"Stats of {c} ({rt.Name}) returned no metrics");
                                }
                                else
                                {
                                    cri.ContainerStats(new ContainerStatsRequest { ContainerId = c });
                                }
                            }
                            catch (Grpc.Core.RpcException e)
                            {
                                Fail($"stats/{rt.Name}", e.Status.ToString());
                                continue;
                            }
                            if (round >= o.Warmup)
                                Add($"stats/{rt.Name}", sw.Elapsed.TotalMilliseconds);
                        }
                    }
                }
                // The CPU window ends one second after the last round started, as it began at a
                // round's start: whole seconds, each with one call per shim.
                var end = TimeSpan.FromSeconds(o.Warmup + o.StatsRounds) - clock.Elapsed;
                if (end > TimeSpan.Zero)
                    Thread.Sleep(end);
                foreach (var rt in Runtimes)
                {
                    for (var k = 0; k < shims[rt.Name].Count; k++)
                    {
                        var pid = shims[rt.Name][k];
                        Add($"stats-shimcpu/{rt.Name}", (ShimTicks(pid) - before![rt.Name][k].Ticks) * tick / o.StatsRounds);
                        Add($"stats-shimcpu-sched/{rt.Name}", (ShimSchedMs(pid) - before[rt.Name][k].Sched) / o.StatsRounds);
                    }
                    Sample(rt, 0, "polled", o.StatsTasks);
                }
            }
            finally
            {
                foreach (var (ch, _) in ttrpc.Values)
                    ch.Dispose();
                foreach (var c in containers.Values.SelectMany(l => l))
                {
                    cri.StopContainer(new StopContainerRequest { ContainerId = c, Timeout = 0 });
                    cri.RemoveContainer(new RemoveContainerRequest { ContainerId = c });
                }
                foreach (var p in pods)
                {
                    cri.StopPodSandbox(new StopPodSandboxRequest { PodSandboxId = p });
                    cri.RemovePodSandbox(new RemovePodSandboxRequest { PodSandboxId = p });
                }
            }
        }

        /// <summary>utime + stime of the process (all its threads, ended ones included), clock ticks.</summary>
        private static long ShimTicks(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // comm may contain spaces and parentheses: the fields start after the last ')'.
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(rest[11], Inv) + long.Parse(rest[12], Inv);
        }

        /// <summary>CPU time of the process's live threads (schedstat), milliseconds.</summary>
        private static double ShimSchedMs(int pid)
        {
            double ns = 0;
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                try
                {
                    ns += double.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], Inv);
                }
                catch (IOException)
                {
                    // The thread ended meanwhile.
                }
            }
            return ns / 1e6;
        }

        /// <summary>Bytes of the memfds the process holds (sealed copies of a binary live there, outside RSS).</summary>
        private static long MemfdBytes(int pid)
        {
            long total = 0;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is null || !target.StartsWith("/memfd:", StringComparison.Ordinal))
                        continue;
                    if (Files.TryStat(fd) is { } st && seen.Add($"{st.Device}:{st.Inode}"))
                        total += st.Size;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            return total;
        }

        // ---- results ----------------------------------------------------------------------------

        private (double P50, double Mean, double Min, double P90, double Max, int N) Stats(string key)
        {
            if (!_samples.TryGetValue(key, out var list) || list.Count == 0)
                return (double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, 0);
            var s = list.OrderBy(x => x).ToList();
            return (Measures.Percentile(s, 0.5), s.Average(), s[0], Measures.Percentile(s, 0.9), s[^1], s.Count);
        }

        private void WriteResults(string shim, string loadBefore, string loadAfter, TimeSpan elapsed)
        {
            var sb = _summary;
            sb.Append(Inv, $"# shim benchmark {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC\n\n");
            sb.Append(Inv, $"- shim: `{shim}` ({new FileInfo(shim).Length} bytes)\n");
            if (o.CompareDir is { } compare)
                sb.Append(Inv, $"- csrt-b: `{compare}/containerd-shim-csrt-v2`\n");
            sb.Append(Inv, $"- machine: {Environment.ProcessorCount} CPUs, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, load average before `{loadBefore}`, after `{loadAfter}`\n");
            sb.Append(Inv, $"- {Tool("/usr/bin/containerd", "--version")}; {Tool("runc", "--version").Split('\n')[0]}\n");
            sb.Append(Inv, $"- phases {o.Only}; runs {o.Runs}, execs {o.ExecRuns}, CRI cycles {o.Cycles}, pods {o.Pods} × {o.MemRounds} rounds, Stats via {o.StatsVia} {o.StatsTasks} pods × {o.StatsRounds} rounds, warm-up {o.Warmup}; took {elapsed.TotalMinutes:0.0} min\n\n");

            sb.Append("*-cpu rows: CPU time of containerd and the processes it starts (shims, their start/delete runs, runc, a container's first steps) during the operation; -shimcpu: the same without containerd's own threads.*\n\n");
            sb.Append(Inv, $"*stats rows ({o.StatsTasks} pods per runtime, {o.StatsRounds} rounds, via {o.StatsVia}): `stats` the latency of one Stats (ttrpc: straight to the shim; cri: a CRI ContainerStats through containerd); `stats-shimcpu` per shim, its CPU time per second of polling (one Stats a second) from /proc/pid/stat utime+stime (clock ticks), `-sched` the same from its threads' schedstat; `stats-idlecpu` per shim, its CPU time per second over {o.StatsIdle} s without Stats.*\n\n");
            sb.Append("| latency (ms) | runtime | n | p50 | mean | min | p90 | max | /runc p50 | /runc mean |\n");
            sb.Append("|---|---|---|---|---|---|---|---|---|---|\n");
            var latencyKeys = new[] { "run", "run-cpu", "run-shimcpu", "exec", "exec-cpu", "exec-shimcpu", "direct-run", "direct-run-start", "direct-run-create", "direct-run-taskstart", "direct-run-exit", "direct-run-delete", "direct-run-shutdown", "direct-exec", "direct-exec-exec", "direct-exec-start", "direct-exec-exit", "direct-exec-delete", "cri", "cri-cpu", "cri-runpod", "cri-create", "cri-start", "cri-stop", "cri-remove", "cri-stoppod", "cri-removepod", "stats", "stats-shimcpu", "stats-shimcpu-sched", "stats-idlecpu", "stats-idlecpu-sched" };
            foreach (var k in latencyKeys)
            {
                var b = Stats($"{k}/runc");
                foreach (var rt in Runtimes)
                {
                    var s = Stats($"{k}/{rt.Name}");
                    if (s.N == 0)
                        continue;
                    var ratio = rt.Name != "runc" ? $"{s.P50 / b.P50:0.00} | {s.Mean / b.Mean:0.00}" : " | ";
                    // Stats calls cost fractions of a millisecond.
                    var f = k.StartsWith("stats", StringComparison.Ordinal) ? "0.000" : "0.0";
                    sb.Append(Inv, $"| {k} | {rt.Name} | {s.N} | {s.P50.ToString(f, Inv)} | {s.Mean.ToString(f, Inv)} | {s.Min.ToString(f, Inv)} | {s.P90.ToString(f, Inv)} | {s.Max.ToString(f, Inv)} | {ratio} |\n");
                }
            }
            sb.Append('\n');
            SharedPart(sb);
            if (_memRows.Count > 0)
            {
                sb.Append("| memory per shim | runtime | n | p50 | mean | min | max |\n|---|---|---|---|---|---|---|\n");
                foreach (var when in new[] { "idle", "busy", "settled", "polled" })
                {
                    foreach (var m in new[] { "rss", "pss", "pss-anon", "pss-file", "private", "threads", "memfd" })
                    {
                        foreach (var rt in Runtimes)
                        {
                            var s = Stats($"mem-{when}-{m}/{rt.Name}");
                            if (s.N == 0)
                                continue;
                            var unit = m == "threads" ? "" : " MB";
                            sb.Append(Inv, $"| {when} {m}{unit} | {rt.Name} | {s.N} | {s.P50:0.00} | {s.Mean:0.00} | {s.Min:0.00} | {s.Max:0.00} |\n");
                        }
                    }
                }
                sb.Append('\n');
            }
            sb.Append(_failures.Count == 0 ? "Failed operations: none.\n" : "Failed operations (not in the figures): " + string.Join(", ", _failures.Select(f => $"{f.Key} {f.Value}")) + "\n");
            File.WriteAllText(Path.Combine(o.Out, "summary.md"), sb.ToString());
            using (var w = new StreamWriter(Path.Combine(o.Out, "samples.csv")))
            {
                w.WriteLine("metric,runtime,index,value");
                foreach (var (key, list) in _samples)
                {
                    var slash = key.LastIndexOf('/');
                    for (var i = 0; i < list.Count; i++)
                        w.WriteLine($"{key[..slash]},{key[(slash + 1)..]},{i},{list[i].ToString("0.000", Inv)}");
                }
            }
            File.WriteAllLines(Path.Combine(o.Out, "memory.csv"), _memRows.Prepend("runtime,round,when,pid,rss_mb,pss_mb,threads,memfd_mb"));
            Console.Out.Write(sb.ToString());
        }

        /// <summary>
        /// The part of a ctr command that is not the shim's: the ctr row minus the direct row of
        /// the same runtime, both from this run. With that part S_c for csrt and the Go shim's
        /// ctr total T_r, a shim that took no time at all would give S_c ÷ T_r: the best ratio any
        /// shim can reach through containerd and ctr.
        /// </summary>
        private void SharedPart(StringBuilder sb)
        {
            var pairs = new[] { ("run", "direct-run"), ("exec", "direct-exec") };
            if (!pairs.Any(p => Stats($"{p.Item1}/runc").N > 0 && Stats($"{p.Item2}/runc").N > 0))
                return;
            sb.Append("*shared part: the ctr row minus the direct row (the same task API calls straight to the shim), per runtime; floor = csrt's shared part ÷ the Go shim's ctr total, the ratio a shim taking no time would get; shim budget = 0.5 × the Go shim's ctr total − csrt's shared part, the time csrt's shim may take for ≤ 0.5×.*\n\n");
            sb.Append("| ctr command | runtime | ctr p50 | direct p50 | shared p50 | ctr mean | direct mean | shared mean | shim share of ctr p50 | floor p50 | floor mean | shim budget p50 |\n");
            sb.Append("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
            foreach (var (ctr, direct) in pairs)
            {
                var tr = Stats($"{ctr}/runc");
                foreach (var rt in Runtimes)
                {
                    var t = Stats($"{ctr}/{rt.Name}");
                    var d = Stats($"{direct}/{rt.Name}");
                    if (t.N == 0 || d.N == 0 || tr.N == 0)
                        continue;
                    var extra = rt.Name != "runc"
                        ? $"{(t.P50 - d.P50) / tr.P50:0.00} | {(t.Mean - d.Mean) / tr.Mean:0.00} | {0.5 * tr.P50 - (t.P50 - d.P50):0.0}"
                        : " | | ";
                    sb.Append(Inv, $"| {ctr} | {rt.Name} | {t.P50:0.0} | {d.P50:0.0} | {t.P50 - d.P50:0.0} | {t.Mean:0.0} | {d.Mean:0.0} | {t.Mean - d.Mean:0.0} | {d.P50 / t.P50:0.00} | {extra} |\n");
                }
            }
            sb.Append('\n');
        }

        private static string Tool(string file, params string[] args)
        {
            try
            {
                return Commands.Run(file, args).Stdout.Trim();
            }
            catch (Exception e)
            {
                return $"{file}: {e.Message}";
            }
        }
    }
}
