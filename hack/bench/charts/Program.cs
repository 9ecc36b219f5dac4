using System.Globalization;
using ScottPlot;

namespace Csrt.Bench.Charts;

/// <summary>
/// Draws the benchmarks' charts as PNG from their CSV files: from hack/bench/scale's output the
/// pod start latency against the pod's number, the shims' and containerd's memory and the CRI list
/// calls' latency against the number of pods; from hack/bench/runtime's output the wall and CPU
/// time per container of each runtime. Usage: bench-charts [--scale DIR] [--runtime DIR] --out DIR.
/// </summary>
public static class Program
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private const int Width = 900;
    private const int Height = 500;

    public static int Main(string[] args)
    {
        string? scale = null, runtime = null, output = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--scale": scale = Next(); break;
                case "--runtime": runtime = Next(); break;
                case "--out": output = Next(); break;
                default:
                    Console.Error.WriteLine($"bench-charts: unknown argument {args[i]} (usage: --scale DIR --runtime DIR --out DIR)");
                    return 2;
            }
        }
        if (output is null || (scale is null && runtime is null))
        {
            Console.Error.WriteLine("bench-charts: needs --out DIR and at least one of --scale DIR, --runtime DIR");
            return 2;
        }
        Directory.CreateDirectory(output);
        var written = new List<string>();
        if (scale is not null)
            written.AddRange(ScaleCharts.Render(scale, output));
        if (runtime is not null)
            written.AddRange(RuntimeCharts.Render(runtime, output));
        foreach (var f in written)
            Console.WriteLine(f);
        return 0;
    }

    /// <summary>A CSV file as rows of named columns; quoted fields (error texts) are kept whole.</summary>
    internal static List<Dictionary<string, string>> ReadCsv(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"no {path} (expected the benchmark's CSV output there)", path);
        var lines = File.ReadAllLines(path);
        if (lines.Length == 0)
            throw new InvalidDataException($"{path} is empty (expected a header line)");
        var header = Split(lines[0]);
        var rows = new List<Dictionary<string, string>>();
        for (var n = 1; n < lines.Length; n++)
        {
            if (lines[n].Length == 0)
                continue;
            var fields = Split(lines[n]);
            if (fields.Count != header.Count)
                throw new InvalidDataException($"{path}:{n + 1}: {fields.Count} fields, expected {header.Count} as in the header");
            rows.Add(header.Zip(fields).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal));
        }
        return rows;
    }

    private static List<string> Split(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                    quoted = false;
                else
                    field.Append(c);
            }
            else if (c == '"')
                quoted = true;
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
                field.Append(c);
        }
        fields.Add(field.ToString());
        return fields;
    }

    internal static double Num(Dictionary<string, string> row, string column) =>
        row.TryGetValue(column, out var v)
            ? (v.Length == 0 ? double.NaN : double.Parse(v, NumberStyles.Float, Inv))
            : throw new InvalidDataException($"no column '{column}' (columns: {string.Join(',', row.Keys)})");

    /// <summary>csrt in blues (one shade per pass), runc in orange, crun in green, anything else grey.</summary>
    internal static Color ColorOf(string runtime, int occurrence) => runtime switch
    {
        "csrt" => occurrence == 0 ? new Color(31, 119, 180) : new Color(110, 170, 220),
        "runc" => occurrence == 0 ? new Color(255, 127, 14) : new Color(255, 180, 100),
        "crun" => new Color(44, 160, 44),
        _ => new Color(127, 127, 127),
    };

    /// <summary>The Y axis from 0, with headroom above the data for the legend.</summary>
    internal static void ZeroBased(Plot plot)
    {
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsY(0, plot.Axes.GetLimits().Top * 1.3);
    }

    internal static string Save(Plot plot, string dir, string name)
    {
        var path = Path.GetFullPath(Path.Combine(dir, name));
        plot.SavePng(path, Width, Height);
        return path;
    }
}

/// <summary>Charts of hack/bench/scale's pods.csv, memory.csv and lists.csv.</summary>
internal static class ScaleCharts
{
    /// <summary>Pods in the rolling median drawn through the per-pod points.</summary>
    private const int Window = 9;

    public static IEnumerable<string> Render(string dir, string output)
    {
        var pods = Program.ReadCsv(Path.Combine(dir, "pods.csv"));
        var memory = Program.ReadCsv(Path.Combine(dir, "memory.csv"));
        var lists = Program.ReadCsv(Path.Combine(dir, "lists.csv"));
        // Runs before the network column was added are all "cni".
        static string Network(Dictionary<string, string> r) => r.TryGetValue("network", out var n) ? n : "cni";
        var passes = pods.Select(r => (Pass: int.Parse(r["pass"], CultureInfo.InvariantCulture), Handler: r["handler"], Network: Network(r))).Distinct().OrderBy(p => p.Pass).ToList();
        string Legend((int Pass, string Handler, string Network) p) => p.Network == "host" ? $"{p.Handler} (pass {p.Pass}, host network)" : $"{p.Handler} (pass {p.Pass})";
        Color ColorOf((int Pass, string Handler, string Network) p) => Program.ColorOf(p.Handler, passes.Where(q => q.Handler == p.Handler && q.Network == p.Network).ToList().IndexOf(p));
        // The memory and list-call charts keep to the CNI passes when there are any: the network
        // mode hardly changes them, and twice the lines would hide the handlers' difference.
        var memoryPasses = passes.Any(p => p.Network == "cni") ? passes.Where(p => p.Network == "cni").ToList() : passes;

        foreach (var (phase, title) in new[] { ("seq", "one after another"), ("conc", "10 at a time") })
        {
            if (!pods.Any(r => r["phase"] == phase))
                continue;
            using var plot = new Plot();
            foreach (var p in passes)
            {
                var rows = pods.Where(r => r["phase"] == phase && r["pass"] == p.Pass.ToString(CultureInfo.InvariantCulture) && r["ok"] == "1")
                    .OrderBy(r => Program.Num(r, "index")).ToList();
                var xs = rows.Select(r => Program.Num(r, "index") + 1).ToArray();
                var ys = rows.Select(r => Program.Num(r, "podstart_ms")).ToArray();
                var points = plot.Add.ScatterPoints(xs, ys, ColorOf(p));
                points.MarkerSize = 4;
                var median = Enumerable.Range(0, ys.Length).Select(i => Measures.Percentile(ys.Skip(Math.Max(0, i - Window / 2)).Take(Window), 0.5)).ToArray();
                var line = plot.Add.ScatterLine(xs, median, ColorOf(p));
                line.LineWidth = 2;
                if (p.Network == "host")
                {
                    // Host-network pods: open markers and a dashed median, in the handler's colours.
                    points.MarkerShape = MarkerShape.OpenCircle;
                    line.LinePattern = LinePattern.Dashed;
                }
                line.LegendText = $"{Legend(p)}, rolling median of {Window}";
            }
            plot.Title($"Pod start (RunPodSandbox + CreateContainer + StartContainer), {title}");
            plot.XLabel("pod number");
            plot.YLabel("ms");
            Program.ZeroBased(plot);
            plot.ShowLegend(Alignment.UpperLeft);
            yield return Program.Save(plot, output, $"scale-podstart-{phase}.png");
        }

        // Memory after the settle pause, from the sequential phase (the concurrent one ends the same).
        var settled = memory.Where(r => r["phase"] == "seq" && r["when"] == "settled").ToList();
        if (settled.Count == 0)
            settled = memory.Where(r => r["phase"] == "seq" && r["when"] == "fresh").ToList();
        {
            using var plot = new Plot();
            foreach (var p in memoryPasses)
            {
                var rows = settled.Where(r => r["pass"] == p.Pass.ToString(CultureInfo.InvariantCulture)).OrderBy(r => Program.Num(r, "pods")).ToList();
                var xs = rows.Select(r => Program.Num(r, "pods")).ToArray();
                var pss = plot.Add.Scatter(xs, rows.Select(r => Program.Num(r, "shim_pss_mb") / Program.Num(r, "pods")).ToArray(), ColorOf(p));
                pss.LineWidth = 2;
                pss.LegendText = $"{Legend(p)}: Pss";
                var rss = plot.Add.Scatter(xs, rows.Select(r => Program.Num(r, "shim_rss_mb") / Program.Num(r, "pods")).ToArray(), ColorOf(p));
                rss.LinePattern = LinePattern.Dashed;
                rss.LegendText = $"{Legend(p)}: VmRSS";
            }
            plot.Title("Shim memory per pod (summed over every shim process ÷ pods)");
            plot.XLabel("pods");
            plot.YLabel("MB per pod");
            Program.ZeroBased(plot);
            plot.ShowLegend(Edge.Right);
            yield return Program.Save(plot, output, "scale-shim-memory.png");
        }
        {
            using var plot = new Plot();
            foreach (var p in memoryPasses)
            {
                var rows = settled.Where(r => r["pass"] == p.Pass.ToString(CultureInfo.InvariantCulture)).OrderBy(r => Program.Num(r, "pods")).ToList();
                var s = plot.Add.Scatter(rows.Select(r => Program.Num(r, "pods")).ToArray(), rows.Select(r => Program.Num(r, "containerd_rss_mb")).ToArray(), ColorOf(p));
                s.LineWidth = 2;
                s.LegendText = Legend(p);
            }
            plot.Title("containerd's VmRSS");
            plot.XLabel("pods");
            plot.YLabel("MB");
            Program.ZeroBased(plot);
            plot.ShowLegend(Alignment.UpperLeft);
            yield return Program.Save(plot, output, "scale-containerd-memory.png");
        }
        {
            using var plot = new Plot();
            // ListContainers (under a few ms at any count: containerd answers from memory) is left
            // to the summary's table.
            var styles = new Dictionary<string, (LinePattern Pattern, MarkerShape Marker)>(StringComparer.Ordinal)
            {
                ["ListContainerStats"] = (LinePattern.Solid, MarkerShape.FilledCircle),
                ["ListPodSandboxStats"] = (LinePattern.Dashed, MarkerShape.FilledSquare),
            };
            foreach (var (call, (pattern, marker)) in styles)
            {
                foreach (var p in memoryPasses)
                {
                    var byPods = lists.Where(r => r["phase"] == "seq" && r["call"] == call && r["pass"] == p.Pass.ToString(CultureInfo.InvariantCulture) && r["error"].Length == 0)
                        .GroupBy(r => Program.Num(r, "pods")).OrderBy(g => g.Key).ToList();
                    if (byPods.Count == 0)
                        continue;
                    var s = plot.Add.Scatter(byPods.Select(g => g.Key).ToArray(), byPods.Select(g => Measures.Percentile(g.Select(r => Program.Num(r, "ms")), 0.5)).ToArray(), ColorOf(p));
                    s.LinePattern = pattern;
                    s.LineWidth = 2;
                    s.MarkerShape = marker;
                    s.MarkerSize = 8;
                    s.LegendText = $"{call}, {Legend(p)}";
                }
            }
            plot.Title("CRI list calls over all pods (median of 3 calls at each count)");
            plot.XLabel("pods");
            plot.YLabel("ms");
            Program.ZeroBased(plot);
            plot.ShowLegend(Alignment.UpperLeft);
            yield return Program.Save(plot, output, "scale-list-calls.png");
        }
    }
}

/// <summary>Charts of hack/bench/runtime's containers.csv: per container, median wall and CPU time
/// of each runtime with its 10th–90th percentile range.</summary>
internal static class RuntimeCharts
{
    public static IEnumerable<string> Render(string dir, string output)
    {
        var rows = Program.ReadCsv(Path.Combine(dir, "containers.csv")).Where(r => r["ok"] == "1").ToList();
        var runtimes = rows.Select(r => r["runtime"]).Distinct().ToList();
        var metrics = new[] { ("wall_ms", "wall, run -d + delete -f"), ("cpu_ms", "CPU, runtime processes + init") };
        using var plot = new Plot();
        var bars = new List<Bar>();
        var (xs, ys, lo, hi) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        var ticks = new List<Tick>();
        for (var m = 0; m < metrics.Length; m++)
        {
            for (var k = 0; k < runtimes.Count; k++)
            {
                var values = rows.Where(r => r["runtime"] == runtimes[k]).Select(r => Program.Num(r, metrics[m].Item1)).ToList();
                var x = m * (runtimes.Count + 1) + k;
                var median = Measures.Percentile(values, 0.5);
                bars.Add(new Bar { Position = x, Value = median, FillColor = Program.ColorOf(runtimes[k], 0), Label = median.ToString("0.0", CultureInfo.InvariantCulture) });
                xs.Add(x);
                ys.Add(median);
                lo.Add(median - Measures.Percentile(values, 0.1));
                hi.Add(Measures.Percentile(values, 0.9) - median);
                ticks.Add(new Tick(x, runtimes[k]));
            }
            ticks.Add(new Tick(m * (runtimes.Count + 1) + (runtimes.Count - 1) / 2.0, "\n\n" + metrics[m].Item2));
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 12;
        var zeros = xs.Select(_ => 0.0).ToList();
        var errors = new ScottPlot.Plottables.ErrorBar(xs, ys, zeros, zeros, hi, lo) { LineColor = Colors.Black, LineWidth = 1.5f };
        plot.Add.Plottable(errors);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: 0);
        plot.Title($"Per container: median, whiskers 10th–90th percentile ({rows.Count / Math.Max(1, runtimes.Count)} containers each)");
        plot.YLabel("ms");
        yield return Program.Save(plot, output, "runtime-wall-cpu.png");
    }
}
