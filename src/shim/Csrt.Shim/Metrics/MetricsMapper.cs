using Csrt.Runtime.Cgroups;
using V1 = Containerd.Cgroups.V1;
using V2 = Containerd.Cgroups.V2;

namespace Csrt.Shim.Metrics;

/// <summary>
/// The runtime's cgroup statistics as containerd's metrics messages: io.containerd.cgroups.v1.Metrics
/// on v1 and hybrid hosts (what the runc shim sends there, and what CRI 1.6 expects), v2.Metrics on
/// unified hosts. Field sources follow containerd/cgroups (v1: memory.stat keys, cpuacct; v2:
/// memory.stat, cpu.stat in microseconds).
/// </summary>
public static class MetricsMapper
{
    public static V1.Metrics ToV1(CgroupStats s)
    {
        var m = new V1.Metrics
        {
            Pids = new V1.PidsStat { Current = s.Pids.Current, Limit = s.Pids.Limit },
            Cpu = new V1.CPUStat
            {
                Usage = new V1.CPUUsage { Total = s.Cpu.TotalUsageNs, Kernel = s.Cpu.KernelUsageNs, User = s.Cpu.UserUsageNs },
                Throttling = new V1.Throttle { Periods = s.Cpu.Periods, ThrottledPeriods = s.Cpu.ThrottledPeriods, ThrottledTime = s.Cpu.ThrottledTimeNs },
            },
            Memory = MemoryV1(s.Memory),
            Blkio = new V1.BlkIOStat(),
        };
        m.Cpu.Usage.PerCpu.AddRange(s.Cpu.PerCpuUsageNs);
        foreach (var (size, h) in s.Hugetlb)
            m.Hugetlb.Add(new V1.HugetlbStat { Pagesize = size, Usage = h.Usage, Max = h.MaxUsage, Failcnt = h.Failcnt });
        AddBlkio(m.Blkio.IoServiceBytesRecursive, s.Blkio.IoServiceBytesRecursive);
        AddBlkio(m.Blkio.IoServicedRecursive, s.Blkio.IoServicedRecursive);
        AddBlkio(m.Blkio.IoQueuedRecursive, s.Blkio.IoQueuedRecursive);
        AddBlkio(m.Blkio.IoServiceTimeRecursive, s.Blkio.IoServiceTimeRecursive);
        AddBlkio(m.Blkio.IoWaitTimeRecursive, s.Blkio.IoWaitTimeRecursive);
        AddBlkio(m.Blkio.IoMergedRecursive, s.Blkio.IoMergedRecursive);
        AddBlkio(m.Blkio.IoTimeRecursive, s.Blkio.IoTimeRecursive);
        AddBlkio(m.Blkio.SectorsRecursive, s.Blkio.SectorsRecursive);
        if (s.Memory.OomControl is { } oom)
            m.MemoryOomControl = new V1.MemoryOomControl { OomKillDisable = oom.OomKillDisable ? 1UL : 0, UnderOom = oom.UnderOom ? 1UL : 0, OomKill = oom.OomKill };
        return m;
    }

    private static V1.MemoryStat MemoryV1(MemoryStats mem)
    {
        ulong Get(string key) => mem.Stats.TryGetValue(key, out var v) ? v : 0;
        return new V1.MemoryStat
        {
            Cache = Get("cache"),
            Rss = Get("rss"),
            RssHuge = Get("rss_huge"),
            MappedFile = Get("mapped_file"),
            Dirty = Get("dirty"),
            Writeback = Get("writeback"),
            PgPgIn = Get("pgpgin"),
            PgPgOut = Get("pgpgout"),
            PgFault = Get("pgfault"),
            PgMajFault = Get("pgmajfault"),
            InactiveAnon = Get("inactive_anon"),
            ActiveAnon = Get("active_anon"),
            InactiveFile = Get("inactive_file"),
            ActiveFile = Get("active_file"),
            Unevictable = Get("unevictable"),
            HierarchicalMemoryLimit = Get("hierarchical_memory_limit"),
            HierarchicalSwapLimit = Get("hierarchical_memsw_limit"),
            TotalCache = Get("total_cache"),
            TotalRss = Get("total_rss"),
            TotalRssHuge = Get("total_rss_huge"),
            TotalMappedFile = Get("total_mapped_file"),
            TotalDirty = Get("total_dirty"),
            TotalWriteback = Get("total_writeback"),
            TotalPgPgIn = Get("total_pgpgin"),
            TotalPgPgOut = Get("total_pgpgout"),
            TotalPgFault = Get("total_pgfault"),
            TotalPgMajFault = Get("total_pgmajfault"),
            TotalInactiveAnon = Get("total_inactive_anon"),
            TotalActiveAnon = Get("total_active_anon"),
            TotalInactiveFile = Get("total_inactive_file"),
            TotalActiveFile = Get("total_active_file"),
            TotalUnevictable = Get("total_unevictable"),
            Usage = Entry(mem.Usage),
            Swap = Entry(mem.SwapUsage),
            Kernel = Entry(mem.KernelUsage),
            KernelTcp = Entry(mem.KernelTcpUsage),
        };
    }

    private static V1.MemoryEntry Entry(MemoryEntry e) =>
        new() { Limit = e.Limit, Usage = e.Usage, Max = e.MaxUsage, Failcnt = e.Failcnt };

    private static void AddBlkio(Google.Protobuf.Collections.RepeatedField<V1.BlkIOEntry> to, List<BlkioEntry> from)
    {
        foreach (var e in from)
            to.Add(new V1.BlkIOEntry { Op = e.Op, Major = e.Major, Minor = e.Minor, Value = e.Value });
    }

    public static V2.Metrics ToV2(CgroupStats s)
    {
        ulong Get(string key) => s.Memory.Stats.TryGetValue(key, out var v) ? v : 0;
        var m = new V2.Metrics
        {
            Pids = new V2.PidsStat { Current = s.Pids.Current, Limit = s.Pids.Limit },
            Cpu = new V2.CPUStat
            {
                UsageUsec = s.Cpu.TotalUsageNs / 1000,
                UserUsec = s.Cpu.UserUsageNs / 1000,
                SystemUsec = s.Cpu.KernelUsageNs / 1000,
                NrPeriods = s.Cpu.Periods,
                NrThrottled = s.Cpu.ThrottledPeriods,
                ThrottledUsec = s.Cpu.ThrottledTimeNs / 1000,
                NrBursts = s.Cpu.Bursts,
                BurstUsec = s.Cpu.BurstTimeNs / 1000,
            },
            Memory = new V2.MemoryStat
            {
                Anon = Get("anon"),
                File = Get("file"),
                KernelStack = Get("kernel_stack"),
                Slab = Get("slab"),
                Sock = Get("sock"),
                Shmem = Get("shmem"),
                FileMapped = Get("file_mapped"),
                FileDirty = Get("file_dirty"),
                FileWriteback = Get("file_writeback"),
                AnonThp = Get("anon_thp"),
                InactiveAnon = Get("inactive_anon"),
                ActiveAnon = Get("active_anon"),
                InactiveFile = Get("inactive_file"),
                ActiveFile = Get("active_file"),
                Unevictable = Get("unevictable"),
                SlabReclaimable = Get("slab_reclaimable"),
                SlabUnreclaimable = Get("slab_unreclaimable"),
                Pgfault = Get("pgfault"),
                Pgmajfault = Get("pgmajfault"),
                WorkingsetRefault = Get("workingset_refault"),
                WorkingsetActivate = Get("workingset_activate"),
                WorkingsetNodereclaim = Get("workingset_nodereclaim"),
                Pgrefill = Get("pgrefill"),
                Pgscan = Get("pgscan"),
                Pgsteal = Get("pgsteal"),
                Pgactivate = Get("pgactivate"),
                Pgdeactivate = Get("pgdeactivate"),
                Pglazyfree = Get("pglazyfree"),
                Pglazyfreed = Get("pglazyfreed"),
                ThpFaultAlloc = Get("thp_fault_alloc"),
                ThpCollapseAlloc = Get("thp_collapse_alloc"),
                Usage = s.Memory.Usage.Usage,
                UsageLimit = s.Memory.Usage.Limit,
                SwapUsage = s.Memory.SwapOnlyUsage.Usage,
                SwapLimit = s.Memory.SwapOnlyUsage.Limit,
                MaxUsage = s.Memory.Usage.MaxUsage,
                SwapMaxUsage = s.Memory.SwapOnlyUsage.MaxUsage,
            },
            Io = new V2.IOStat(),
        };
        foreach (var e in s.Blkio.IoStat)
            m.Io.Usage.Add(new V2.IOEntry { Major = e.Major, Minor = e.Minor, Rbytes = e.ReadBytes, Wbytes = e.WriteBytes, Rios = e.ReadIos, Wios = e.WriteIos });
        foreach (var (size, h) in s.Hugetlb)
            m.Hugetlb.Add(new V2.HugeTlbStat { Pagesize = size, Current = h.Usage, Max = h.Limit });
        if (s.Memory.Events is { } ev)
            m.MemoryEvents = new V2.MemoryEvents { Low = ev.Low, High = ev.High, Max = ev.Max, Oom = ev.Oom, OomKill = ev.OomKill };
        return m;
    }
}
