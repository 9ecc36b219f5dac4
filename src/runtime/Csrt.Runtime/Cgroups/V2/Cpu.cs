using System.Globalization;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V2;

/// <summary>v2 cpu controller: cpu.weight (from shares, runc's conversion), cpu.max "quota period",
/// cpu.max.burst, cpu.idle. v2 has no realtime group scheduling.</summary>
internal static class Cpu
{
    private const ulong DefaultPeriod = 100000; // µs; the kernel's default (cgroup-v2.rst)

    public static bool IsSet(LinuxCpu? c) =>
        c is not null && (c.Shares is > 0 || c.Quota is not null and not 0 || c.Period is > 0 || c.Burst is not null
            || c.Idle is not null || IsRealtimeSet(c));

    public static bool IsRealtimeSet(LinuxCpu? c) => c is not null && (c.RealtimePeriod is > 0 || c.RealtimeRuntime is not null and not 0);

    public static void Set(string dir, LinuxCpu c)
    {
        if (IsRealtimeSet(c))
            throw CgroupException.Unsupported($"linux.resources.cpu realtimeRuntime/realtimePeriod cannot be applied to {dir}: cgroup v2 has no realtime group scheduling");
        if (c.Shares is > 0 and var shares)
            CgroupFs.Write(dir, "cpu.weight", Conversions.CpuSharesToWeight(shares));
        if (c.Idle is not null)
            CgroupFs.Write(dir, "cpu.idle", c.Idle.Value);

        string? max = null;
        if (c.Quota is not null and not 0 || c.Period is > 0)
        {
            // Keep the half that is not given (cpu.max holds both).
            var (curQuota, curPeriod) = c.Quota is not null and not 0 && c.Period is > 0
                ? ("max", DefaultPeriod)
                : ParseMax(CgroupFs.TryRead(dir, "cpu.max"));
            var quota = c.Quota switch
            {
                null or 0 => curQuota,
                < 0 => "max",
                var q => q.Value.ToString(CultureInfo.InvariantCulture),
            };
            var period = c.Period is > 0 ? c.Period.Value : curPeriod;
            max = quota + " " + period.ToString(CultureInfo.InvariantCulture);
        }
        var burst = c.Burst is { } b ? CgroupFs.Format(b) : null;
        // A larger burst can be refused until the new quota is in (and the other way round).
        V1.Cpu.WriteOrdered(dir, ("cpu.max.burst", burst), ("cpu.max", max));
    }

    /// <summary>"max 100000" or "50000 100000" → (quota text, period).</summary>
    internal static (string Quota, ulong Period) ParseMax(string? text)
    {
        if (text is null)
            return ("max", DefaultPeriod);
        var f = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var period = f.Length > 1 ? CgroupFs.ParseUInt64(f[1], "cpu.max") : DefaultPeriod;
        return (f.Length > 0 ? f[0] : "max", period);
    }

    public static void Read(string dir, LinuxCpu into)
    {
        if (CgroupFs.TryRead(dir, "cpu.max") is { } max)
        {
            var (q, p) = ParseMax(max);
            into.Quota = q == "max" ? -1 : long.Parse(q, CultureInfo.InvariantCulture);
            into.Period = p;
        }
        into.Burst = CgroupFs.TryReadUInt64(dir, "cpu.max.burst");
        if (CgroupFs.TryRead(dir, "cpu.idle") is { } idle)
            into.Idle = long.Parse(idle.Trim(), CultureInfo.InvariantCulture);
    }

    public static void Stats(string dir, CpuStats s)
    {
        if (CgroupFs.TryRead(dir, "cpu.stat") is { } text)
            ParseStat(text, s);
        if (CgroupFs.TryRead(dir, "cpu.pressure") is { } psi)
            s.Pressure = Pressure.Parse(psi);
    }

    /// <summary>cpu.stat in µs → the model's ns.</summary>
    internal static void ParseStat(string text, CpuStats s)
    {
        if (CgroupFs.TryGetKeyed(text, "usage_usec", out var v))
            s.TotalUsageNs = v * 1000;
        if (CgroupFs.TryGetKeyed(text, "user_usec", out v))
            s.UserUsageNs = v * 1000;
        if (CgroupFs.TryGetKeyed(text, "system_usec", out v))
            s.KernelUsageNs = v * 1000;
        if (CgroupFs.TryGetKeyed(text, "nr_periods", out v))
            s.Periods = v;
        if (CgroupFs.TryGetKeyed(text, "nr_throttled", out v))
            s.ThrottledPeriods = v;
        if (CgroupFs.TryGetKeyed(text, "throttled_usec", out v))
            s.ThrottledTimeNs = v * 1000;
        if (CgroupFs.TryGetKeyed(text, "nr_bursts", out v))
            s.Bursts = v;
        if (CgroupFs.TryGetKeyed(text, "burst_usec", out v))
            s.BurstTimeNs = v * 1000;
    }
}

/// <summary>v2 cpuset controller (no parent initialisation needed on v2).</summary>
internal static class Cpuset
{
    public static void Set(string dir, LinuxCpu c) => CpusetFiles.Set(dir, c);

    public static void Read(string dir, LinuxCpu into) => CpusetFiles.Read(dir, into);

    public static CpusetStats? Stats(string dir)
    {
        var cpus = CgroupFs.TryRead(dir, "cpuset.cpus.effective");
        var mems = CgroupFs.TryRead(dir, "cpuset.mems.effective");
        return cpus is null && mems is null ? null : new CpusetStats(cpus?.Trim() ?? "", mems?.Trim() ?? "");
    }
}

/// <summary>PSI files (cpu.pressure, memory.pressure, io.pressure).</summary>
internal static class Pressure
{
    /// <summary>"some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and a "full" line.</summary>
    public static PressureStats Parse(string text)
    {
        PressureData some = default, full = default;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length == 0)
                continue;
            double a10 = 0, a60 = 0, a300 = 0;
            ulong total = 0;
            foreach (var kv in f.AsSpan(1))
            {
                var eq = kv.IndexOf('=');
                if (eq < 0)
                    continue;
                var key = kv.AsSpan(0, eq);
                var val = kv.AsSpan(eq + 1);
                if (key.SequenceEqual("avg10"))
                    a10 = double.Parse(val, NumberStyles.Float, CultureInfo.InvariantCulture);
                else if (key.SequenceEqual("avg60"))
                    a60 = double.Parse(val, NumberStyles.Float, CultureInfo.InvariantCulture);
                else if (key.SequenceEqual("avg300"))
                    a300 = double.Parse(val, NumberStyles.Float, CultureInfo.InvariantCulture);
                else if (key.SequenceEqual("total"))
                    total = CgroupFs.ParseUInt64(val, "pressure");
            }
            var d = new PressureData(a10, a60, a300, total);
            if (f[0] == "some")
                some = d;
            else if (f[0] == "full")
                full = d;
        }
        return new PressureStats(some, full);
    }
}
