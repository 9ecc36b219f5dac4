using System.Text;
using Csrt.Runtime.Cgroups;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

public class CgroupHostTests
{
    [Fact]
    public void This_machines_layout_is_hybrid_with_separate_cpu_and_cpuacct_and_hugetlb_in_the_unified_mount()
    {
        var host = CgroupSamples.Host(CgroupSamples.HybridMountinfo, "hugetlb\n");

        Assert.Equal(CgroupLayout.Hybrid, host.Layout);
        Assert.Equal("/sys/fs/cgroup/unified", host.Unified!.MountPoint);
        Assert.Equal(new[] { "hugetlb" }, host.UnifiedControllers);
        Assert.Equal("/sys/fs/cgroup/cpu", host.V1Mount("cpu")!.MountPoint);
        Assert.Equal("/sys/fs/cgroup/cpuacct", host.V1Mount("cpuacct")!.MountPoint);
        Assert.Equal("/sys/fs/cgroup/systemd", host.V1Mount("name=systemd")!.MountPoint);
        Assert.Equal(9, host.V1Mounts.Count);
        Assert.False(host.HasV1("hugetlb"));
        Assert.True(host.HasUnified("hugetlb"));
    }

    [Fact]
    public void A_single_cgroup2_mount_is_unified_and_lists_the_root_controllers()
    {
        var host = CgroupSamples.Host(CgroupSamples.UnifiedMountinfo, "cpuset cpu io memory hugetlb pids rdma misc\n");

        Assert.Equal(CgroupLayout.Unified, host.Layout);
        Assert.Equal("/sys/fs/cgroup", host.Unified!.MountPoint);
        Assert.Empty(host.V1Mounts);
        Assert.Contains("memory", host.UnifiedControllers);
        Assert.Equal(8, host.UnifiedControllers.Count);
    }

    [Fact]
    public void Co_mounted_v1_controllers_share_one_mount_and_mount_options_are_not_controllers()
    {
        var host = CgroupSamples.Host(CgroupSamples.LegacyMountinfo);

        Assert.Equal(CgroupLayout.Legacy, host.Layout);
        Assert.Null(host.Unified);
        Assert.Same(host.V1Mount("cpu"), host.V1Mount("cpuacct"));
        Assert.Equal(new[] { "cpu", "cpuacct" }, host.V1Mount("cpu")!.Controllers);
        Assert.Equal(new[] { "name=systemd" }, host.V1Mount("name=systemd")!.Controllers);
        Assert.Equal(new[] { "cpuset" }, host.V1Mount("cpuset")!.Controllers); // clone_children dropped
        Assert.Equal(6, host.V1Mounts.Count);
        Assert.False(host.HasV1("xattr"));
    }

    [Fact]
    public void Octal_escapes_in_mount_points_are_decoded_and_the_mount_root_is_kept()
    {
        var m = CgroupHost.ParseLine("50 31 0:40 /docker/abc /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory"u8);

        Assert.NotNull(m);
        Assert.Equal("/sys/fs/cgroup/my memory", m!.MountPoint);
        Assert.Equal("/docker/abc", m.Root);
        Assert.False(m.IsUnified);
    }

    [Theory]
    [InlineData("22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw")]
    [InlineData("99 22 0:50 / /mnt/cgroupish rw - tmpfs cgroup rw,memory")]
    [InlineData("garbage without separator")]
    public void Lines_of_other_filesystems_are_ignored(string line)
    {
        Assert.Null(CgroupHost.ParseLine(Encoding.UTF8.GetBytes(line)));
    }

    [Fact]
    public void A_second_mount_of_a_hierarchy_elsewhere_does_not_replace_the_one_under_sys_fs_cgroup()
    {
        var info = CgroupSamples.HybridMountinfo + "90 22 0:32 / /run/other/memory rw - cgroup cgroup rw,memory\n";
        var host = CgroupSamples.Host(info, "hugetlb");

        Assert.Equal("/sys/fs/cgroup/memory", host.V1Mount("memory")!.MountPoint);
    }

    [Fact]
    public void The_current_host_detects_this_process_namespace()
    {
        var host = CgroupHost.Current;

        Assert.Same(host, CgroupHost.Current);
        Assert.True(host.Unified is not null || host.V1Mounts.Count > 0);
    }

    [Fact]
    public void Proc_cgroup_maps_each_v1_controller_and_the_unified_line()
    {
        var own = ProcCgroups.Parse(CgroupSamples.HybridProcCgroup);

        Assert.Equal("/", own.Unified);
        Assert.Equal("/process_api/3602f0166a704291f2ea1cf3013e5f3a", own.Get("memory"));
        Assert.Equal("/", own.Get("name=systemd"));
        Assert.Equal(9, own.V1.Count);
    }

    [Fact]
    public void Proc_cgroup_splits_co_mounted_controllers()
    {
        var own = ProcCgroups.Parse(CgroupSamples.LegacyProcCgroup);

        Assert.Null(own.Unified);
        Assert.Equal("/user.slice", own.Get("cpu"));
        Assert.Equal("/user.slice", own.Get("cpuacct"));
        Assert.Equal("/", own.Get("net_prio"));
    }

    [Fact]
    public void Proc_cgroup_of_a_unified_host_has_only_the_unified_path()
    {
        var own = ProcCgroups.Parse(CgroupSamples.UnifiedProcCgroup);

        Assert.Equal("/user.slice/user-1000.slice/session-3.scope", own.Get(""));
        Assert.Empty(own.V1);
    }

    [Fact]
    public void A_malformed_proc_cgroup_line_is_refused_naming_it()
    {
        var e = Assert.Throws<CgroupException>(() => ProcCgroups.Parse("4-memory-/x\n"));

        Assert.Contains("\"4-memory-/x\"", e.Message);
    }
}
