using System.Globalization;
using System.Text;
using Csrt.IntegrationTests.Fixtures;
using static Csrt.Bench.Scale.Program;

namespace Csrt.Bench.Scale;

/// <summary>Writes the CSV files (the data the charts are drawn from) and summary.md (the tables
/// and the targets of issue 14) into the output directory.</summary>
internal sealed class Report(Options o, List<PodStart> pods, List<Memory> memory, List<ListCall> lists, List<Teardown> teardowns, List<Failure> failures, List<PhaseCpu> phaseCpu)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Pods whose start is averaged at each end of the sequential phase, to compare the first pods with the last.</summary>
    private const int EdgePods = 10;

    /// <summary>The passes run, numbered across the network modes.</summary>
    private readonly List<PassInfo> _passes = Passes(o);

    public void Write(string shim, string loadBefore, string loadAfter, TimeSpan elapsed)
    {
        WriteCsvs();
        var md = Summary(shim, loadBefore, loadAfter, elapsed);
        File.WriteAllText(Path.Combine(o.Out, "summary.md"), md);
        Console.Out.Write(md);
    }

    private static string F(double v, string format = "0.000") => double.IsNaN(v) ? "" : v.ToString(format, Inv);

    private static string Csv(string s) => s.Contains(',') || s.Contains('"') || s.Contains('\n') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    private void WriteCsvs()
    {
        static void Lines(string path, string header, IEnumerable<string> rows) => File.WriteAllLines(path, rows.Prepend(header));
        Lines(Path.Combine(o.Out, "pods.csv"), "pass,handler,phase,index,runpod_ms,create_ms,start_ms,podstart_ms,ok,cpu_ms,containerd_cpu_ms,containerd_children_cpu_ms,network,shim_cpu_ms,sys_cpu_ms",
            pods.OrderBy(p => p.Pass).ThenBy(p => p.Phase, StringComparer.Ordinal).ThenBy(p => p.Index)
                .Select(p => string.Create(Inv, $"{p.Pass},{p.Handler},{p.Phase},{p.Index},{F(p.RunPodMs)},{F(p.CreateMs)},{F(p.StartMs)},{F(p.PodStartMs)},{(p.Ok ? 1 : 0)},{F(p.CpuMs)},{F(p.ContainerdCpuMs, "0")},{F(p.ContainerdChildrenCpuMs, "0")},{p.Network},{F(p.ShimCpuMs, "0")},{F(p.SysCpuMs, "0")}")));
        Lines(Path.Combine(o.Out, "memory.csv"), "pass,handler,phase,pods,when,shims,shim_pss_mb,shim_pss_anon_mb,shim_pss_file_mb,shim_rss_mb,shim_private_mb,containerd_rss_mb,containerd_pss_mb,containerd_cpu_ms,containerd_children_cpu_ms,shims_cpu_ms,network",
            memory.Select(m => string.Create(Inv, $"{m.Pass},{m.Handler},{m.Phase},{m.Pods},{m.When},{m.Shims},{F(m.ShimPssMb)},{F(m.ShimPssAnonMb)},{F(m.ShimPssFileMb)},{F(m.ShimRssMb)},{F(m.ShimPrivateMb)},{F(m.ContainerdRssMb)},{F(m.ContainerdPssMb)},{F(m.ContainerdCpuMs, "0")},{F(m.ContainerdChildrenCpuMs, "0")},{F(m.ShimsCpuMs, "0")},{m.Network}")));
        Lines(Path.Combine(o.Out, "lists.csv"), "pass,handler,phase,pods,call,rep,ms,items,error,network",
            lists.Select(l => string.Create(Inv, $"{l.Pass},{l.Handler},{l.Phase},{l.Pods},{l.Call},{l.Rep},{F(l.Ms)},{l.Items},{Csv(l.Error)},{l.Network}")));
        Lines(Path.Combine(o.Out, "teardown.csv"), "pass,handler,phase,pods,total_ms,per_pod_ms,failures,shims_left,shims_gone_ms,network",
            teardowns.Select(t => string.Create(Inv, $"{t.Pass},{t.Handler},{t.Phase},{t.Pods},{F(t.TotalMs, "0.0")},{F(t.TotalMs / t.Pods)},{t.Failures},{t.ShimsLeft},{F(t.ShimsGoneMs, "0.0")},{t.Network}")));
        Lines(Path.Combine(o.Out, "cpu.csv"), "pass,handler,phase,pods,cpu_ms,cpu_per_pod_ms,network",
            phaseCpu.Select(c => string.Create(Inv, $"{c.Pass},{c.Handler},{c.Phase},{c.Pods},{F(c.CpuMs, "0.0")},{F(c.CpuMs / c.Pods)},{c.Network}")));
        Lines(Path.Combine(o.Out, "failures.csv"), "pass,handler,phase,index,op,error,network",
            failures.OrderBy(f => f.Pass).ThenBy(f => f.Index).Select(f => string.Create(Inv, $"{f.Pass},{f.Handler},{f.Phase},{f.Index},{f.Op},{Csv(f.Error)},{f.Network}")));
    }

    /// <summary>A pod start's CPU in containerd's cgroup that is neither containerd's, its reaped children's nor the pod's own shim's.</summary>
    private static double Others(PodStart p) => p.CpuMs - p.ContainerdCpuMs - p.ContainerdChildrenCpuMs - p.ShimCpuMs;

    private static double Mean(IEnumerable<double> values)
    {
        var l = values.Where(v => !double.IsNaN(v)).ToList();
        return l.Count == 0 ? double.NaN : l.Average();
    }

    private List<PodStart> Ok(int pass, string phase) =>
        pods.Where(p => p.Pass == pass && p.Phase == phase && p.Ok).OrderBy(p => p.Index).ToList();

    private IEnumerable<string> PhasesRun => pods.Select(p => p.Phase).Distinct().OrderByDescending(p => p == "seq");

    /// <summary>Mean start of the first and of the last <see cref="EdgePods"/> pods of a phase, by their index.</summary>
    private (double First, double Last) Edges(int pass, string phase, Func<PodStart, double>? value = null)
    {
        value ??= p => p.PodStartMs;
        var ok = Ok(pass, phase);
        var n = Math.Min(EdgePods, ok.Count / 2);
        if (n == 0)
            return (double.NaN, double.NaN);
        return (Mean(ok.Take(n).Select(value)), Mean(ok.TakeLast(n).Select(value)));
    }

    /// <summary>Least-squares slope of a per-pod value against the pod's index (ms per pod): every
    /// pod weighs in, so one slow pod at either end moves it less than the first/last means.</summary>
    private double Slope(int pass, string phase, Func<PodStart, double> value)
    {
        var points = Ok(pass, phase).Select(p => (X: (double)p.Index, Y: value(p))).Where(p => !double.IsNaN(p.Y)).ToList();
        if (points.Count < 2)
            return double.NaN;
        var mx = points.Average(p => p.X);
        var my = points.Average(p => p.Y);
        var sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        return sxx == 0 ? double.NaN : points.Sum(p => (p.X - mx) * (p.Y - my)) / sxx;
    }

    private string Summary(string shim, string loadBefore, string loadAfter, TimeSpan elapsed)
    {
        var sb = new StringBuilder();
        sb.Append(Inv, $"# scale benchmark {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC\n\n");
        sb.Append(Inv, $"- csrt shim: `{shim}` ({new FileInfo(shim).Length} bytes)\n");
        sb.Append(Inv, $"- machine: {Environment.ProcessorCount} CPUs, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, load average before `{loadBefore}`, after `{loadAfter}`\n");
        sb.Append(Inv, $"- {Tool(PrivateContainerd.ContainerdBinary, "--version")}; {Tool("runc", "--version").Split('\n')[0]}\n");
        sb.Append(Inv, $"- order {string.Join(", ", o.Order)}, network {string.Join(", ", o.Networks)} (passes {string.Join(", ", _passes.Select(p => $"{p.Index} {p.Handler} {p.Network}"))}); {o.Pods} pods per phase (seq: one after another; conc: {o.Concurrency} in flight); checkpoints {string.Join(", ", o.Checkpoints)}; {o.ListReps} calls of each list per checkpoint; settle {o.SettleSeconds} s; took {elapsed.TotalMinutes:0.0} min\n\n");
        sb.Append(Inv, $"*Pod start = RunPodSandbox + CreateContainer + StartContainer of one pod, as its client saw them. First/last = mean pod start of the first and of the last {EdgePods} pods of the phase (by start order). Memory is summed over every containerd-shim-* process of the private containerd (one per pod), `fresh` right after the checkpoint's pod started, `settled` {o.SettleSeconds} s later.*\n\n");

        sb.Append("## Pod start (ms)\n\n");
        sb.Append("*network: `cni`, the pod's own network namespace set up by the CNI bridge plugin; `host`, the node's (a hostNetwork pod: no netns, no CNI plugin run).*\n\n");
        sb.Append("| pass | handler | network | phase | ok | RunPodSandbox p50 | CreateContainer p50 | StartContainer p50 | pod start p50 | p90 | p99 | max | first 10 | last 10 | last ÷ first |\n");
        sb.Append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var (pass, handler, network) in _passes)
        {
            foreach (var phase in PhasesRun)
            {
                var ok = Ok(pass, phase);
                var all = pods.Count(p => p.Pass == pass && p.Phase == phase);
                var starts = ok.Select(p => p.PodStartMs).ToList();
                var (first, last) = Edges(pass, phase);
                sb.Append(Inv, $"| {pass} | {handler} | {network} | {phase} | {ok.Count}/{all} | {Measures.Percentile(ok.Select(p => p.RunPodMs), 0.5):0.0} | {Measures.Percentile(ok.Select(p => p.CreateMs), 0.5):0.0} | {Measures.Percentile(ok.Select(p => p.StartMs), 0.5):0.0} | {Measures.Percentile(starts, 0.5):0.0} | {Measures.Percentile(starts, 0.9):0.0} | {Measures.Percentile(starts, 0.99):0.0} | {Measures.Percentile(starts, 1):0.0} | {first:0.0} | {last:0.0} | {last / first:0.00} |\n");
            }
        }

        NetworkShare(sb);

        sb.Append("\n## CPU of containerd and its children per pod start (ms)\n\n");
        sb.Append("*From a cpuacct cgroup containerd is moved into (its shims, CNI plugins, runc; not the containers once in their own cgroups). seq: per pod; conc: the phase's starts ÷ pods. Less moved by other load than the latencies, not immune to it (a loaded CPU runs the same work slower).*\n\n");
        sb.Append("| pass | handler | network | phase | per pod, mean | p50 | p90 | first 10 | last 10 | last ÷ first | growth per 100 pods (least squares) |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var c in phaseCpu)
        {
            var per = Ok(c.Pass, c.Phase).Select(p => p.CpuMs).ToList();
            var (first, last) = Edges(c.Pass, c.Phase, p => p.CpuMs);
            string D(double v, string format = "0.0") => double.IsNaN(v) ? "–" : v.ToString(format, Inv);
            sb.Append(Inv, $"| {c.Pass} | {c.Handler} | {c.Network} | {c.Phase} | {D(c.CpuMs / c.Pods)} | {D(Measures.Percentile(per, 0.5))} | {D(Measures.Percentile(per, 0.9))} | {D(first)} | {D(last)} | {D(last / first, "0.00")} | {D(Slope(c.Pass, c.Phase, p => p.CpuMs) * 100)} |\n");
        }

        sb.Append("\n*Growth per 100 pods (least squares over the seq phase, ms of CPU per pod start), split: containerd's own threads, the children it reaped (CNI plugins, shim `start`), the rest (shims, runc), and of the rest the pod's own shim (with the runc runs it reaped) and the others (the shims already running, container processes before they leave containerd's cgroup). Mean per pod start in the last columns. Kernel: the part of containerd's, its children's and the own shim's CPU spent in the kernel (stime).*\n\n");
        sb.Append("| pass | handler | network | all | containerd | its children | shims | … the pod's own shim | … the others | kernel | mean per pod: the pod's own shim | … the others | … kernel |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var (pass, handler, network) in _passes)
        {
            if (Ok(pass, "seq").Count < 2)
                continue;
            string G(Func<PodStart, double> v) => (Slope(pass, "seq", v) * 100).ToString("0.0", Inv);
            sb.Append(Inv, $"| {pass} | {handler} | {network} | {G(p => p.CpuMs)} | {G(p => p.ContainerdCpuMs)} | {G(p => p.ContainerdChildrenCpuMs)} | {G(p => p.CpuMs - p.ContainerdCpuMs - p.ContainerdChildrenCpuMs)} | {G(p => p.ShimCpuMs)} | {G(Others)} | {G(p => p.SysCpuMs)} | {Mean(Ok(pass, "seq").Select(p => p.ShimCpuMs)):0.0} | {Mean(Ok(pass, "seq").Select(Others)):0.0} | {Mean(Ok(pass, "seq").Select(p => p.SysCpuMs)):0.0} |\n");
        }

        sb.Append("\n*Where it goes, per pod, from the phase's start to its last checkpoint (`fresh`), from /proc/<pid>/stat (clock ticks; the list calls of the earlier checkpoints included): containerd's own threads; the children containerd reaped (CNI plugins, each shim's `start` run); the shims alive at the end with the children they reaped (the runc shim's runc runs).*\n\n");
        sb.Append("| pass | handler | network | phase | containerd | containerd's children | shims | sum |\n|---|---|---|---|---|---|---|---|\n");
        foreach (var start in memory.Where(m => m.When == "start"))
        {
            var end = memory.LastOrDefault(m => m.Pass == start.Pass && m.Phase == start.Phase && m.When == "fresh");
            if (end is null || end.Pods == 0)
                continue;
            double Per(double v) => v / end.Pods;
            var self = Per(end.ContainerdCpuMs - start.ContainerdCpuMs);
            var children = Per(end.ContainerdChildrenCpuMs - start.ContainerdChildrenCpuMs);
            var shims = Per(end.ShimsCpuMs);
            sb.Append(Inv, $"| {start.Pass} | {start.Handler} | {start.Network} | {start.Phase} | {self:0.0} | {children:0.0} | {shims:0.0} | {self + children + shims:0.0} |\n");
        }

        sb.Append("\n## Memory at each checkpoint (MB)\n\n");
        sb.Append("| pass | handler | network | phase | pods | when | shims | shim Pss per pod | … anon | … file | shim VmRSS per pod | shim private per pod | shims' Pss, total | containerd VmRSS | containerd Pss |\n");
        sb.Append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var m in memory.Where(m => m.When != "start"))
        {
            double Per(double v) => v / Math.Max(1, m.Pods);
            sb.Append(Inv, $"| {m.Pass} | {m.Handler} | {m.Network} | {m.Phase} | {m.Pods} | {m.When} | {m.Shims} | {Per(m.ShimPssMb):0.00} | {Per(m.ShimPssAnonMb):0.00} | {Per(m.ShimPssFileMb):0.00} | {Per(m.ShimRssMb):0.00} | {Per(m.ShimPrivateMb):0.00} | {m.ShimPssMb:0.0} | {m.ContainerdRssMb:0.0} | {m.ContainerdPssMb:0.0} |\n");
        }

        sb.Append(Inv, $"\n## CRI list calls at each checkpoint (ms, median of {o.ListReps})\n\n");
        var calls = new[] { "ListContainers", "ListContainerStats", "ListPodSandboxStats" };
        sb.Append("| pass | handler | network | phase | pods | ").Append(string.Join(" | ", calls)).Append(" |\n|---|---|---|---|---|---|---|---|\n");
        foreach (var g in lists.GroupBy(l => (l.Pass, l.Handler, l.Network, l.Phase, l.Pods)))
        {
            sb.Append(Inv, $"| {g.Key.Pass} | {g.Key.Handler} | {g.Key.Network} | {g.Key.Phase} | {g.Key.Pods} |");
            foreach (var call in calls)
            {
                var c = g.Where(l => l.Call == call).ToList();
                var errors = c.Where(l => l.Error.Length > 0).Select(l => l.Error).Distinct().ToList();
                sb.Append(errors.Count > 0 && errors.Count == c.Count
                    ? $" error: {errors[0].Replace("|", "\\|", StringComparison.Ordinal)} |"
                    : string.Create(Inv, $" {Measures.Percentile(c.Select(l => l.Ms), 0.5):0.0} ({c.Where(l => l.Error.Length == 0).Select(l => l.Items).DefaultIfEmpty().Max()} items) |"));
            }
            sb.Append('\n');
        }

        sb.Append("\n## Stop and remove all\n\n| pass | handler | network | phase | pods | total (s) | per pod (ms) | failures | shims exited after (s) |\n|---|---|---|---|---|---|---|---|---|\n");
        foreach (var t in teardowns)
            sb.Append(Inv, $"| {t.Pass} | {t.Handler} | {t.Network} | {t.Phase} | {t.Pods} | {t.TotalMs / 1000:0.00} | {t.TotalMs / t.Pods:0.0} | {t.Failures} | {(t.ShimsLeft > 0 ? $"{t.ShimsLeft} left" : (t.ShimsGoneMs / 1000).ToString("0.0", Inv))} |\n");

        Targets(sb);

        sb.Append(Inv, $"\n## Failures: {failures.Count}\n\n");
        foreach (var f in failures.OrderBy(f => f.Pass).ThenBy(f => f.Index).Take(30))
            sb.Append(Inv, $"- pass {f.Pass} {f.Handler} {f.Network} {f.Phase} #{f.Index} {f.Op}: {f.Error}\n");
        if (failures.Count > 30)
            sb.Append(Inv, $"- … {failures.Count - 30} more in failures.csv\n");
        return sb.ToString();
    }

    /// <summary>With both network modes run: what the pod's own network (netns, CNI plugins) adds
    /// to a pod start, per handler, every pass of the handler in a mode pooled.</summary>
    private void NetworkShare(StringBuilder sb)
    {
        if (!(o.Networks.Contains("cni") && o.Networks.Contains("host")))
            return;
        sb.Append("\n## The pod network's share: cni against host network (ms)\n\n");
        sb.Append("*Per handler, the pods of all its passes in each mode pooled; cni − host is what the netns and the CNI plugins (bridge, host-local, loopback) add. CPU: seq phase, mean per pod start (containerd's cgroup; its reaped children include the CNI plugins and each shim's `start` run).*\n\n");
        sb.Append("| handler | phase | RunPodSandbox p50: cni / host / cni − host | pod start p50: cni / host / cni − host | CPU per pod: cni / host / cni − host | … containerd's children: cni / host / cni − host | last 10 ÷ first 10 (per pass): cni / host |\n");
        sb.Append("|---|---|---|---|---|---|---|\n");
        foreach (var handler in o.Order.Distinct())
        {
            foreach (var phase in PhasesRun)
            {
                List<PodStart> Pooled(string network) =>
                    _passes.Where(p => p.Handler == handler && p.Network == network).SelectMany(p => Ok(p.Index, phase)).ToList();
                var (cni, host) = (Pooled("cni"), Pooled("host"));
                if (cni.Count == 0 || host.Count == 0)
                    continue;
                string Three(Func<PodStart, double> v, bool median)
                {
                    double Of(List<PodStart> l) => median ? Measures.Percentile(l.Select(v), 0.5) : Mean(l.Select(v));
                    var (a, b) = (Of(cni), Of(host));
                    return double.IsNaN(a) || double.IsNaN(b) ? "–" : string.Create(Inv, $"{a:0.0} / {b:0.0} / {a - b:0.0}");
                }
                string Ratios(string network) => string.Join(", ", _passes.Where(p => p.Handler == handler && p.Network == network)
                    .Select(p => Edges(p.Index, phase)).Select(e => (e.Last / e.First).ToString("0.00", Inv)));
                sb.Append(Inv, $"| {handler} | {phase} | {Three(p => p.RunPodMs, true)} | {Three(p => p.PodStartMs, true)} | {Three(p => p.CpuMs, false)} | {Three(p => p.ContainerdChildrenCpuMs, false)} | {Ratios("cni")} / {Ratios("host")} |\n");
            }
        }
    }

    private void Targets(StringBuilder sb)
    {
        sb.Append("\n## Targets (issue 14)\n\n| target | measured | met |\n|---|---|---|\n");
        var podFailures = failures.Count(f => f.Op is "RunPodSandbox" or "CreateContainer" or "StartContainer");
        var byCall = failures.Count == 0 ? "" : "; " + string.Join(", ", failures.GroupBy(f => f.Op).Select(g => $"{g.Key} {g.Count()}"));
        sb.Append(Inv, $"| 0 failures | {failures.Count} ({podFailures} of {pods.Count} pod starts failed, {lists.Count(l => l.Error is { Length: > 0 })} of {lists.Count} list calls, {teardowns.Sum(t => t.Failures)} in {teardowns.Count} removals of all pods{byCall}) | {Met(failures.Count == 0)} |\n");
        foreach (var m in memory.Where(m => m.Handler == "csrt" && m.Pods == o.Pods))
        {
            var per = m.ShimPssMb / m.Pods;
            sb.Append(Inv, $"| csrt shim Pss ≤ 1.5 MB per pod at {o.Pods} pods (pass {m.Pass}, {m.Network} network, {m.Phase}, {m.When}) | {per:0.00} MB | {Met(per <= 1.5)} |\n");
        }
        foreach (var phase in PhasesRun)
        {
            foreach (var (pass, handler, network) in _passes)
            {
                // Against the runc passes of the same network mode.
                var runc = _passes.Where(p => p.Handler == "runc" && p.Network == network).SelectMany(p => Ok(p.Index, phase)).Select(p => p.PodStartMs).ToList();
                if (handler != "csrt" || runc.Count == 0)
                    continue;
                var runcP99 = Measures.Percentile(runc, 0.99);
                var p99 = Measures.Percentile(Ok(pass, phase).Select(p => p.PodStartMs), 0.99);
                sb.Append(Inv, $"| pod start p99 ≤ 0.6× the runc handler's (pass {pass}, {network} network, {phase}) | {p99:0.0} ÷ {runcP99:0.0} ms = {p99 / runcP99:0.00}× | {Met(p99 / runcP99 <= 0.6)} |\n");
            }
        }
        foreach (var (pass, handler, network) in _passes)
        {
            var (first, last) = Edges(pass, "seq");
            if (double.IsNaN(first))
                continue;
            sb.Append(Inv, $"| last pods start ≤ 1.2× the first (mean of the last {EdgePods} ÷ mean of the first {EdgePods}, pass {pass} {handler} {network} network, seq) | {last:0.0} ÷ {first:0.0} ms = {last / first:0.00}× | {Met(last / first <= 1.2)} |\n");
            var (cpuFirst, cpuLast) = Edges(pass, "seq", p => p.CpuMs);
            if (!double.IsNaN(cpuFirst))
                sb.Append(Inv, $"| … the same in CPU time of containerd and its children (pass {pass} {handler} {network} network, seq) | {cpuLast:0.0} ÷ {cpuFirst:0.0} ms = {cpuLast / cpuFirst:0.00}× | {Met(cpuLast / cpuFirst <= 1.2)} |\n");
        }
    }

    private static string Met(bool met) => met ? "yes" : "**no**";

    private static string Tool(string file, params string[] args)
    {
        try
        {
            return Commands.Run(file, args).Stdout.Trim();
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or IOException)
        {
            return $"{file}: {e.Message}";
        }
    }
}
