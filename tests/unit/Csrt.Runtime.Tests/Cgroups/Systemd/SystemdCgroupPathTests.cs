using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Cgroups.Systemd;
using Csrt.Runtime.Errors;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups.Systemd;

public class SystemdCgroupPathTests
{
    [Theory]
    [InlineData("system.slice", "/system.slice")]
    [InlineData("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice")]
    [InlineData("kubepods-burstable-pod1234.slice", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice")]
    [InlineData("-.slice", "/")]
    public void Nested_slice_names_expand_to_one_directory_per_dash(string slice, string path)
    {
        Assert.Equal(path, SystemdCgroupPath.ExpandSlice(slice));
    }

    [Theory]
    [InlineData("system")]          // no suffix
    [InlineData(".slice")]          // only the suffix
    [InlineData("a--b.slice")]      // empty component
    [InlineData("-a.slice")]
    [InlineData("a-.slice")]
    [InlineData("a/b.slice")]       // path separator
    [InlineData("a b.slice")]       // character systemd refuses
    public void Slice_names_systemd_refuses_are_refused_naming_the_slice(string slice)
    {
        var e = Assert.Throws<CgroupException>(() => SystemdCgroupPath.ExpandSlice(slice));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains($"\"{slice}\"", e.Message);
    }

    [Fact]
    public void A_kubelet_path_gives_the_prefix_name_scope_under_the_expanded_pod_slice()
    {
        var p = SystemdCgroupPath.Parse("kubepods-burstable-pod0a1b.slice:cri-containerd:abc123", "abc123");

        Assert.Equal("kubepods-burstable-pod0a1b.slice", p.Slice);
        Assert.Equal("cri-containerd-abc123.scope", p.UnitName);
        Assert.False(p.IsSliceUnit);
        Assert.Equal("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b.slice/cri-containerd-abc123.scope", p.RelativePath);
    }

    [Fact]
    public void An_empty_path_means_system_slice_runc_and_the_container_id()
    {
        var p = SystemdCgroupPath.Parse(null, "ctr1");

        Assert.Equal(("system.slice", "runc", "ctr1"), (p.Slice, p.Prefix, p.Name));
        Assert.Equal("/system.slice/runc-ctr1.scope", p.RelativePath);
        Assert.Equal(p, SystemdCgroupPath.Parse("", "ctr1"));
    }

    [Fact]
    public void An_empty_slice_field_means_system_slice()
    {
        Assert.Equal("/system.slice/docker-1.scope", SystemdCgroupPath.Parse(":docker:1", "1").RelativePath);
    }

    [Fact]
    public void A_prefix_less_name_is_named_as_runc_names_it()
    {
        var p = SystemdCgroupPath.Parse("system.slice::abc", "abc");
        Assert.Equal("-abc.scope", p.UnitName);
    }

    [Fact]
    public void A_name_that_is_a_slice_makes_the_container_that_slice()
    {
        var p = SystemdCgroupPath.Parse("kubepods.slice::kubepods-pod1.slice", "x");

        Assert.True(p.IsSliceUnit);
        Assert.Equal("kubepods-pod1.slice", p.UnitName);
        Assert.Equal("/kubepods.slice/kubepods-pod1.slice", p.RelativePath);
        Assert.Equal("/other.slice", SystemdCgroupPath.Parse("kubepods.slice::other.slice", "x").RelativePath);
    }

    [Theory]
    [InlineData("system.slice:docker")]
    [InlineData("a:b:c:d")]
    [InlineData("/kubepods/abc")]
    public void A_path_without_exactly_three_fields_is_refused_naming_the_expected_form(string path)
    {
        var e = Assert.Throws<CgroupException>(() => SystemdCgroupPath.Parse(path, "abc"));

        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains($"\"{path}\"", e.Message);
        Assert.Contains("\"slice:prefix:name\"", e.Message);
    }

    [Theory]
    [InlineData("system.slice:docker:", "name field is empty")]
    [InlineData("system:docker:abc", "not a slice unit name")]
    [InlineData("a--b.slice:docker:abc", "empty component")]
    [InlineData("system.slice:dock/er:abc", "prefix \"dock/er\"")]
    [InlineData("system.slice:docker:a b", "name \"a b\"")]
    [InlineData("system.slice:docker:a@b", "name \"a@b\"")]
    public void Each_bad_field_is_refused_naming_it(string path, string expected)
    {
        var e = Assert.Throws<CgroupException>(() => SystemdCgroupPath.Parse(path, "abc"));

        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(expected, e.Message);
        Assert.Contains($"linux.cgroupsPath \"{path}\"", e.Message);
    }

    [Fact]
    public void A_unit_name_longer_than_systemd_allows_is_refused()
    {
        var e = Assert.Throws<CgroupException>(() => SystemdCgroupPath.Parse("system.slice:p:" + new string('a', 250), "x"));
        Assert.Contains("at most 255", e.Message);
    }

    [Theory]
    [InlineData("/sys/fs/cgroup/system.slice/runc-x.scope", "runc-x.scope")]
    [InlineData("/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/", "kubepods-pod1.slice")]
    public void The_unit_of_a_saved_directory_is_its_last_element(string dir, string unit)
    {
        Assert.Equal(unit, SystemdCgroupPath.UnitOfDirectory(dir));
    }

    [Fact]
    public void A_saved_directory_that_is_no_unit_is_refused()
    {
        Assert.Throws<CgroupException>(() => SystemdCgroupPath.UnitOfDirectory("/sys/fs/cgroup/kubepods/abc"));
    }

    [Fact]
    public void The_driver_refuses_a_host_without_the_unified_hierarchy_after_checking_the_path()
    {
        var hybrid = CgroupSamples.Host(CgroupSamples.HybridMountinfo);
        var bad = Assert.Throws<CgroupException>(() => SystemdCgroupManager.Create(
            new CgroupConfig { ContainerId = "c1", CgroupsPath = "nope", UseSystemd = true }, hybrid));
        Assert.Equal(ErrorKind.InvalidArgument, bad.Kind);

        var e = Assert.Throws<CgroupException>(() => SystemdCgroupManager.Create(
            new CgroupConfig { ContainerId = "c1", CgroupsPath = "system.slice:csrt:c1", UseSystemd = true }, hybrid));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("unified cgroup v2 hierarchy", e.Message);
        Assert.Contains("hybrid", e.Message);
    }
}
