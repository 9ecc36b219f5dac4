using Csrt.Runtime.Cgroups;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

public class StatsParsingTests
{
    [Fact]
    public void Cpuacct_stat_ticks_become_nanoseconds()
    {
        var s = new CpuStats();

        Csrt.Runtime.Cgroups.V1.CpuAcct.ParseStat("user 250\nsystem 12\n", s);

        Assert.Equal(2_500_000_000UL, s.UserUsageNs);
        Assert.Equal(120_000_000UL, s.KernelUsageNs);
    }

    [Fact]
    public void Cpuacct_per_cpu_usage_and_the_user_system_split_are_read()
    {
        var s = new CpuStats();

        Assert.Equal(new[] { 1000UL, 2000UL }, Csrt.Runtime.Cgroups.V1.CpuAcct.ParsePerCpu("1000 2000 \n"));
        Csrt.Runtime.Cgroups.V1.CpuAcct.ParseUsageAll("cpu user system\n0 700 300\n1 1500 500\n", s);

        Assert.Equal(new[] { 700UL, 1500UL }, s.PerCpuUserNs);
        Assert.Equal(new[] { 300UL, 500UL }, s.PerCpuKernelNs);
    }

    [Fact]
    public void V1_cpu_stat_gives_throttling_in_nanoseconds()
    {
        var s = new CpuStats();

        Csrt.Runtime.Cgroups.V1.Cpu.ParseStat("nr_periods 10\nnr_throttled 3\nthrottled_time 5000\nnr_bursts 1\nburst_time 70\n", s);

        Assert.Equal((10UL, 3UL, 5000UL, 1UL, 70UL), (s.Periods, s.ThrottledPeriods, s.ThrottledTimeNs, s.Bursts, s.BurstTimeNs));
    }

    [Fact]
    public void V2_cpu_stat_microseconds_become_nanoseconds()
    {
        var s = new CpuStats();

        Csrt.Runtime.Cgroups.V2.Cpu.ParseStat(
            "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 2\nthrottled_usec 30\nnr_bursts 0\nburst_usec 0\n", s);

        Assert.Equal(1_500_000UL, s.TotalUsageNs);
        Assert.Equal(1_000_000UL, s.UserUsageNs);
        Assert.Equal(500_000UL, s.KernelUsageNs);
        Assert.Equal(30_000UL, s.ThrottledTimeNs);
        Assert.Equal(2UL, s.ThrottledPeriods);
    }

    [Fact]
    public void V1_blkio_lines_with_and_without_an_operation_are_read_and_totals_skipped()
    {
        var list = new List<BlkioEntry>();

        Csrt.Runtime.Cgroups.V1.Blkio.ParseEntries("8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\nTotal 4608\n", list, "f");
        Csrt.Runtime.Cgroups.V1.Blkio.ParseEntries("253:1 77\n", list, "g");

        Assert.Equal(new[]
        {
            new BlkioEntry(8, 0, "Read", 4096), new BlkioEntry(8, 0, "Write", 512), new BlkioEntry(8, 0, "Sync", 0),
            new BlkioEntry(253, 1, "", 77),
        }, list);
    }

    [Fact]
    public void Blkio_stats_use_bfq_files_when_cfq_ones_are_absent_as_on_this_machine()
    {
        var files = new Dictionary<string, string>
        {
            ["blkio.bfq.io_service_bytes_recursive"] = "254:0 Read 100\n254:0 Write 20\nTotal 120\n",
            ["blkio.bfq.io_serviced_recursive"] = "254:0 Read 3\n254:0 Write 1\nTotal 4\n",
            ["blkio.throttle.io_service_bytes_recursive"] = "254:0 Read 999\n",
        };
        var s = new BlkioStats();

        Csrt.Runtime.Cgroups.V1.Blkio.Stats(f => files.GetValueOrDefault(f), s);

        Assert.Equal(new BlkioEntry(254, 0, "Read", 100), s.IoServiceBytesRecursive[0]);
        Assert.Equal(2, s.IoServicedRecursive.Count);
        Assert.Empty(s.SectorsRecursive);
    }

    [Fact]
    public void Blkio_stats_fall_back_to_throttle_files_when_bfq_files_are_empty()
    {
        var files = new Dictionary<string, string>
        {
            ["blkio.bfq.io_serviced_recursive"] = "Total 0\n",
            ["blkio.bfq.io_service_bytes_recursive"] = "Total 0\n",
            ["blkio.throttle.io_serviced_recursive"] = "8:0 Read 2\nTotal 2\n",
            ["blkio.throttle.io_service_bytes_recursive"] = "8:0 Read 8192\nTotal 8192\n",
        };
        var s = new BlkioStats();

        Csrt.Runtime.Cgroups.V1.Blkio.Stats(f => files.GetValueOrDefault(f), s);

        Assert.Equal(new BlkioEntry(8, 0, "Read", 8192), Assert.Single(s.IoServiceBytesRecursive));
        Assert.Equal(new BlkioEntry(8, 0, "Read", 2), Assert.Single(s.IoServicedRecursive));
    }

    [Fact]
    public void V2_io_stat_maps_to_read_write_discard_entries_and_keeps_each_device()
    {
        var s = new BlkioStats();

        Csrt.Runtime.Cgroups.V2.Io.ParseStat("8:0 rbytes=1024 wbytes=2048 rios=3 wios=4 dbytes=0 dios=0\n253:0 rbytes=5 wbytes=6 rios=7 wios=8\n", s);

        Assert.Equal(2, s.IoStat.Count);
        Assert.Equal(new IoStatEntry(8, 0, 1024, 2048, 3, 4, 0, 0), s.IoStat[0]);
        Assert.Contains(new BlkioEntry(8, 0, "Write", 2048), s.IoServiceBytesRecursive);
        Assert.Contains(new BlkioEntry(253, 0, "Read", 7), s.IoServicedRecursive);
        Assert.Equal(5, s.IoServiceBytesRecursive.Count);
    }

    [Fact]
    public void Memory_events_and_oom_control_are_read()
    {
        var events = Csrt.Runtime.Cgroups.V2.Memory.ParseEvents("low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 6\n");
        var oom = Csrt.Runtime.Cgroups.V1.Memory.ParseOomControl("oom_kill_disable 1\nunder_oom 0\noom_kill 7\n");

        Assert.Equal(new MemoryEvents(1, 2, 3, 4, 5, 6), events);
        Assert.Equal(new OomControl(true, false, 7), oom);
    }

    [Fact]
    public void Pressure_files_are_read()
    {
        var p = Csrt.Runtime.Cgroups.V2.Pressure.Parse("some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=99\n");

        Assert.Equal(new PressureData(1.5, 0.25, 0, 12345), p.Some);
        Assert.Equal(99UL, p.Full.TotalUsec);
    }

    [Fact]
    public void Rdma_lines_are_read_with_max_as_unlimited()
    {
        var list = new List<RdmaEntry>();

        Rdma.Parse("mlx4_0 hca_handle=2 hca_object=max\n", list);

        Assert.Equal(new RdmaEntry("mlx4_0", 2, ulong.MaxValue), Assert.Single(list));
    }

    [Theory]
    [InlineData("max", ulong.MaxValue)]
    [InlineData("9223372036854771712\n", 9223372036854771712UL)]
    [InlineData("-1", 0UL)]
    [InlineData(" 42 ", 42UL)]
    public void Numbers_in_cgroup_files_parse_with_max_and_negative_values(string text, ulong value)
    {
        Assert.Equal(value, CgroupFs.ParseUInt64(text, "f"));
    }

    [Fact]
    public void A_value_that_is_not_a_number_is_an_error_naming_the_file()
    {
        var e = Assert.Throws<CgroupException>(() => CgroupFs.ParseUInt64("lots", "/x/memory.max"));

        Assert.Contains("/x/memory.max", e.Message);
        Assert.Contains("\"lots\"", e.Message);
    }

    [Fact]
    public void Flat_keyed_files_fill_a_map()
    {
        var map = new Dictionary<string, ulong>();

        CgroupFs.ParseFlatKeyed("cache 4096\nrss 8192\ntotal_inactive_file 100\n", map, "memory.stat");

        Assert.Equal(3, map.Count);
        Assert.Equal(100UL, map["total_inactive_file"]);
    }
}
