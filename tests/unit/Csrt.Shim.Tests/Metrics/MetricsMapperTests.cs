using Containerd;
using Csrt.Runtime.Cgroups;
using Csrt.Shim.Metrics;
using Xunit;
using V1 = Containerd.Cgroups.V1;
using V2 = Containerd.Cgroups.V2;

namespace Csrt.Shim.Tests.Metrics;

/// <summary>
/// The runtime's cgroup stats as containerd's metrics messages (protocol doc §7): the fields CRI
/// 1.6 reads must be where containerd/cgroups puts them, under the bare type URLs.
/// </summary>
public sealed class MetricsMapperTests
{
    private static CgroupStats V1Sample()
    {
        var s = new CgroupStats();
        s.Cpu.TotalUsageNs = 123_456_789;
        s.Cpu.KernelUsageNs = 20_000_000;
        s.Cpu.UserUsageNs = 100_000_000;
        s.Cpu.PerCpuUsageNs = [100_000_000, 23_456_789];
        s.Cpu.Periods = 10;
        s.Cpu.ThrottledPeriods = 3;
        s.Cpu.ThrottledTimeNs = 5_000;
        s.Memory.Usage = new MemoryEntry { Usage = 4096 * 100, MaxUsage = 4096 * 200, Failcnt = 2, Limit = 32 << 20 };
        s.Memory.SwapUsage = new MemoryEntry { Usage = 4096 * 110, MaxUsage = 4096 * 210, Failcnt = 1, Limit = 64 << 20 };
        s.Memory.KernelUsage = new MemoryEntry { Usage = 7, Limit = 8 };
        s.Memory.KernelTcpUsage = new MemoryEntry { Usage = 9, Limit = 10 };
        foreach (var (k, v) in new Dictionary<string, ulong>
        {
            ["cache"] = 11, ["rss"] = 12, ["rss_huge"] = 13, ["mapped_file"] = 14, ["pgfault"] = 15, ["pgmajfault"] = 16,
            ["inactive_file"] = 17, ["total_inactive_file"] = 18, ["total_rss"] = 19, ["total_pgfault"] = 20,
            ["total_pgmajfault"] = 21, ["hierarchical_memory_limit"] = 22, ["hierarchical_memsw_limit"] = 23, ["total_cache"] = 24,
        })
            s.Memory.Stats[k] = v;
        s.Memory.OomControl = new OomControl(OomKillDisable: false, UnderOom: true, OomKill: 4);
        s.Pids.Current = 3;
        s.Pids.Limit = 100;
        s.Hugetlb["2MB"] = new HugetlbStats { Usage = 1, MaxUsage = 2, Failcnt = 3, Limit = 4 };
        s.Blkio.IoServiceBytesRecursive.Add(new BlkioEntry(8, 0, "Read", 4096));
        s.Blkio.IoServiceBytesRecursive.Add(new BlkioEntry(8, 0, "Write", 8192));
        s.Blkio.SectorsRecursive.Add(new BlkioEntry(8, 0, "", 24));
        return s;
    }

    [Fact]
    public void V1_CarriesWhatCri16Reads_CpuTotal_MemoryUsageAndLimit_InactiveFile_Rss_PageFaults()
    {
        var m = MetricsMapper.ToV1(V1Sample());
        Assert.Equal(123_456_789UL, m.Cpu.Usage.Total);
        Assert.Equal(4096UL * 100, m.Memory.Usage.Usage);
        Assert.Equal(32UL << 20, m.Memory.Usage.Limit);
        Assert.Equal(18UL, m.Memory.TotalInactiveFile);
        Assert.Equal(19UL, m.Memory.TotalRss);
        Assert.Equal(20UL, m.Memory.TotalPgFault);
        Assert.Equal(21UL, m.Memory.TotalPgMajFault);
    }

    [Fact]
    public void V1_MapsEveryGroup_FromTheCgroupFilesContainerdCgroupsUses()
    {
        var m = MetricsMapper.ToV1(V1Sample());
        Assert.Equal(20_000_000UL, m.Cpu.Usage.Kernel);
        Assert.Equal(100_000_000UL, m.Cpu.Usage.User);
        Assert.Equal(new ulong[] { 100_000_000, 23_456_789 }, m.Cpu.Usage.PerCpu);
        Assert.Equal((10UL, 3UL, 5_000UL), (m.Cpu.Throttling.Periods, m.Cpu.Throttling.ThrottledPeriods, m.Cpu.Throttling.ThrottledTime));
        Assert.Equal((4096UL * 200, 2UL), (m.Memory.Usage.Max, m.Memory.Usage.Failcnt));
        // Swap is memsw (memory + swap), as containerd/cgroups v1 reads memory.memsw.*.
        Assert.Equal((4096UL * 110, 64UL << 20, 4096UL * 210, 1UL), (m.Memory.Swap.Usage, m.Memory.Swap.Limit, m.Memory.Swap.Max, m.Memory.Swap.Failcnt));
        Assert.Equal((7UL, 8UL), (m.Memory.Kernel.Usage, m.Memory.Kernel.Limit));
        Assert.Equal((9UL, 10UL), (m.Memory.KernelTcp.Usage, m.Memory.KernelTcp.Limit));
        Assert.Equal((11UL, 12UL, 13UL, 14UL, 15UL, 16UL, 17UL), (m.Memory.Cache, m.Memory.Rss, m.Memory.RssHuge, m.Memory.MappedFile, m.Memory.PgFault, m.Memory.PgMajFault, m.Memory.InactiveFile));
        Assert.Equal((22UL, 23UL, 24UL), (m.Memory.HierarchicalMemoryLimit, m.Memory.HierarchicalSwapLimit, m.Memory.TotalCache));
        Assert.Equal((0UL, 1UL, 4UL), (m.MemoryOomControl.OomKillDisable, m.MemoryOomControl.UnderOom, m.MemoryOomControl.OomKill));
        Assert.Equal((3UL, 100UL), (m.Pids.Current, m.Pids.Limit));
        var h = Assert.Single(m.Hugetlb);
        Assert.Equal(("2MB", 1UL, 2UL, 3UL), (h.Pagesize, h.Usage, h.Max, h.Failcnt));
        Assert.Equal(2, m.Blkio.IoServiceBytesRecursive.Count);
        Assert.Equal(("Write", 8UL, 0UL, 8192UL), (m.Blkio.IoServiceBytesRecursive[1].Op, m.Blkio.IoServiceBytesRecursive[1].Major, m.Blkio.IoServiceBytesRecursive[1].Minor, m.Blkio.IoServiceBytesRecursive[1].Value));
        Assert.Equal(24UL, Assert.Single(m.Blkio.SectorsRecursive).Value);
    }

    [Fact]
    public void V1_WithoutOomControl_LeavesItOut()
    {
        var s = V1Sample();
        s.Memory.OomControl = null;
        Assert.Null(MetricsMapper.ToV1(s).MemoryOomControl);
    }

    [Fact]
    public void V1_PackedForStats_HasTheBareTypeUrlContainerd16Resolves()
    {
        var any = TypeUrls.Pack(MetricsMapper.ToV1(V1Sample()));
        Assert.Equal("io.containerd.cgroups.v1.Metrics", any.TypeUrl);
        Assert.Equal(123_456_789UL, V1.Metrics.Parser.ParseFrom(any.Value).Cpu.Usage.Total);
    }

    [Fact]
    public void V2_UsesMicrosecondsForCpu_AndMemoryCurrentMaxAndSwapFromTheirOwnFiles()
    {
        var s = new CgroupStats { FromUnified = true };
        s.Cpu.TotalUsageNs = 5_000_000;
        s.Cpu.UserUsageNs = 3_000_000;
        s.Cpu.KernelUsageNs = 2_000_000;
        s.Cpu.Periods = 7;
        s.Cpu.ThrottledPeriods = 2;
        s.Cpu.ThrottledTimeNs = 9_000;
        s.Memory.Usage = new MemoryEntry { Usage = 1 << 20, Limit = ulong.MaxValue, MaxUsage = 2 << 20 };
        s.Memory.SwapOnlyUsage = new MemoryEntry { Usage = 4096, Limit = 8192, MaxUsage = 4096 };
        s.Memory.Stats["anon"] = 100;
        s.Memory.Stats["file"] = 200;
        s.Memory.Stats["inactive_file"] = 50;
        s.Memory.Stats["pgfault"] = 60;
        s.Memory.Stats["pgmajfault"] = 1;
        s.Memory.Events = new MemoryEvents(Low: 0, High: 1, Max: 2, Oom: 3, OomKill: 4, OomGroupKill: 0);
        s.Pids.Current = 2;
        s.Blkio.IoStat.Add(new IoStatEntry(8, 16, 10, 20, 1, 2, 0, 0));
        s.Hugetlb["1GB"] = new HugetlbStats { Usage = 0, Limit = 5 };

        var m = MetricsMapper.ToV2(s);
        Assert.Equal((5_000UL, 3_000UL, 2_000UL), (m.Cpu.UsageUsec, m.Cpu.UserUsec, m.Cpu.SystemUsec));
        Assert.Equal((7UL, 2UL, 9UL), (m.Cpu.NrPeriods, m.Cpu.NrThrottled, m.Cpu.ThrottledUsec));
        Assert.Equal((1UL << 20, ulong.MaxValue, 2UL << 20), (m.Memory.Usage, m.Memory.UsageLimit, m.Memory.MaxUsage));
        Assert.Equal((4096UL, 8192UL), (m.Memory.SwapUsage, m.Memory.SwapLimit));
        Assert.Equal((100UL, 200UL, 50UL, 60UL, 1UL), (m.Memory.Anon, m.Memory.File, m.Memory.InactiveFile, m.Memory.Pgfault, m.Memory.Pgmajfault));
        Assert.Equal((1UL, 2UL, 3UL, 4UL), (m.MemoryEvents.High, m.MemoryEvents.Max, m.MemoryEvents.Oom, m.MemoryEvents.OomKill));
        Assert.Equal(2UL, m.Pids.Current);
        var io = Assert.Single(m.Io.Usage);
        Assert.Equal((8UL, 16UL, 10UL, 20UL, 1UL, 2UL), (io.Major, io.Minor, io.Rbytes, io.Wbytes, io.Rios, io.Wios));
        var h = Assert.Single(m.Hugetlb);
        Assert.Equal(("1GB", 5UL), (h.Pagesize, h.Max));
        Assert.Equal("io.containerd.cgroups.v2.Metrics", TypeUrls.Pack(m).TypeUrl);
        Assert.Equal(5_000UL, V2.Metrics.Parser.ParseFrom(TypeUrls.Pack(m).Value).Cpu.UsageUsec);
    }
}
