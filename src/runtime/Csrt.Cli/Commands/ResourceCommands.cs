using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Spec;

namespace Csrt.Cli;

/// <summary>pause, resume, update, events.</summary>
internal static class ResourceCommands
{
    public static Command Pause() =>
        CommandLine.OnContainer("pause", "suspend all processes inside the container", static (runtime, id) => runtime.Pause(id));

    public static Command Resume() =>
        CommandLine.OnContainer("resume", "resume all processes that have been previously paused", static (runtime, id) => runtime.Resume(id));

    public static Command Update()
    {
        var c = new Command("update", "update container resource constraints");
        var id = CommandLine.IdArgument();
        var resources = new Option<string?>("--resources", "-r") { Description = "path to a file containing the resources to update, or '-' to read from stdin" };
        var blkioWeight = new Option<ushort?>("--blkio-weight") { Description = "specifies per cgroup weight, range is from 10 to 1000" };
        var cpuPeriod = new Option<ulong?>("--cpu-period") { Description = "CPU CFS period to be used for hardcapping (in usecs)" };
        var cpuQuota = new Option<long?>("--cpu-quota") { Description = "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period" };
        var cpuRtPeriod = new Option<ulong?>("--cpu-rt-period") { Description = "CPU realtime period to be used for hardcapping (in usecs)" };
        var cpuRtRuntime = new Option<long?>("--cpu-rt-runtime") { Description = "CPU realtime hardcap limit (in usecs)" };
        var cpuShare = new Option<ulong?>("--cpu-share") { Description = "CPU shares (relative weight vs. other containers)" };
        var cpusetCpus = new Option<string?>("--cpuset-cpus") { Description = "CPU(s) to use" };
        var cpusetMems = new Option<string?>("--cpuset-mems") { Description = "Memory node(s) to use" };
        var memory = new Option<string?>("--memory") { Description = "Memory limit (in bytes, or with a k/m/g suffix)" };
        var memoryReservation = new Option<string?>("--memory-reservation") { Description = "Memory reservation or soft_limit (in bytes)" };
        var memorySwap = new Option<string?>("--memory-swap") { Description = "Total memory usage (memory + swap); set '-1' to enable unlimited swap" };
        var kernelMemory = new Option<string?>("--kernel-memory") { Description = "Kernel memory limit (deprecated, ignored as by runc)" };
        var kernelMemoryTcp = new Option<string?>("--kernel-memory-tcp") { Description = "Kernel memory limit for tcp buffers (deprecated)" };
        var pidsLimit = new Option<long?>("--pids-limit") { Description = "Maximum number of pids allowed in the container" };
        c.AddOptions(resources, blkioWeight, cpuPeriod, cpuQuota, cpuRtPeriod, cpuRtRuntime, cpuShare, cpusetCpus, cpusetMems, memory, memoryReservation, memorySwap, kernelMemory, kernelMemoryTcp, pidsLimit);
        c.Arguments.Add(id);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            LinuxResources r;
            if (ctx.Parse.GetValue(resources) is { } file)
            {
                var bytes = file == "-" ? ReadStdin() : File.ReadAllBytes(file);
                r = SpecLoader.ParseResources(bytes, file == "-" ? "stdin" : file);
            }
            else
            {
                r = new LinuxResources();
            }
            // Flags override the file, as runc does.
            if (ctx.Parse.GetValue(blkioWeight) is { } w)
                (r.BlockIO ??= new LinuxBlockIO()).Weight = w;
            var cpu = r.Cpu ?? new LinuxCpu();
            var cpuSet = false;
            void Cpu(Action<LinuxCpu> set)
            {
                set(cpu);
                cpuSet = true;
            }
            if (ctx.Parse.GetValue(cpuPeriod) is { } p) Cpu(x => x.Period = p);
            if (ctx.Parse.GetValue(cpuQuota) is { } q) Cpu(x => x.Quota = q);
            if (ctx.Parse.GetValue(cpuRtPeriod) is { } rp) Cpu(x => x.RealtimePeriod = rp);
            if (ctx.Parse.GetValue(cpuRtRuntime) is { } rr) Cpu(x => x.RealtimeRuntime = rr);
            if (ctx.Parse.GetValue(cpuShare) is { } sh) Cpu(x => x.Shares = sh);
            if (ctx.Parse.GetValue(cpusetCpus) is { } cc) Cpu(x => x.Cpus = cc);
            if (ctx.Parse.GetValue(cpusetMems) is { } cm) Cpu(x => x.Mems = cm);
            if (cpuSet)
                r.Cpu = cpu;
            var mem = r.Memory ?? new LinuxMemory();
            var memSet = false;
            if (ctx.Parse.GetValue(memory) is { } m) { mem.Limit = Bytes(m, "--memory"); memSet = true; }
            if (ctx.Parse.GetValue(memoryReservation) is { } mr) { mem.Reservation = Bytes(mr, "--memory-reservation"); memSet = true; }
            if (ctx.Parse.GetValue(memorySwap) is { } ms) { mem.Swap = Bytes(ms, "--memory-swap"); memSet = true; }
            if (ctx.Parse.GetValue(kernelMemory) is not null || ctx.Parse.GetValue(kernelMemoryTcp) is not null)
                ctx.Log.Warning("--kernel-memory and --kernel-memory-tcp are deprecated and ignored");
            if (memSet)
                r.Memory = mem;
            if (ctx.Parse.GetValue(pidsLimit) is { } pl)
                (r.Pids ??= new LinuxPids()).Limit = pl;
            ctx.Runtime.Update(ctx.Get(id), r);
            return 0;
        }));
        return c;
    }

    private static byte[] ReadStdin()
    {
        using var stdin = Console.OpenStandardInput();
        using var buffer = new MemoryStream();
        stdin.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>Bytes with an optional k/m/g/t suffix (powers of 1024), or -1.</summary>
    internal static long Bytes(string text, string flag)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t == "-1")
            return -1;
        long unit = 1;
        if (t.EndsWith('b'))
            t = t[..^1];
        if (t.Length > 0 && char.IsLetter(t[^1]))
        {
            unit = t[^1] switch
            {
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                't' => 1L << 40,
                _ => throw new ArgumentException($"{flag}: unknown unit in \"{text}\" (expected b, k, m, g or t)"),
            };
            t = t[..^1];
        }
        return long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? checked(v * unit)
            : throw new ArgumentException($"{flag}: expected a size such as 512m, got \"{text}\"");
    }

    public static Command Events()
    {
        var c = new Command("events", "display container events such as OOM notifications, cpu, memory, and IO usage statistics");
        var id = CommandLine.IdArgument();
        var interval = new Option<string>("--interval") { Description = "set the stats collection interval", DefaultValueFactory = _ => "5s" };
        var stats = new Option<bool>("--stats") { Description = "display the container's stats then exit" };
        c.Arguments.Add(id);
        c.AddOptions(interval, stats);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            var containerId = ctx.Get(id);
            if (ctx.Get(stats))
            {
                WriteEvent(EventsJson.Stats(containerId, ctx.Runtime.Stats(containerId)));
                return 0;
            }
            var period = Duration(ctx.Get(interval));
            var oomSource = ctx.Runtime.OomSourceOf(containerId);
            using var watcher = new CgroupOomWatcher(_ => WriteEvent(EventsJson.Oom(containerId)));
            if (oomSource is not null)
                watcher.Add(containerId, oomSource);
            while (true)
            {
                var state = ctx.Runtime.State(containerId);
                if (state.Status == ContainerStatus.Stopped)
                    return 0;
                WriteEvent(EventsJson.Stats(containerId, ctx.Runtime.Stats(containerId)));
                Thread.Sleep(period);
            }
        }));
        return c;
    }

    private static readonly object WriteLock = new();

    private static void WriteEvent(byte[] json)
    {
        lock (WriteLock)
        {
            CliContext.Write(json);
            CliContext.Write("\n");
        }
    }

    /// <summary>Go durations as runc takes them: "5s", "500ms", "1m".</summary>
    internal static TimeSpan Duration(string text)
    {
        var units = new (string Suffix, double Ms)[] { ("ms", 1), ("us", 0.001), ("s", 1000), ("m", 60_000), ("h", 3_600_000) };
        foreach (var (suffix, ms) in units)
            if (text.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(text[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0)
                return TimeSpan.FromMilliseconds(v * ms);
        throw new ArgumentException($"--interval: expected a duration such as 5s or 500ms, got \"{text}\"");
    }
}
