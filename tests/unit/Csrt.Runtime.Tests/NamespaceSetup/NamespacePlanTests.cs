using Csrt.Linux;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.NamespaceSetup;

/// <summary>How a container's namespaces are created and joined (fast path or two steps).</summary>
public sealed class NamespacePlanTests
{
    private static LinuxConfig Linux(params (string Type, string? Path)[] namespaces) => new()
    {
        Namespaces = namespaces.Select(n => new LinuxNamespace { Type = n.Type, Path = n.Path }).ToList(),
    };

    [Fact]
    public void OnlyNewNamespaces_TakeTheFastPath_OneClone()
    {
        var plan = NamespacePlan.For(Linux(("pid", null), ("network", null), ("ipc", null), ("uts", null), ("mount", null)));

        Assert.Equal(CloneFlags.CLONE_NEWPID | CloneFlags.CLONE_NEWNET | CloneFlags.CLONE_NEWIPC | CloneFlags.CLONE_NEWUTS | CloneFlags.CLONE_NEWNS, plan.CloneFlags);
        Assert.Equal(CloneFlags.None, plan.UnshareFlags);
        Assert.Empty(plan.Joins);
        Assert.False(plan.SecondClone);
        Assert.False(plan.WaitForParent);
        Assert.False(plan.BecomeRoot);
        Assert.Equal(plan.CloneFlags, plan.Created);
        Assert.Equal(plan.CloneFlags, plan.All);
    }

    [Fact]
    public void ANewUserNamespace_OnTheFastPath_WaitsForTheIdMapsAndBecomesRoot()
    {
        var plan = NamespacePlan.For(Linux(("user", null), ("mount", null), ("pid", null)));

        Assert.Equal(CloneFlags.CLONE_NEWUSER | CloneFlags.CLONE_NEWNS | CloneFlags.CLONE_NEWPID, plan.CloneFlags);
        Assert.True(plan.WaitForParent);
        Assert.True(plan.BecomeRoot);
        Assert.True(plan.NewUserNamespace);
        Assert.False(plan.SecondClone);
    }

    [Fact]
    public void TheCgroupNamespace_IsNeverCloned_TheInitUnsharesIt()
    {
        var plan = NamespacePlan.For(Linux(("cgroup", null), ("mount", null)));

        Assert.Equal(CloneFlags.CLONE_NEWNS, plan.CloneFlags);
        Assert.True(plan.NewCgroupNamespace);
        Assert.Equal(CloneFlags.CLONE_NEWCGROUP | CloneFlags.CLONE_NEWNS, plan.Created);
    }

    [Fact]
    public void Joins_TakeTheTwoStepPath_InJoinOrder_AndUnshareTheRest()
    {
        var plan = NamespacePlan.For(Linux(("mount", null), ("network", "/var/run/netns/x"), ("ipc", "/proc/7/ns/ipc"), ("pid", null), ("uts", null)));

        Assert.Equal(CloneFlags.None, plan.CloneFlags);
        Assert.Equal(CloneFlags.CLONE_NEWNS | CloneFlags.CLONE_NEWPID | CloneFlags.CLONE_NEWUTS, plan.UnshareFlags);
        Assert.Equal([(CloneFlags.CLONE_NEWIPC, "/proc/7/ns/ipc"), (CloneFlags.CLONE_NEWNET, "/var/run/netns/x")], plan.Joins);
        Assert.True(plan.SecondClone, "a new pid namespace after unshare needs a second clone");
        Assert.False(plan.WaitForParent);
        Assert.Equal(CloneFlags.CLONE_NEWNS | CloneFlags.CLONE_NEWPID | CloneFlags.CLONE_NEWUTS, plan.Created);
        Assert.Equal(plan.Created | CloneFlags.CLONE_NEWIPC | CloneFlags.CLONE_NEWNET, plan.All);
    }

    [Fact]
    public void JoiningAPidNamespace_NeedsASecondClone_EvenWithoutNewOnes()
    {
        var plan = NamespacePlan.For(Linux(("pid", "/proc/9/ns/pid"), ("mount", null)));

        Assert.True(plan.SecondClone);
        Assert.Equal(CloneFlags.CLONE_NEWNS, plan.UnshareFlags);
    }

    [Fact]
    public void JoiningAUserNamespace_ComesFirst_AndBecomesRoot_WithoutWaiting()
    {
        var plan = NamespacePlan.For(Linux(("mount", "/proc/9/ns/mnt"), ("network", null), ("user", "/proc/9/ns/user")));

        Assert.Equal(CloneFlags.CLONE_NEWUSER, plan.Joins[0].Type);
        Assert.Equal(CloneFlags.CLONE_NEWNS, plan.Joins[^1].Type);
        Assert.True(plan.JoinsUserNamespace);
        Assert.True(plan.BecomeRoot);
        Assert.False(plan.WaitForParent);
    }

    [Fact]
    public void ANewTimeNamespace_IsUnshared_NeverCloned_WithASecondClone()
    {
        // CLONE_NEWTIME shares its bit with clone(2)'s exit signal field.
        var linux = Linux(("time", null), ("mount", null));
        linux.TimeOffsets = new Dictionary<string, LinuxTimeOffset> { ["boottime"] = new() { Secs = 5 } };

        var plan = NamespacePlan.For(linux);

        Assert.Equal(CloneFlags.None, plan.CloneFlags);
        Assert.Equal(CloneFlags.CLONE_NEWTIME | CloneFlags.CLONE_NEWNS, plan.UnshareFlags);
        Assert.True(plan.SecondClone);
        Assert.True(plan.WaitForParent, "the parent writes the offsets");
    }

    [Fact]
    public void ANewUserNamespaceWithJoins_IsUnsharedAfterThem_AndWaitsForItsMaps()
    {
        var plan = NamespacePlan.For(Linux(("network", "/var/run/netns/x"), ("user", null), ("mount", null)));

        Assert.Equal(CloneFlags.CLONE_NEWUSER | CloneFlags.CLONE_NEWNS, plan.UnshareFlags);
        Assert.True(plan.WaitForParent);
        Assert.True(plan.BecomeRoot);
    }

    [Fact]
    public void NoLinuxSection_CreatesNothing()
    {
        var plan = NamespacePlan.For(null);

        Assert.Equal(CloneFlags.None, plan.All);
        Assert.Equal(CloneFlags.None, plan.CloneFlags);
    }

    [Fact]
    public void AnUnknownType_IsRefused() =>
        Assert.Throws<ArgumentException>(() => NamespacePlan.For(Linux(("bogus", null))));

    [Fact]
    public void IdMapAndTimeOffsetTexts_AreTheKernelFormats()
    {
        Assert.Equal("0 100000 65536\n65536 5 1\n", NamespacePlan.IdMapText([
            new LinuxIdMapping { ContainerId = 0, HostId = 100000, Size = 65536 },
            new LinuxIdMapping { ContainerId = 65536, HostId = 5, Size = 1 },
        ]));
        Assert.Equal("monotonic 3 500\n", NamespacePlan.TimeOffsetsText(new Dictionary<string, LinuxTimeOffset> { ["monotonic"] = new() { Secs = 3, Nanosecs = 500 } }));
    }
}
