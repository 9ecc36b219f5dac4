using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

/// <summary>runc's rootless cgroup rules over a hybrid host, with writability decided by the test.</summary>
public sealed class RootlessCgroupsTests
{
    private readonly List<string> _warnings = new();

    private static ICgroupManager Planned(string mountinfo, string procCgroup) =>
        CgroupManager.Create(new CgroupConfig { ContainerId = "c1" }, CgroupSamples.Host(mountinfo), ProcCgroups.Parse(procCgroup));

    private ICgroupManager Restrict(LinuxResources? resources, Func<string, bool> canWrite) =>
        RootlessCgroups.Restrict(Planned(CgroupSamples.HybridMountinfo, CgroupSamples.HybridProcCgroup), resources, canWrite,
            CgroupSamples.Host(CgroupSamples.HybridMountinfo), _warnings.Add);

    [Fact]
    public void NothingWritable_NoResources_RunsWithoutCgroups_AndWarnsNamingThem()
    {
        var m = Restrict(null, _ => false);

        Assert.Empty(m.Paths);
        Assert.True(m.Rootless);
        var warning = Assert.Single(_warnings);
        Assert.Contains("/sys/fs/cgroup/memory/process_api/3602f0166a704291f2ea1cf3013e5f3a/c1", warning, StringComparison.Ordinal);
        Assert.Contains("not writable", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void NothingWritable_MemoryRequested_IsRefusedNamingTheFieldAndTheDirectory()
    {
        var resources = new LinuxResources { Memory = new LinuxMemory { Limit = 1 << 26 } };

        var e = Assert.Throws<CgroupException>(() => Restrict(resources, _ => false));

        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.Contains("linux.resources.memory is set", e.Message, StringComparison.Ordinal);
        Assert.Contains("/sys/fs/cgroup/memory/process_api/3602f0166a704291f2ea1cf3013e5f3a/c1 is not writable", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnlyTheRequestedControllerWritable_IsEnough_TheRestIsLeftOutWithAWarning()
    {
        var resources = new LinuxResources { Pids = new LinuxPids { Limit = 10 } };

        var m = Restrict(resources, dir => dir.StartsWith("/sys/fs/cgroup/pids/", StringComparison.Ordinal));

        Assert.Equal(new[] { "pids" }, m.Paths.Keys);
        Assert.Single(_warnings);
    }

    [Fact]
    public void EverythingWritable_KeepsEveryHierarchyButDevices_WithoutAWarning()
    {
        var m = Restrict(new LinuxResources { Memory = new LinuxMemory { Limit = 1 << 26 } }, _ => true);

        Assert.DoesNotContain("devices", m.Paths.Keys);
        Assert.Contains("memory", m.Paths.Keys);
        Assert.Contains("", m.Paths.Keys);
        Assert.Empty(_warnings);
    }

    [Fact]
    public void DeviceRules_AreNotResources_ForTheRootlessRules()
    {
        var resources = new LinuxResources { Devices = new List<LinuxDeviceCgroup> { new() { Allow = false, Access = "rwm" } } };

        Assert.Empty(RootlessCgroups.Requested(resources));
        Assert.Empty(Restrict(resources, _ => false).Paths);
    }

    [Fact]
    public void Require_WithoutTheControllersCgroup_NamesTheContainerAndTheOperation()
    {
        var e = Assert.Throws<CgroupException>(() =>
            RootlessCgroups.Require(new Dictionary<string, string> { ["pids"] = "/sys/fs/cgroup/pids/c1" }, "c1", "pause", new[] { ("the freezer", "freezer") }));

        Assert.Contains("container c1: pause needs the freezer", e.Message, StringComparison.Ordinal);
        Assert.Contains("no freezer cgroup", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Require_WithACgroup2Directory_Passes()
    {
        RootlessCgroups.Require(new Dictionary<string, string> { [""] = "/sys/fs/cgroup/user.slice/c1" }, "c1", "pause", new[] { ("the freezer", "freezer") });
    }
}
