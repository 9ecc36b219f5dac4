using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

/// <summary>The v2 manager against a temporary directory standing in for a cgroup.</summary>
public sealed class CgroupV2ManagerTests : IDisposable
{
    private readonly TempTree _tree = new();
    private readonly string _dir;
    private readonly CgroupV2Manager _m;

    public CgroupV2ManagerTests()
    {
        _dir = _tree.Files("c1",
            "cgroup.controllers=cpuset cpu io memory hugetlb pids rdma\n",
            "cpu.weight=100\n", "cpu.max=max 100000\n", "cpu.max.burst=0\n", "cpu.idle=0\n",
            "cpuset.cpus=", "cpuset.mems=",
            "memory.max=max\n", "memory.low=0\n", "memory.swap.max=max\n", "memory.current=4096\n",
            "pids.max=max\n", "io.weight=default 100\n", "io.max=", "rdma.max=",
            "hugetlb.2MB.max=max\n", "hugetlb.1GB.max=max\n",
            "memory.high=max\n",
            "cgroup.freeze=0\n", "cgroup.events=populated 1\nfrozen 0\n",
            "cgroup.procs=10\n11\n");
        _m = new CgroupV2Manager(_dir, _tree.Root);
    }

    public void Dispose() => _tree.Dispose();

    private string File(string name) => _tree.Read("c1/" + name);

    [Fact]
    public void Cpu_shares_become_cpu_weight_and_quota_period_become_cpu_max()
    {
        _m.Update(new LinuxResources { Cpu = new LinuxCpu { Shares = 1024, Quota = 50000, Period = 200000, Burst = 1000, Idle = 1 } });

        Assert.Equal("100", File("cpu.weight"));
        Assert.Equal("50000 200000", File("cpu.max"));
        Assert.Equal("1000", File("cpu.max.burst"));
        Assert.Equal("1", File("cpu.idle"));
    }

    [Fact]
    public void Updating_only_the_quota_keeps_the_period_in_force_and_the_other_way_round()
    {
        System.IO.File.WriteAllText(Path.Combine(_dir, "cpu.max"), "max 250000\n");
        _m.Update(new LinuxResources { Cpu = new LinuxCpu { Quota = 20000 } });
        Assert.Equal("20000 250000", File("cpu.max"));

        _m.Update(new LinuxResources { Cpu = new LinuxCpu { Period = 50000 } });
        Assert.Equal("20000 50000", File("cpu.max"));

        _m.Update(new LinuxResources { Cpu = new LinuxCpu { Quota = -1 } });
        Assert.Equal("max 50000", File("cpu.max"));
    }

    [Fact]
    public void Realtime_settings_are_refused_on_v2()
    {
        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Cpu = new LinuxCpu { RealtimeRuntime = 950000 } }));

        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("realtime", e.Message);
    }

    [Fact]
    public void Memory_limit_reservation_and_swap_minus_limit_are_written()
    {
        _m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 64 << 20, Reservation = 32 << 20, Swap = 96 << 20 } });

        Assert.Equal((64 << 20).ToString(), File("memory.max"));
        Assert.Equal((32 << 20).ToString(), File("memory.low"));
        Assert.Equal((32 << 20).ToString(), File("memory.swap.max"));
    }

    [Fact]
    public void Swap_equal_to_the_limit_writes_no_swap()
    {
        System.IO.File.WriteAllText(Path.Combine(_dir, "memory.swap.max"), "max\n");

        _m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 32 << 20, Swap = 32 << 20 } });

        Assert.Equal((32 << 20).ToString(), File("memory.max"));
        Assert.Equal("0", File("memory.swap.max"));
    }

    [Fact]
    public void Unlimited_memory_with_swap_unset_makes_swap_unlimited_too()
    {
        System.IO.File.WriteAllText(Path.Combine(_dir, "memory.swap.max"), "0\n");

        _m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = -1 } });

        Assert.Equal("max", File("memory.max"));
        Assert.Equal("max", File("memory.swap.max"));
    }

    [Fact]
    public void Swap_alone_is_converted_with_the_limit_in_force()
    {
        System.IO.File.WriteAllText(Path.Combine(_dir, "memory.max"), "1000\n");

        _m.Update(new LinuxResources { Memory = new LinuxMemory { Swap = 1500 } });

        Assert.Equal("500", File("memory.swap.max"));
        Assert.Equal("1000\n", File("memory.max"));
    }

    [Fact]
    public void Check_before_update_refuses_a_limit_below_the_current_usage()
    {
        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 1024, CheckBeforeUpdate = true } }));

        Assert.Contains("current usage 4096", e.Message);
        Assert.Equal("max\n", File("memory.max"));
    }

    [Fact]
    public void Settings_v2_does_not_have_are_ignored_with_a_warning()
    {
        var warnings = new List<string>();
        _m.Warning = warnings.Add;

        _m.Update(new LinuxResources { Memory = new LinuxMemory { Swappiness = 10, DisableOOMKiller = true, Kernel = 1 << 20 } });

        Assert.Equal(3, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("swappiness"));
        Assert.Contains(warnings, w => w.Contains("disableOOMKiller"));
        Assert.Contains(warnings, w => w.Contains("kernel"));
    }

    [Fact]
    public void Pids_limit_and_unlimited()
    {
        _m.Update(new LinuxResources { Pids = new LinuxPids { Limit = 42 } });
        Assert.Equal("42", File("pids.max"));

        _m.Update(new LinuxResources { Pids = new LinuxPids { Limit = -1 } });
        Assert.Equal("max", File("pids.max"));
    }

    [Fact]
    public void Block_io_weight_is_converted_for_io_weight_and_throttles_go_to_io_max()
    {
        _m.Update(new LinuxResources
        {
            BlockIO = new LinuxBlockIO
            {
                Weight = 500,
                ThrottleWriteIOPSDevice = new List<LinuxThrottleDevice> { new() { Major = 254, Minor = 0, Rate = 300 } },
            },
        });

        Assert.Equal("4950", File("io.weight"));
        Assert.Equal("254:0 wiops=300", File("io.max"));
    }

    [Fact]
    public void Block_io_weight_goes_to_bfq_unconverted_when_bfq_is_there()
    {
        _tree.Files("c1", "io.bfq.weight=default 100\n");

        _m.Update(new LinuxResources { BlockIO = new LinuxBlockIO { Weight = 500 } });
        Assert.Equal("500", File("io.bfq.weight"));
        Assert.Equal("default 100\n", File("io.weight"));

        _tree.Files("c1", "io.bfq.weight=default 500\n"); // what the kernel prints back
        _m.Update(new LinuxResources { BlockIO = new LinuxBlockIO { WeightDevice = new() { new() { Major = 8, Minor = 0, Weight = 300 } } } });
        Assert.Equal("8:0 300", File("io.bfq.weight"));
    }

    [Fact]
    public void Per_device_weights_without_bfq_are_refused()
    {
        var e = Assert.Throws<CgroupException>(() =>
            _m.Update(new LinuxResources { BlockIO = new LinuxBlockIO { WeightDevice = new() { new() { Major = 8, Minor = 0, Weight = 300 } } } }));

        Assert.Contains("io.bfq.weight", e.Message);
    }

    [Fact]
    public void Hugepage_limits_go_to_hugetlb_size_max()
    {
        if (!Conversions.HostHugePageSizes().Contains("2MB"))
            return; // the page size check needs a host with 2MB huge pages

        _m.Update(new LinuxResources { HugepageLimits = new() { new() { PageSize = "2MB", Limit = 4 << 20 } } });

        Assert.Equal((4 << 20).ToString(), File("hugetlb.2MB.max"));
    }

    [Fact]
    public void An_unknown_hugepage_size_is_refused_naming_the_host_sizes()
    {
        if (Conversions.HostHugePageSizes().Count == 0)
            return;

        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { HugepageLimits = new() { new() { PageSize = "3MB", Limit = 1 } } }));

        Assert.Contains("\"3MB\"", e.Message);
        Assert.Contains("expected one of", e.Message);
    }

    [Fact]
    public void Rdma_limits_are_written_per_device()
    {
        _m.Update(new LinuxResources { Rdma = new() { ["mlx5_1"] = new LinuxRdma { HcaHandles = 3, HcaObjects = 10000 } } });

        Assert.Equal("mlx5_1 hca_handle=3 hca_object=10000", File("rdma.max"));
    }

    [Fact]
    public void A_requested_limit_of_a_controller_that_is_not_enabled_is_refused_naming_it()
    {
        System.IO.File.WriteAllText(Path.Combine(_dir, "cgroup.controllers"), "cpu io\n");

        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 1 << 20 } }));

        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("memory controller", e.Message);
        Assert.Contains("\"cpu io\"", e.Message);
    }

    [Fact]
    public void An_unset_or_unlimited_value_of_a_missing_controller_is_skipped_silently()
    {
        System.IO.File.WriteAllText(Path.Combine(_dir, "cgroup.controllers"), "cpu\n");

        _m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = -1 }, Pids = new LinuxPids { Limit = 0 } });

        Assert.Equal("max\n", File("pids.max"));
    }

    [Fact]
    public void Network_settings_have_no_v2_controller_and_are_refused()
    {
        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Network = new LinuxNetwork { ClassID = 0x100001 } }));

        Assert.Contains("net_cls", e.Message);
    }

    [Fact]
    public void Unified_values_are_written_as_given_and_after_the_fields()
    {
        _m.Update(new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 1 << 20 },
            Unified = new() { ["memory.high"] = "768K", ["memory.max"] = "2M" },
        });

        Assert.Equal("768K", File("memory.high"));
        Assert.Equal("2M", File("memory.max"));
    }

    [Theory]
    [InlineData("../cgroup.procs", ErrorKind.InvalidArgument, "expected a cgroup v2 file name")]
    [InlineData("memory.nonexistent", ErrorKind.Unsupported, "is the memory controller enabled")]
    public void Bad_unified_keys_are_refused_naming_the_key(string key, ErrorKind kind, string why)
    {
        var e = Assert.Throws<CgroupException>(() => _m.Update(new LinuxResources { Unified = new() { [key] = "1" } }));

        Assert.Equal(kind, e.Kind);
        Assert.Contains(key, e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Resources_read_back_in_oci_terms()
    {
        _tree.Files("c1", "cpu.max=25000 100000\n", "memory.max=1000\n", "memory.swap.max=500\n", "pids.max=7\n", "cpuset.cpus=0-1\n");

        var r = _m.ReadResources();

        Assert.Equal(25000, r.Cpu!.Quota);
        Assert.Equal(100000UL, r.Cpu.Period);
        Assert.Equal("0-1", r.Cpu.Cpus);
        Assert.Equal(1000, r.Memory!.Limit);
        Assert.Equal(1500, r.Memory.Swap);
        Assert.Equal(7, r.Pids!.Limit);
        Assert.Equal((ushort)100, r.BlockIO!.Weight);
    }

    [Theory]
    [InlineData("0\n", "populated 1\nfrozen 0\n", FreezerState.Thawed)]
    [InlineData("1\n", "populated 1\nfrozen 0\n", FreezerState.Freezing)]
    [InlineData("1\n", "populated 1\nfrozen 1\n", FreezerState.Frozen)]
    public void Freezer_state_comes_from_cgroup_freeze_and_cgroup_events(string freeze, string events, FreezerState state)
    {
        _tree.Files("c1", "cgroup.freeze=" + freeze, "cgroup.events=" + events);

        Assert.Equal(state, _m.GetFreezerState());
    }

    [Fact]
    public void Pids_are_collected_from_sub_cgroups_when_recursive()
    {
        _tree.Files("c1/sub", "cgroup.procs=12\n");

        Assert.Equal(new[] { 10, 11 }, _m.GetPids(recursive: false));
        Assert.Equal(new[] { 10, 11, 12 }, _m.GetPids(recursive: true));
    }

    [Fact]
    public void Stats_are_read_from_v2_files()
    {
        _tree.Files("c1",
            "cpu.stat=usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
            "memory.stat=anon 1000\nfile 300\ninactive_file 100\npgfault 5\npgmajfault 1\n",
            "memory.current=1300\n", "memory.peak=2000\n", "memory.max=1048576\n",
            "memory.swap.current=7\n", "memory.swap.max=max\n",
            "memory.events=low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
            "pids.current=3\n", "pids.max=max\n",
            "io.stat=254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");

        var s = _m.Stats();

        Assert.True(s.FromUnified);
        Assert.Equal(2_000_000UL, s.Cpu.TotalUsageNs);
        Assert.Equal(500_000UL, s.Cpu.KernelUsageNs);
        Assert.Equal(1300UL, s.Memory.Usage.Usage);
        Assert.Equal(2000UL, s.Memory.Usage.MaxUsage);
        Assert.Equal(1048576UL, s.Memory.Usage.Limit);
        Assert.Equal(2UL, s.Memory.Usage.Failcnt);
        Assert.Equal(300UL, s.Memory.Cache);
        Assert.Equal(100UL, s.Memory.Stats["inactive_file"]);
        Assert.Equal(7UL, s.Memory.SwapOnlyUsage.Usage);
        Assert.Equal(1307UL, s.Memory.SwapUsage.Usage);
        Assert.Equal(ulong.MaxValue, s.Memory.SwapUsage.Limit);
        Assert.Equal(1UL, s.Memory.Events!.OomKill);
        Assert.Equal(3UL, s.Pids.Current);
        Assert.Equal(0UL, s.Pids.Limit);
        Assert.Equal(new IoStatEntry(254, 0, 10, 20, 1, 2, 0, 0), Assert.Single(s.Blkio.IoStat));
    }

    [Fact]
    public void Creating_a_path_enables_the_parents_controllers_in_subtree_control_first()
    {
        using var tree = new TempTree();
        tree.Files("", "cgroup.controllers=cpu memory hugetlb\n", "cgroup.subtree_control=memory\n");
        var created = new List<string>();

        CgroupV2Manager.CreatePath(tree.Root, tree.Root + "/pods/c1", null, created);

        Assert.Equal("+cpu +hugetlb", tree.Read("cgroup.subtree_control"));
        Assert.Equal(new[] { tree.Root + "/pods", tree.Root + "/pods/c1" }, created);
    }

    [Fact]
    public void Creating_a_path_can_be_limited_to_some_controllers()
    {
        using var tree = new TempTree();
        tree.Files("", "cgroup.controllers=cpu memory hugetlb\n", "cgroup.subtree_control=\n");

        CgroupV2Manager.CreatePath(tree.Root, tree.Root + "/c1", new[] { "hugetlb" }, new List<string>());

        Assert.Equal("+hugetlb", tree.Read("cgroup.subtree_control"));
    }
}
