using Csrt.Runtime.Cgroups;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

/// <summary>The container's cgroup directories as its "cgroup" mounts show them.</summary>
public class CgroupMountLayoutsTests
{
    [Fact]
    public void A_unified_host_shows_the_container_its_cgroup2_directory()
    {
        var host = CgroupSamples.Host(CgroupSamples.UnifiedMountinfo, "cpu");
        var layout = CgroupMountLayouts.Of(CgroupManager.Open(new Dictionary<string, string> { [""] = "/sys/fs/cgroup/c1" }, host));

        Assert.True(layout.Unified);
        Assert.Empty(layout.Sources);
        Assert.Equal("/sys/fs/cgroup/c1", layout.UnifiedHostPath);
    }

    [Fact]
    public void A_hybrid_host_gives_one_source_per_hierarchy_with_its_mount_options_and_aliases()
    {
        var host = CgroupSamples.Host(CgroupSamples.HybridMountinfo, "hugetlb");
        var layout = CgroupMountLayouts.Of(CgroupManager.Open(new Dictionary<string, string>
        {
            ["cpu"] = "/sys/fs/cgroup/cpu,cpuacct/c1",
            ["cpuacct"] = "/sys/fs/cgroup/cpu,cpuacct/c1",
            ["memory"] = "/sys/fs/cgroup/memory/c1",
            ["name=systemd"] = "/sys/fs/cgroup/systemd/c1",
            [""] = "/sys/fs/cgroup/unified/c1",
        }, host));

        Assert.False(layout.Unified);
        Assert.Equal("/sys/fs/cgroup/unified/c1", layout.UnifiedHostPath);
        var byName = layout.Sources.ToDictionary(s => s.Name);
        Assert.Equal(["cpu,cpuacct", "memory", "systemd", "unified"], byName.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/c1", byName["cpu,cpuacct"].HostPath);
        Assert.Equal(["cpu", "cpuacct"], byName["cpu,cpuacct"].Aliases);
        Assert.Equal("memory", byName["memory"].Options);
        Assert.Empty(byName["memory"].Aliases);
        Assert.Equal("none,name=systemd", byName["systemd"].Options);
        Assert.Equal("", byName["unified"].Options);
    }

    [Fact]
    public void A_hierarchy_mounted_outside_the_conventional_root_is_left_out()
    {
        var host = CgroupSamples.Host(CgroupSamples.HybridMountinfo, "hugetlb");
        var layout = CgroupMountLayouts.Of(CgroupManager.Open(new Dictionary<string, string>
        {
            ["memory"] = "/sys/fs/cgroup/memory/c1",
            ["pids"] = "/cgroups/pids/c1",
        }, host));

        Assert.Equal("memory", Assert.Single(layout.Sources).Name);
    }
}
