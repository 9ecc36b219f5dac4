using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

/// <summary>The v1 manager against temporary directories standing in for a hybrid host like this one:
/// separate v1 hierarchies, and hugetlb only in the cgroup2 hierarchy.</summary>
public sealed class CgroupV1ManagerTests : IDisposable
{
    private readonly TempTree _tree = new();
    private readonly CgroupV1Manager _m;
    private readonly List<string> _warnings = new();

    public CgroupV1ManagerTests()
    {
        const string Unlimited = "9223372036854771712\n";
        _tree.Files("cpu/c1", "cpu.shares=1024\n", "cpu.cfs_quota_us=-1\n", "cpu.cfs_period_us=100000\n", "cpu.cfs_burst_us=0\n",
            "cpu.rt_period_us=1000000\n", "cpu.rt_runtime_us=0\n", "cpu.stat=nr_periods 5\nnr_throttled 1\nthrottled_time 900\n", "cgroup.procs=");
        _tree.Files("cpuacct/c1", "cpuacct.usage=123456789\n", "cpuacct.stat=user 10\nsystem 5\n", "cpuacct.usage_percpu=100 200 \n", "cgroup.procs=");
        _tree.Files("cpuset/c1", "cpuset.cpus=0-1\n", "cpuset.mems=0\n", "cgroup.procs=");
        _tree.Files("memory/c1", "memory.limit_in_bytes=" + Unlimited, "memory.memsw.limit_in_bytes=" + Unlimited,
            "memory.soft_limit_in_bytes=" + Unlimited, "memory.swappiness=60\n", "memory.oom_control=oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            "memory.usage_in_bytes=8192\n", "memory.max_usage_in_bytes=16384\n", "memory.failcnt=2\n",
            "memory.memsw.usage_in_bytes=10240\n", "memory.stat=cache 4096\nrss 4096\ntotal_inactive_file 1000\ntotal_rss 4096\n",
            "memory.use_hierarchy=1\n", "cgroup.procs=");
        _tree.Files("pids/c1", "pids.max=max\n", "pids.current=2\n", "cgroup.procs=1\n2\n");
        _tree.Files("blkio/c1", "blkio.bfq.weight=100\n", "blkio.throttle.read_bps_device=", "blkio.throttle.write_bps_device=",
            "blkio.throttle.read_iops_device=", "blkio.throttle.write_iops_device=", "cgroup.procs=");
        _tree.Files("freezer/c1", "freezer.state=THAWED\n", "cgroup.procs=");
        _tree.Files("devices/c1", "devices.allow=", "devices.deny=", "cgroup.procs=");
        _tree.Files("unified/c1", "hugetlb.2MB.max=max\n", "hugetlb.2MB.current=0\n", "hugetlb.1GB.max=max\n", "cgroup.procs=");

        var mounts = new List<CgroupMount>();
        var paths = new Dictionary<string, string>();
        foreach (var c in new[] { "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices" })
        {
            mounts.Add(new CgroupMount(_tree.Root + "/" + c, "/", new[] { c }, false));
            paths[c] = _tree.Root + "/" + c + "/c1";
        }
        mounts.Add(new CgroupMount(_tree.Root + "/unified", "/", Array.Empty<string>(), true));
        paths[""] = _tree.Root + "/unified/c1";
        _m = new CgroupV1Manager(paths, new CgroupHost(mounts, new[] { "hugetlb" })) { Warning = _warnings.Add };
    }

    public void Dispose() => _tree.Dispose();

    [Fact]
    public void Cpu_settings_go_to_the_v1_cpu_files()
    {
        _m.Update(new LinuxResources { Cpu = new LinuxCpu { Shares = 512, Quota = 25000, Period = 50000, Burst = 5000, RealtimePeriod = 500000, RealtimeRuntime = 1000 } });

        Assert.Equal("512", _tree.Read("cpu/c1/cpu.shares"));
        Assert.Equal("25000", _tree.Read("cpu/c1/cpu.cfs_quota_us"));
        Assert.Equal("50000", _tree.Read("cpu/c1/cpu.cfs_period_us"));
        Assert.Equal("5000", _tree.Read("cpu/c1/cpu.cfs_burst_us"));
        Assert.Equal("500000", _tree.Read("cpu/c1/cpu.rt_period_us"));
        Assert.Equal("1000", _tree.Read("cpu/c1/cpu.rt_runtime_us"));
    }

    [Fact]
    public void Cpuset_and_pids_and_block_io_go_to_their_hierarchies()
    {
        _m.Update(new LinuxResources
        {
            Cpu = new LinuxCpu { Cpus = "1", Mems = "0" },
            Pids = new LinuxPids { Limit = 100 },
            BlockIO = new LinuxBlockIO { Weight = 300, ThrottleReadBpsDevice = new() { new() { Major = 254, Minor = 0, Rate = 1048576 } } },
        });

        Assert.Equal("1", _tree.Read("cpuset/c1/cpuset.cpus"));
        Assert.Equal("100", _tree.Read("pids/c1/pids.max"));
        Assert.Equal("300", _tree.Read("blkio/c1/blkio.bfq.weight")); // only BFQ here, as on this machine
        Assert.Equal("254:0 1048576", _tree.Read("blkio/c1/blkio.throttle.read_bps_device"));
    }

    [Fact]
    public void Memory_limit_swap_reservation_swappiness_and_the_oom_killer_switch()
    {
        _m.Update(new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 64 << 20, Swap = 128 << 20, Reservation = 32 << 20, Swappiness = 0, DisableOOMKiller = true },
        });

        Assert.Equal((64 << 20).ToString(), _tree.Read("memory/c1/memory.limit_in_bytes"));
        Assert.Equal((128 << 20).ToString(), _tree.Read("memory/c1/memory.memsw.limit_in_bytes"));
        Assert.Equal((32 << 20).ToString(), _tree.Read("memory/c1/memory.soft_limit_in_bytes"));
        Assert.Equal("0", _tree.Read("memory/c1/memory.swappiness"));
        Assert.Equal("1", _tree.Read("memory/c1/memory.oom_control"));
    }

    [Fact]
    public void Unlimited_memory_also_lifts_the_memory_plus_swap_limit()
    {
        _tree.Files("memory/c1", "memory.memsw.limit_in_bytes=1000\n");

        _m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = -1 } });

        Assert.Equal("-1", _tree.Read("memory/c1/memory.limit_in_bytes"));
        Assert.Equal("-1", _tree.Read("memory/c1/memory.memsw.limit_in_bytes"));
    }

    [Fact]
    public void Swappiness_above_100_is_refused_and_minus_one_means_unset()
    {
        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Memory = new LinuxMemory { Swappiness = 150 } }));
        Assert.Contains("150", e.Message);

        _m.Update(new LinuxResources { Memory = new LinuxMemory { Swappiness = ulong.MaxValue } });
        Assert.Equal("60\n", _tree.Read("memory/c1/memory.swappiness"));
    }

    [Fact]
    public void Swap_without_swap_accounting_is_refused_saying_so()
    {
        File.Delete(Path.Combine(_tree.Root, "memory/c1/memory.memsw.limit_in_bytes"));

        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 1 << 20, Swap = 2 << 20 } }));

        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("swap accounting", e.Message);
    }

    [Fact]
    public void Kernel_memory_limits_are_ignored_with_a_warning_as_runc_does()
    {
        _m.Update(new LinuxResources { Memory = new LinuxMemory { Kernel = 1 << 20, KernelTCP = 1 << 20 } });

        Assert.Contains(_warnings, w => w.Contains("kernelTCP are ignored"));
        Assert.False(File.Exists(Path.Combine(_tree.Root, "memory/c1/memory.kmem.limit_in_bytes")));
    }

    [Fact]
    public void Hugetlb_of_a_hybrid_host_is_written_in_the_cgroup2_hierarchy()
    {
        if (!Conversions.HostHugePageSizes().Contains("2MB"))
            return;

        _m.Update(new LinuxResources { HugepageLimits = new() { new() { PageSize = "2MB", Limit = 2 << 20 } } });

        Assert.Equal((2 << 20).ToString(), _tree.Read("unified/c1/hugetlb.2MB.max"));
    }

    [Fact]
    public void Unified_values_of_controllers_in_the_cgroup2_hierarchy_are_written_there_and_others_refused()
    {
        _m.Update(new LinuxResources { Unified = new() { ["hugetlb.1GB.max"] = "0" } });
        Assert.Equal("0", _tree.Read("unified/c1/hugetlb.1GB.max"));

        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Unified = new() { ["memory.high"] = "1G" } }));
        Assert.Contains("\"memory.high\"", e.Message);
        Assert.Contains("memory controller is not in the cgroup2 hierarchy", e.Message);
    }

    [Fact]
    public void Unified_values_on_a_v1_only_host_are_refused()
    {
        var legacy = new CgroupV1Manager(new Dictionary<string, string> { ["memory"] = _tree.Root + "/memory/c1" },
            new CgroupHost(new[] { new CgroupMount(_tree.Root + "/memory", "/", new[] { "memory" }, false) }, Array.Empty<string>()));

        var e = Assert.Throws<CgroupException>(() => legacy.Update(new LinuxResources { Unified = new() { ["memory.high"] = "1G" } }));

        Assert.Contains("cgroup v1 only", e.Message);
    }

    [Fact]
    public void A_limit_for_an_unmounted_controller_is_refused_and_a_default_one_skipped()
    {
        var noPids = new CgroupV1Manager(new Dictionary<string, string> { ["memory"] = _tree.Root + "/memory/c1" },
            new CgroupHost(new[] { new CgroupMount(_tree.Root + "/memory", "/", new[] { "memory" }, false) }, Array.Empty<string>()));

        var e = Assert.Throws<CgroupException>(() => noPids.Update(new LinuxResources { Pids = new LinuxPids { Limit = 10 } }));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("pids", e.Message);

        noPids.Update(new LinuxResources { Pids = new LinuxPids { Limit = -1 }, BlockIO = new LinuxBlockIO() });
    }

    [Fact]
    public void Network_class_id_without_net_cls_is_refused()
    {
        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Network = new LinuxNetwork { ClassID = 7 } }));

        Assert.Contains("net_cls", e.Message);
    }

    [Fact]
    public void Stats_come_from_each_hierarchy_and_hugetlb_from_the_cgroup2_side()
    {
        var s = _m.Stats();

        Assert.False(s.FromUnified);
        Assert.Equal(123456789UL, s.Cpu.TotalUsageNs);
        Assert.Equal(100_000_000UL, s.Cpu.UserUsageNs);
        Assert.Equal(50_000_000UL, s.Cpu.KernelUsageNs);
        Assert.Equal(new[] { 100UL, 200UL }, s.Cpu.PerCpuUsageNs);
        Assert.Equal(900UL, s.Cpu.ThrottledTimeNs);
        Assert.Equal(8192UL, s.Memory.Usage.Usage);
        Assert.Equal(16384UL, s.Memory.Usage.MaxUsage);
        Assert.Equal(2UL, s.Memory.Usage.Failcnt);
        Assert.Equal(9223372036854771712UL, s.Memory.Usage.Limit);
        Assert.Equal(2048UL, s.Memory.SwapOnlyUsage.Usage);
        Assert.Equal(4096UL, s.Memory.Cache);
        Assert.Equal(1000UL, s.Memory.Stats["total_inactive_file"]);
        Assert.Equal(new OomControl(false, false, 0), s.Memory.OomControl);
        Assert.True(s.Memory.UseHierarchy);
        Assert.Equal(2UL, s.Pids.Current);
        Assert.Equal("0-1", s.Cpuset!.Cpus);
        if (Conversions.HostHugePageSizes().Contains("2MB"))
            Assert.Equal(ulong.MaxValue, s.Hugetlb["2MB"].Limit);
    }

    [Fact]
    public void Freezer_state_is_read_from_freezer_state()
    {
        _tree.Files("freezer/c1", "freezer.state=FREEZING\n");

        Assert.Equal(FreezerState.Freezing, _m.GetFreezerState());
    }

    [Fact]
    public void Pids_come_from_the_pids_hierarchy()
    {
        Assert.Equal(new[] { 1, 2 }, _m.GetPids());
    }

    [Fact]
    public void Resources_read_back_from_v1_files_with_no_limit_as_minus_one()
    {
        _tree.Files("memory/c1", "memory.limit_in_bytes=1048576\n");

        var r = _m.ReadResources();

        Assert.Equal(1048576, r.Memory!.Limit);
        Assert.Equal(-1, r.Memory.Swap);
        Assert.Equal(1024UL, r.Cpu!.Shares);
        Assert.Equal(-1, r.Cpu.Quota);
        Assert.Equal(-1, r.Pids!.Limit);
        Assert.Equal((ushort)100, r.BlockIO!.Weight);
        Assert.False(r.Memory.DisableOOMKiller);
    }

    [Fact]
    public void The_oom_source_is_the_v1_memory_directory()
    {
        Assert.Equal(new OomSource(_tree.Root + "/memory/c1", false), _m.OomSource);
    }
}
