using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.IntegrationTests.Cgroups;

/// <summary>
/// The cgroup managers on this machine's real kernel (hybrid: v1 controllers plus a cgroup2 mount
/// holding hugetlb). Each test uses its own cgroup name and removes its cgroups and processes.
/// </summary>
public sealed class CgroupManagerTests : IDisposable
{
    private readonly CgroupScope _scope = new();

    public void Dispose() => _scope.Dispose();

    private static string Read(string dir, string file) => File.ReadAllText(Path.Combine(dir, file)).Trim();

    [Fact]
    public void Create_applies_limits_in_every_hierarchy_and_they_read_back()
    {
        var host = CgroupScope.Host;
        var device = CgroupScope.SomeBlockDevice();
        var resources = new LinuxResources
        {
            Cpu = new LinuxCpu { Shares = 512, Quota = 20000, Period = 100000, Cpus = "0", Mems = "0" },
            Memory = new LinuxMemory { Limit = 64L << 20, Reservation = 32L << 20 },
            Pids = new LinuxPids { Limit = 64 },
            BlockIO = device is { } d
                ? new LinuxBlockIO { ThrottleReadBpsDevice = new() { new() { Major = d.Major, Minor = d.Minor, Rate = 1 << 20 } } }
                : null,
            HugepageLimits = Conversions.HostHugePageSizes().Contains("2MB") ? new() { new() { PageSize = "2MB", Limit = 4 << 20 } } : null,
            Devices = new()
            {
                new LinuxDeviceCgroup { Allow = false, Access = "rwm" },
                new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 11, Access = "r" },
            },
        };
        var m = _scope.Manager("/" + _scope.Name);

        m.Create(resources);

        Assert.True(m.Exists);
        foreach (var dir in m.Paths.Values)
            Assert.True(Directory.Exists(dir), dir + " was not created");
        if (host.HasV1("cpu"))
        {
            Assert.Equal("512", Read(m.Paths["cpu"], "cpu.shares"));
            Assert.Equal("20000", Read(m.Paths["cpu"], "cpu.cfs_quota_us"));
        }
        if (host.HasV1("cpuset"))
            Assert.Equal("0", Read(m.Paths["cpuset"], "cpuset.cpus"));
        if (host.HasV1("memory"))
        {
            Assert.Equal((64L << 20).ToString(), Read(m.Paths["memory"], "memory.limit_in_bytes"));
            Assert.Equal((32L << 20).ToString(), Read(m.Paths["memory"], "memory.soft_limit_in_bytes"));
        }
        if (host.HasV1("pids"))
            Assert.Equal("64", Read(m.Paths["pids"], "pids.max"));
        if (host.HasV1("blkio") && device is { } dev)
            Assert.Contains($"{dev.Major}:{dev.Minor} {1 << 20}", Read(m.Paths["blkio"], "blkio.throttle.read_bps_device"));
        if (host.HasV1("devices"))
        {
            var list = Read(m.Paths["devices"], "devices.list").Split('\n');
            Assert.Contains("c 1:11 r", list);
            Assert.Contains("c 1:3 rwm", list);   // runc's defaults follow the spec's rules
            Assert.DoesNotContain("a *:* rwm", list);
        }
        if (host.Layout == CgroupLayout.Hybrid && resources.HugepageLimits is not null && host.HasUnified("hugetlb"))
            Assert.Equal((4 << 20).ToString(), Read(m.UnifiedPath!, "hugetlb.2MB.max"));

        var back = m.ReadResources();
        Assert.Equal(64L << 20, back.Memory!.Limit);
        Assert.Equal(64, back.Pids!.Limit);
        Assert.Equal(20000, back.Cpu!.Quota);

        m.Destroy();
        Assert.False(m.Exists);
        foreach (var dir in m.Paths.Values)
            Assert.False(Directory.Exists(dir), dir + " is still there");
    }

    [Fact]
    public void A_relative_path_is_created_under_this_process_own_cgroup_in_each_hierarchy()
    {
        var own = ProcCgroups.Self();
        var m = _scope.Manager();

        m.Create(null);

        foreach (var (controller, dir) in m.Paths)
        {
            if (controller.Length == 0)
                continue;
            var mine = own.Get(controller)!;
            Assert.EndsWith((mine == "/" ? "" : mine) + "/" + _scope.Name, dir);
        }
    }

    [Fact]
    public void A_joined_process_is_in_every_hierarchy_can_be_frozen_thawed_counted_and_killed()
    {
        var m = _scope.Manager("/" + _scope.Name);
        m.Create(new LinuxResources { Memory = new LinuxMemory { Limit = 256L << 20 } });
        // Burn a little CPU and touch some memory once inside, then wait.
        var p = _scope.Shell("read go; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; x=$(head -c 2000000 /dev/zero | tr '\\0' a); echo ready; exec sleep 600");

        m.Join(p.Id);
        p.StandardInput.WriteLine("go");
        p.StandardInput.Flush();
        Assert.Equal("ready", p.StandardOutput.ReadLine());

        var membership = File.ReadAllText($"/proc/{p.Id}/cgroup");
        foreach (var (controller, dir) in m.Paths)
        {
            var suffix = "/" + _scope.Name;
            Assert.Contains(controller.Length == 0 ? "0::" + suffix : ":" + suffix, membership);
        }
        Assert.Contains(p.Id, m.GetPids());
        var reopened = CgroupManager.Open(m.Paths);
        Assert.Contains(p.Id, reopened.GetPids());

        Assert.Equal(FreezerState.Frozen, m.Freeze());
        Assert.Equal(FreezerState.Frozen, reopened.GetFreezerState());
        Assert.Equal(FreezerState.Thawed, m.Thaw());
        Assert.Equal(FreezerState.Thawed, m.GetFreezerState());

        var stats = m.Stats();
        Assert.True(stats.Cpu.TotalUsageNs > 0, "no CPU time counted");
        Assert.True(stats.Cpu.UserUsageNs + stats.Cpu.KernelUsageNs > 0, "no user/system split");
        Assert.True(stats.Memory.Usage.Usage > 0, "no memory usage counted");
        Assert.Equal((ulong)(256L << 20), stats.Memory.Usage.Limit);
        Assert.True(stats.Memory.Stats.Count > 10, "memory.stat was not read");
        Assert.True(stats.Pids.Current >= 1);

        m.KillAll(Signals.SIGKILL);
        Assert.True(p.WaitForExit(5000), "the process survived KillAll");
        Assert.Equal(137, p.ExitCode);

        m.Destroy();
        Assert.False(m.Exists);
    }

    [Fact]
    public void Kill_all_with_sigterm_freezes_signals_every_process_and_thaws()
    {
        var m = _scope.Manager("/" + _scope.Name);
        m.Create(null);
        var a = _scope.Shell("exec sleep 600");
        var b = _scope.Shell("exec sleep 600");
        m.Join(a.Id);
        m.Join(b.Id);

        m.KillAll(Signals.SIGTERM);

        Assert.True(a.WaitForExit(5000) && b.WaitForExit(5000), "SIGTERM did not reach every process");
        Assert.Equal(143, a.ExitCode);
        Assert.Equal(FreezerState.Thawed, m.GetFreezerState());
    }

    [Fact]
    public void Update_changes_only_the_given_fields()
    {
        var m = _scope.Manager("/" + _scope.Name);
        m.Create(new LinuxResources { Cpu = new LinuxCpu { Shares = 512 }, Memory = new LinuxMemory { Limit = 64L << 20 }, Pids = new LinuxPids { Limit = 50 } });

        m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 128L << 20 } });

        var r = m.ReadResources();
        Assert.Equal(128L << 20, r.Memory!.Limit);
        Assert.Equal(512UL, r.Cpu!.Shares);
        Assert.Equal(50, r.Pids!.Limit);
    }

    [Fact]
    public void Memory_and_memory_plus_swap_are_raised_and_lowered_in_the_order_the_kernel_accepts()
    {
        var m = _scope.Manager("/" + _scope.Name);
        if (!CgroupScope.Host.HasV1("memory"))
            return;
        m.Create(new LinuxResources { Memory = new LinuxMemory { Limit = 64L << 20, Swap = 128L << 20 } });
        var dir = m.Paths["memory"];
        if (!File.Exists(Path.Combine(dir, "memory.memsw.limit_in_bytes")))
            return; // no swap accounting on this kernel

        // Raising both: memory+swap must go up first (memory may never exceed it).
        m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 256L << 20, Swap = 512L << 20 } });
        Assert.Equal((256L << 20).ToString(), Read(dir, "memory.limit_in_bytes"));
        Assert.Equal((512L << 20).ToString(), Read(dir, "memory.memsw.limit_in_bytes"));

        // Lowering both: memory must come down first.
        m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = 32L << 20, Swap = 48L << 20 } });
        Assert.Equal((32L << 20).ToString(), Read(dir, "memory.limit_in_bytes"));
        Assert.Equal((48L << 20).ToString(), Read(dir, "memory.memsw.limit_in_bytes"));

        // Unlimited memory with swap unset lifts both.
        m.Update(new LinuxResources { Memory = new LinuxMemory { Limit = -1 } });
        Assert.Equal(-1, m.ReadResources().Memory!.Swap);
    }

    [Fact]
    public void A_limit_the_kernel_cannot_meet_is_refused_naming_the_file_and_value()
    {
        var m = _scope.Manager("/" + _scope.Name);
        m.Create(null);

        var e = Assert.Throws<CgroupException>(() => m.Update(new LinuxResources { Cpu = new LinuxCpu { Cpus = "4096" } }));

        Assert.Contains("cpuset.cpus", e.Message);
        Assert.Contains("\"4096\"", e.Message);
    }

    [Fact]
    public void Destroy_removes_sub_cgroups_first_and_a_missing_cgroup_is_fine()
    {
        var m = _scope.Manager("/" + _scope.Name);
        m.Create(null);
        foreach (var dir in m.Paths.Values.Distinct())
            Directory.CreateDirectory(Path.Combine(dir, "child", "grandchild"));

        m.Destroy();
        m.Destroy();

        Assert.False(m.Exists);
    }

    [Fact]
    public void A_failed_create_removes_what_it_created()
    {
        var m = _scope.Manager("/" + _scope.Name);

        Assert.Throws<CgroupException>(() => m.Create(new LinuxResources { Memory = new LinuxMemory { Swappiness = 200 } }));

        Assert.False(m.Exists);
    }
}
