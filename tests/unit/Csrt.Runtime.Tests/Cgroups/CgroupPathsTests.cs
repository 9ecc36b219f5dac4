using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

public class CgroupPathsTests
{
    private static readonly CgroupMount Memory = new("/sys/fs/cgroup/memory", "/", new[] { "memory" }, false);
    private static readonly CgroupMount Unified = new("/sys/fs/cgroup", "/", Array.Empty<string>(), true);

    [Fact]
    public void An_empty_cgroups_path_is_the_container_id_relative_to_the_caller()
    {
        Assert.Equal("web1", CgroupPaths.Inner(null, "web1"));
        Assert.Equal("web1", CgroupPaths.Inner("", "web1"));
    }

    [Theory]
    [InlineData("/kubepods/pod1/ctr", "/kubepods/pod1/ctr")]
    [InlineData("/kubepods//pod1/./ctr/", "/kubepods/pod1/ctr")]
    [InlineData("/a/b/../c", "/a/c")]
    [InlineData("pod1/ctr", "pod1/ctr")]
    [InlineData("./pod1/x/../ctr", "pod1/ctr")]
    public void Paths_are_cleaned_lexically(string given, string expected)
    {
        Assert.Equal(expected, CgroupPaths.Inner(given, "id"));
    }

    [Theory]
    [InlineData("/../etc", "climbs above the hierarchy root")]
    [InlineData("/a/../../b", "climbs above the hierarchy root")]
    [InlineData("../sibling", "climbs above the caller's cgroup")]
    [InlineData("a/../../b", "climbs above the caller's cgroup")]
    [InlineData("/", "names the root cgroup")]
    [InlineData("/a/..", "names the root cgroup")]
    [InlineData(".", "names the caller's own cgroup")]
    [InlineData("a/..", "names the caller's own cgroup")]
    public void Escapes_and_paths_naming_the_root_or_the_caller_are_refused(string given, string why)
    {
        var e = Assert.Throws<CgroupException>(() => CgroupPaths.Inner(given, "id"));

        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains($"\"{given}\"", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void The_systemd_form_without_the_systemd_driver_is_refused_naming_the_value_and_the_driver_it_needs()
    {
        var e = Assert.Throws<CgroupException>(() => CgroupPaths.Inner("kubepods-besteffort.slice:cri-containerd:abc", "abc"));

        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("\"kubepods-besteffort.slice:cri-containerd:abc\"", e.Message);
        Assert.Contains("needs the systemd cgroup driver", e.Message);
    }

    [Theory]
    [InlineData("system.slice:docker:1234", true)]
    [InlineData(":runc:1234", true)]
    [InlineData("/a:b:c", false)]
    [InlineData("a:b", false)]
    [InlineData("kubepods/pod1/ctr", false)]
    public void Systemd_form_detection(string path, bool systemd)
    {
        Assert.Equal(systemd, CgroupPaths.IsSystemdForm(path));
    }

    [Fact]
    public void The_systemd_cgroup_flag_reads_the_path_as_slice_prefix_name()
    {
        var e = Assert.Throws<CgroupException>(() => CgroupManager.Create(
            new CgroupConfig { ContainerId = "c1", CgroupsPath = "/x", UseSystemd = true },
            CgroupSamples.Host(CgroupSamples.UnifiedMountinfo, "memory")));

        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("\"slice:prefix:name\"", e.Message);
    }

    [Fact]
    public void A_container_id_with_a_slash_cannot_name_a_cgroup()
    {
        Assert.Throws<CgroupException>(() => CgroupPaths.Inner(null, "a/b"));
    }

    [Fact]
    public void An_absolute_path_goes_under_each_mount_point()
    {
        Assert.Equal("/sys/fs/cgroup/memory/kubepods/c1", CgroupPaths.ForV1("/kubepods/c1", Memory, "/ignored"));
        Assert.Equal("/sys/fs/cgroup/kubepods/c1", CgroupPaths.ForUnified("/kubepods/c1", Unified, "/ignored", parentOfOwn: true));
    }

    [Fact]
    public void A_relative_v1_path_goes_under_the_callers_own_cgroup()
    {
        Assert.Equal("/sys/fs/cgroup/memory/process_api/abc/c1", CgroupPaths.ForV1("c1", Memory, "/process_api/abc"));
        Assert.Equal("/sys/fs/cgroup/memory/c1", CgroupPaths.ForV1("c1", Memory, "/"));
    }

    [Fact]
    public void A_relative_v1_path_is_taken_relative_to_what_the_mount_shows_as_its_root()
    {
        // Inside a container that bind-mounts its own cgroup: the mount's root is /docker/x.
        var nested = new CgroupMount("/sys/fs/cgroup/memory", "/docker/x", new[] { "memory" }, false);

        Assert.Equal("/sys/fs/cgroup/memory/shim/c1", CgroupPaths.ForV1("c1", nested, "/docker/x/shim"));
        Assert.Equal("/sys/fs/cgroup/memory/c1", CgroupPaths.ForV1("c1", nested, "/docker/x"));
    }

    [Fact]
    public void A_relative_path_on_a_unified_host_goes_under_the_parent_of_the_callers_cgroup()
    {
        Assert.Equal("/sys/fs/cgroup/user.slice/user-1000.slice/c1",
            CgroupPaths.ForUnified("c1", Unified, "/user.slice/user-1000.slice/session-3.scope", parentOfOwn: true));
        Assert.Equal("/sys/fs/cgroup/c1", CgroupPaths.ForUnified("c1", Unified, "/", parentOfOwn: true));
    }

    [Fact]
    public void The_cgroup2_side_of_a_hybrid_host_follows_the_v1_rule()
    {
        var side = new CgroupMount("/sys/fs/cgroup/unified", "/", Array.Empty<string>(), true);

        Assert.Equal("/sys/fs/cgroup/unified/system.slice/shim.service/c1",
            CgroupPaths.ForUnified("c1", side, "/system.slice/shim.service", parentOfOwn: false));
    }

    [Fact]
    public void A_relative_path_without_the_callers_cgroup_in_that_hierarchy_is_an_error_naming_the_mount()
    {
        var e = Assert.Throws<CgroupException>(() => CgroupPaths.ForV1("c1", Memory, null));

        Assert.Contains("/sys/fs/cgroup/memory", e.Message);
    }

    [Fact]
    public void On_this_hybrid_host_a_relative_path_lands_in_every_hierarchy_and_the_cgroup2_side()
    {
        var host = CgroupSamples.Host(CgroupSamples.HybridMountinfo, "hugetlb");
        var m = CgroupManager.Create(new CgroupConfig { ContainerId = "c1" }, host, ProcCgroups.Parse(CgroupSamples.HybridProcCgroup));

        Assert.IsType<CgroupV1Manager>(m);
        Assert.Equal(CgroupLayout.Hybrid, m.Layout);
        Assert.Equal("/sys/fs/cgroup/memory/process_api/3602f0166a704291f2ea1cf3013e5f3a/c1", m.Paths["memory"]);
        Assert.Equal("/sys/fs/cgroup/cpu/c1", m.Paths["cpu"]);
        Assert.Equal("/sys/fs/cgroup/cpuacct/c1", m.Paths["cpuacct"]);
        Assert.Equal("/sys/fs/cgroup/systemd/c1", m.Paths["name=systemd"]);
        Assert.Equal("/sys/fs/cgroup/unified/c1", m.Paths[""]);
        Assert.Equal("/sys/fs/cgroup/unified/c1", m.UnifiedPath);
        Assert.Equal(10, m.Paths.Count);
        Assert.Equal(new OomSource("/sys/fs/cgroup/memory/process_api/3602f0166a704291f2ea1cf3013e5f3a/c1", false), m.OomSource);
    }

    [Fact]
    public void On_a_legacy_host_co_mounted_controllers_share_a_directory_and_there_is_no_cgroup2_side()
    {
        var host = CgroupSamples.Host(CgroupSamples.LegacyMountinfo);
        var m = CgroupManager.Create(new CgroupConfig { ContainerId = "c1", CgroupsPath = "/k8s/c1" }, host);

        Assert.Equal(CgroupLayout.Legacy, m.Layout);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct/k8s/c1", m.Paths["cpu"]);
        Assert.Equal(m.Paths["cpu"], m.Paths["cpuacct"]);
        Assert.False(m.Paths.ContainsKey(""));
        Assert.Null(m.UnifiedPath);
    }

    [Fact]
    public void On_a_unified_host_the_manager_is_v2_with_one_directory()
    {
        var host = CgroupSamples.Host(CgroupSamples.UnifiedMountinfo, "cpu memory pids");
        var m = CgroupManager.Create(new CgroupConfig { ContainerId = "c1" }, host, ProcCgroups.Parse(CgroupSamples.UnifiedProcCgroup));

        Assert.IsType<CgroupV2Manager>(m);
        Assert.Equal("/sys/fs/cgroup/user.slice/user-1000.slice/c1", Assert.Single(m.Paths).Value);
        Assert.Equal(new OomSource("/sys/fs/cgroup/user.slice/user-1000.slice/c1", true), m.OomSource);
    }

    [Fact]
    public void Saved_paths_reopen_the_same_kind_of_manager()
    {
        var unified = CgroupSamples.Host(CgroupSamples.UnifiedMountinfo, "cpu");
        var hybrid = CgroupSamples.Host(CgroupSamples.HybridMountinfo, "hugetlb");

        Assert.IsType<CgroupV2Manager>(CgroupManager.Open(new Dictionary<string, string> { [""] = "/sys/fs/cgroup/c1" }, unified));
        var v1 = CgroupManager.Open(new Dictionary<string, string> { ["memory"] = "/sys/fs/cgroup/memory/c1", [""] = "/sys/fs/cgroup/unified/c1" }, hybrid);
        Assert.IsType<CgroupV1Manager>(v1);
        Assert.Equal("/sys/fs/cgroup/unified/c1", v1.UnifiedPath);
    }
}
