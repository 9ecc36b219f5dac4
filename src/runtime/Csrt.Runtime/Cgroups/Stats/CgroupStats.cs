namespace Csrt.Runtime.Cgroups;

// A neutral stats model close to runc's libcontainer/cgroups Stats, filled from v1 or v2 files.
// The CLI prints runc's `events --stats` JSON from it; the shim maps it to containerd's
// io.containerd.cgroups.v1.Metrics (v1 and hybrid hosts) or v2.Metrics (unified hosts).
// Times are nanoseconds everywhere (property names end in Ns); v2's microsecond counters are
// multiplied by 1000, so dividing back is exact. Sizes are bytes. ulong.MaxValue means "max".

/// <summary>Everything <see cref="ICgroupManager.Stats"/> reads.</summary>
public sealed class CgroupStats
{
    /// <summary>True when the memory/cpu/io figures come from cgroup v2 files (the shim then builds
    /// v2 Metrics on a unified host).</summary>
    public bool FromUnified { get; set; }

    public CpuStats Cpu { get; } = new();

    public MemoryStats Memory { get; } = new();

    public PidsStats Pids { get; } = new();

    public BlkioStats Blkio { get; } = new();

    /// <summary>Per page size ("2MB", "1GB").</summary>
    public Dictionary<string, HugetlbStats> Hugetlb { get; } = new(StringComparer.Ordinal);

    public CpusetStats? Cpuset { get; set; }

    /// <summary>rdma.current/rdma.max per device.</summary>
    public List<RdmaEntry> RdmaCurrent { get; } = new();

    public List<RdmaEntry> RdmaLimit { get; } = new();
}

public sealed class CpuStats
{
    /// <summary>Total CPU time: v1 cpuacct.usage; v2 cpu.stat usage_usec × 1000.</summary>
    public ulong TotalUsageNs { get; set; }

    /// <summary>Kernel-mode time: v1 cpuacct.stat "system" ticks × 1e9 / USER_HZ; v2 system_usec × 1000.</summary>
    public ulong KernelUsageNs { get; set; }

    /// <summary>User-mode time: v1 cpuacct.stat "user"; v2 user_usec × 1000.</summary>
    public ulong UserUsageNs { get; set; }

    /// <summary>v1 cpuacct.usage_percpu (v2 has no per-cpu figures).</summary>
    public ulong[] PerCpuUsageNs { get; set; } = Array.Empty<ulong>();

    /// <summary>v1 cpuacct.usage_all "system" column.</summary>
    public ulong[] PerCpuKernelNs { get; set; } = Array.Empty<ulong>();

    /// <summary>v1 cpuacct.usage_all "user" column.</summary>
    public ulong[] PerCpuUserNs { get; set; } = Array.Empty<ulong>();

    /// <summary>Periods, throttled periods, throttled time (cpu.stat).</summary>
    public ulong Periods { get; set; }

    public ulong ThrottledPeriods { get; set; }

    public ulong ThrottledTimeNs { get; set; }

    /// <summary>cpu.stat nr_bursts / burst_time (v1) or burst_usec (v2).</summary>
    public ulong Bursts { get; set; }

    public ulong BurstTimeNs { get; set; }

    /// <summary>v2 cpu.pressure.</summary>
    public PressureStats? Pressure { get; set; }
}

/// <summary>One memory counter group: v1 memory.[memsw.|kmem.|kmem.tcp.]{usage_in_bytes, max_usage_in_bytes,
/// failcnt, limit_in_bytes}; v2 memory.{current, peak, max} and memory.swap.{current, peak, max}.</summary>
public struct MemoryEntry
{
    public ulong Usage;
    public ulong MaxUsage;
    public ulong Failcnt;
    public ulong Limit;
}

public sealed class MemoryStats
{
    /// <summary>Page cache: v1 memory.stat "cache"; v2 memory.stat "file".</summary>
    public ulong Cache { get; set; }

    /// <summary>Memory: usage, peak, failcnt (v1; v2 memory.events "max"), limit.</summary>
    public MemoryEntry Usage;

    /// <summary>Memory plus swap, v1's memsw semantics (v2: swap.current + current, limit likewise,
    /// max usage 0 — runc's compatibility figures).</summary>
    public MemoryEntry SwapUsage;

    /// <summary>Swap alone: v2 memory.swap.{current, peak, max}; v1 memsw − memory usage.</summary>
    public MemoryEntry SwapOnlyUsage;

    /// <summary>v1 memory.kmem.* (deprecated by the kernel; zeros when absent).</summary>
    public MemoryEntry KernelUsage;

    /// <summary>v1 memory.kmem.tcp.*.</summary>
    public MemoryEntry KernelTcpUsage;

    /// <summary>memory.stat as read (v1: cache, rss, total_inactive_file, total_pgfault …; v2: anon,
    /// file, inactive_file, pgfault, pgmajfault …).</summary>
    public Dictionary<string, ulong> Stats { get; } = new(StringComparer.Ordinal);

    /// <summary>v1 memory.use_hierarchy (always true on v2).</summary>
    public bool UseHierarchy { get; set; }

    /// <summary>v1 memory.oom_control.</summary>
    public OomControl? OomControl { get; set; }

    /// <summary>v2 memory.events (low, high, max, oom, oom_kill, oom_group_kill).</summary>
    public MemoryEvents? Events { get; set; }

    public PressureStats? Pressure { get; set; }
}

/// <summary>v1 memory.oom_control.</summary>
public sealed record OomControl(bool OomKillDisable, bool UnderOom, ulong OomKill);

/// <summary>v2 memory.events.</summary>
public sealed record MemoryEvents(ulong Low, ulong High, ulong Max, ulong Oom, ulong OomKill, ulong OomGroupKill);

public sealed class PidsStats
{
    public ulong Current { get; set; }

    /// <summary>pids.max; 0 when unlimited ("max"), as runc reports it.</summary>
    public ulong Limit { get; set; }
}

/// <summary>One line of a v1 blkio file ("8:0 Read 4096"); <see cref="Op"/> is empty for files without
/// one (blkio.time_recursive, sectors). v2 io.stat maps to Read/Write/Discard entries, as runc does.</summary>
public readonly record struct BlkioEntry(ulong Major, ulong Minor, string Op, ulong Value);

/// <summary>One device of v2 io.stat, as read.</summary>
public readonly record struct IoStatEntry(ulong Major, ulong Minor, ulong ReadBytes, ulong WriteBytes, ulong ReadIos,
    ulong WriteIos, ulong DiscardBytes, ulong DiscardIos);

public sealed class BlkioStats
{
    public List<BlkioEntry> IoServiceBytesRecursive { get; } = new();
    public List<BlkioEntry> IoServicedRecursive { get; } = new();
    public List<BlkioEntry> IoQueuedRecursive { get; } = new();
    public List<BlkioEntry> IoServiceTimeRecursive { get; } = new();
    public List<BlkioEntry> IoWaitTimeRecursive { get; } = new();
    public List<BlkioEntry> IoMergedRecursive { get; } = new();
    public List<BlkioEntry> IoTimeRecursive { get; } = new();
    public List<BlkioEntry> SectorsRecursive { get; } = new();

    /// <summary>v2 only: io.stat per device (what containerd's v2 IOEntry carries).</summary>
    public List<IoStatEntry> IoStat { get; } = new();

    public PressureStats? Pressure { get; set; }
}

public sealed class HugetlbStats
{
    public ulong Usage { get; set; }

    /// <summary>Peak usage (v1 max_usage_in_bytes; v2 has none: 0).</summary>
    public ulong MaxUsage { get; set; }

    /// <summary>Times the limit was hit (v1 failcnt; v2 hugetlb.&lt;size&gt;.events "max").</summary>
    public ulong Failcnt { get; set; }

    public ulong Limit { get; set; }
}

public sealed record CpusetStats(string Cpus, string Mems);

/// <summary>One line of rdma.current / rdma.max.</summary>
public readonly record struct RdmaEntry(string Device, ulong HcaHandles, ulong HcaObjects);

/// <summary>PSI: "some"/"full" averages (percent) and total stall time (µs, as the kernel reports it).</summary>
public sealed record PressureStats(PressureData Some, PressureData Full);

public readonly record struct PressureData(double Avg10, double Avg60, double Avg300, ulong TotalUsec);
