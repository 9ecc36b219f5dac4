using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V1;

/// <summary>v1 cpu controller: cpu.shares, cpu.cfs_{period,quota,burst}_us, cpu.rt_{period,runtime}_us, cpu.idle.</summary>
internal static class Cpu
{
    public static bool IsSet(LinuxCpu? c) =>
        c is not null && (c.Shares is > 0 || c.Quota is not null and not 0 || c.Period is > 0 || c.Burst is not null
            || c.RealtimePeriod is > 0 || c.RealtimeRuntime is not null and not 0 || c.Idle is not null);

    public static void Set(string dir, LinuxCpu c)
    {
        if (c.Shares is > 0 and var shares)
        {
            CgroupFs.Write(dir, "cpu.shares", shares);
            // The kernel clamps shares to [2, 262144]; say so instead of silently running with another value.
            var kept = CgroupFs.ReadUInt64(dir, "cpu.shares");
            if (kept != shares)
                throw CgroupException.Invalid($"cpu.shares {shares} is outside the kernel's range: {CgroupFs.PathOf(dir, "cpu.shares")} kept {kept} (allowed 2 to 262144)");
        }

        var quota = c.Quota is not null and not 0 ? CgroupFs.Format(c.Quota.Value) : null;
        var period = c.Period is > 0 ? CgroupFs.Format(c.Period.Value) : null;
        var burst = c.Burst is not null ? CgroupFs.Format(c.Burst.Value) : null;
        // Period, quota and burst are checked against each other (and the parent's quota) at each
        // write: write in the order the new values allow, retrying the one the kernel refused.
        WriteOrdered(dir, ("cpu.cfs_period_us", period), ("cpu.cfs_quota_us", quota), ("cpu.cfs_burst_us", burst));

        if (c.Idle is not null)
            CgroupFs.Write(dir, "cpu.idle", c.Idle.Value);

        SetRealtime(dir, c);
    }

    /// <summary>Realtime budget, written before any process joins: a SCHED_RR/FIFO task cannot enter a
    /// cgroup without rt runtime (runc applies it in Apply for that reason).</summary>
    public static void SetRealtime(string dir, LinuxCpu c)
    {
        var rtPeriod = c.RealtimePeriod is > 0 ? CgroupFs.Format(c.RealtimePeriod.Value) : null;
        var rtRuntime = c.RealtimeRuntime is not null and not 0 ? CgroupFs.Format(c.RealtimeRuntime.Value) : null;
        WriteOrdered(dir, ("cpu.rt_period_us", rtPeriod), ("cpu.rt_runtime_us", rtRuntime));
    }

    /// <summary>Writes the given (file, value) pairs in order; a write the kernel refuses with EINVAL is
    /// retried after the others (the new values may only fit together), and fails then.</summary>
    internal static void WriteOrdered(string dir, params (string File, string? Value)[] writes)
    {
        var deferred = new List<(string File, string Value)>();
        var any = 0;
        foreach (var (_, v) in writes)
        {
            if (v is not null)
                any++;
        }
        foreach (var (file, value) in writes)
        {
            if (value is null)
                continue;
            if (any > 1 && CgroupFs.TryWrite(dir, file, value, Errno.EINVAL) == Errno.EINVAL)
                deferred.Add((file, value));
            else if (any <= 1)
                CgroupFs.Write(dir, file, value);
        }
        foreach (var (file, value) in deferred)
            CgroupFs.Write(dir, file, value);
    }

    public static void Read(string dir, LinuxCpu into)
    {
        into.Shares = CgroupFs.TryReadUInt64(dir, "cpu.shares");
        if (CgroupFs.TryRead(dir, "cpu.cfs_quota_us") is { } q)
            into.Quota = long.Parse(q.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        into.Period = CgroupFs.TryReadUInt64(dir, "cpu.cfs_period_us");
        into.Burst = CgroupFs.TryReadUInt64(dir, "cpu.cfs_burst_us");
        into.RealtimePeriod = CgroupFs.TryReadUInt64(dir, "cpu.rt_period_us");
        if (CgroupFs.TryRead(dir, "cpu.rt_runtime_us") is { } rt)
            into.RealtimeRuntime = long.Parse(rt.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        if (CgroupFs.TryRead(dir, "cpu.idle") is { } idle)
            into.Idle = long.Parse(idle.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>cpu.stat: nr_periods, nr_throttled, throttled_time (ns), nr_bursts, burst_time (ns).</summary>
    public static void Stats(string dir, CpuStats s)
    {
        if (CgroupFs.TryRead(dir, "cpu.stat") is { } text)
            ParseStat(text, s);
    }

    internal static void ParseStat(string text, CpuStats s)
    {
        if (CgroupFs.TryGetKeyed(text, "nr_periods", out var v))
            s.Periods = v;
        if (CgroupFs.TryGetKeyed(text, "nr_throttled", out v))
            s.ThrottledPeriods = v;
        if (CgroupFs.TryGetKeyed(text, "throttled_time", out v))
            s.ThrottledTimeNs = v;
        if (CgroupFs.TryGetKeyed(text, "nr_bursts", out v))
            s.Bursts = v;
        if (CgroupFs.TryGetKeyed(text, "burst_time", out v))
            s.BurstTimeNs = v;
    }
}

/// <summary>v1 cpuacct controller: usage figures only.</summary>
internal static class CpuAcct
{
    // USER_HZ: cpuacct.stat counts in clock ticks, which the kernel always reports at 100 per second.
    private const ulong ClockTicks = 100;
    private const ulong NsPerSecond = 1_000_000_000;

    public static void Stats(string dir, CpuStats s)
    {
        if (CgroupFs.TryReadUInt64(dir, "cpuacct.usage") is { } total)
            s.TotalUsageNs = total;
        if (CgroupFs.TryRead(dir, "cpuacct.stat") is { } stat)
            ParseStat(stat, s);
        // cpuacct.stat reports USER_HZ ticks (10 ms), rounded down: a container that used 6 ms of
        // CPU shows "user 0, system 0" there. cpuacct.usage_user and usage_sys (Linux 4.15+) carry
        // the same split in nanoseconds (still sampled at the scheduler tick, so their sum is close
        // to cpuacct.usage, not equal): prefer them where the kernel has them.
        if (CgroupFs.TryReadUInt64(dir, "cpuacct.usage_user") is { } userNs && CgroupFs.TryReadUInt64(dir, "cpuacct.usage_sys") is { } sysNs)
        {
            s.UserUsageNs = userNs;
            s.KernelUsageNs = sysNs;
        }
        if (CgroupFs.TryRead(dir, "cpuacct.usage_percpu") is { } percpu)
            s.PerCpuUsageNs = ParsePerCpu(percpu);
        if (CgroupFs.TryRead(dir, "cpuacct.usage_all") is { } all)
            ParseUsageAll(all, s);
    }

    internal static void ParseStat(string text, CpuStats s)
    {
        if (CgroupFs.TryGetKeyed(text, "user", out var user))
            s.UserUsageNs = user * NsPerSecond / ClockTicks;
        if (CgroupFs.TryGetKeyed(text, "system", out var system))
            s.KernelUsageNs = system * NsPerSecond / ClockTicks;
    }

    internal static ulong[] ParsePerCpu(string text)
    {
        var parts = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var result = new ulong[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            result[i] = CgroupFs.ParseUInt64(parts[i], "cpuacct.usage_percpu");
        return result;
    }

    /// <summary>cpuacct.usage_all: a header "cpu user system", then "N user_ns system_ns" per cpu.</summary>
    internal static void ParseUsageAll(string text, CpuStats s)
    {
        var user = new List<ulong>();
        var system = new List<ulong>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length != 3 || f[0] == "cpu")
                continue;
            user.Add(CgroupFs.ParseUInt64(f[1], "cpuacct.usage_all"));
            system.Add(CgroupFs.ParseUInt64(f[2], "cpuacct.usage_all"));
        }
        s.PerCpuUserNs = user.ToArray();
        s.PerCpuKernelNs = system.ToArray();
    }
}
