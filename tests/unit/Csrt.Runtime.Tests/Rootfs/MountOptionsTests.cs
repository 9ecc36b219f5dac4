using Csrt.Linux;
using Csrt.Runtime.Rootfs;
using Xunit;

namespace Csrt.Runtime.Tests.Rootfs;

/// <summary>Mount options split as the kernel takes them (runc's parseMountOptions).</summary>
public sealed class MountOptionsTests
{
    [Fact]
    public void FlagOptions_SetAndClearMountFlags_TheLastOneWinning()
    {
        var p = MountOptions.Parse(["nosuid", "nodev", "ro", "rw", "noexec", "exec", "relatime", "strictatime"]);

        Assert.Equal(MountFlags.MS_NOSUID | MountFlags.MS_NODEV | MountFlags.MS_RELATIME | MountFlags.MS_STRICTATIME, p.Flags);
        Assert.Equal(MountFlags.MS_RDONLY | MountFlags.MS_NOEXEC, p.ClearedFlags);
        Assert.Equal("", p.Data);
        Assert.False(p.IsBind);
    }

    [Fact]
    public void AClearedFlagSetAgain_IsNoLongerCleared()
    {
        var p = MountOptions.Parse(["rw", "ro"]);

        Assert.Equal(MountFlags.MS_RDONLY, p.Flags);
        Assert.Equal(MountFlags.None, p.ClearedFlags);
    }

    [Theory]
    [InlineData("bind", false)]
    [InlineData("rbind", true)]
    public void BindAndRbind_AreBindMounts_RbindRecursive(string option, bool recursive)
    {
        var p = MountOptions.Parse([option, "ro"]);

        Assert.True(p.IsBind);
        Assert.Equal(recursive, p.IsRecursiveBind);
        Assert.Equal(MountFlags.MS_BIND | (recursive ? MountFlags.MS_REC : MountFlags.None) | MountFlags.MS_RDONLY, p.Flags);
    }

    [Fact]
    public void PropagationOptions_AreKeptInOrder_AsSeparateCalls()
    {
        var p = MountOptions.Parse(["rbind", "rprivate", "shared", "runbindable", "slave"]);

        Assert.Equal([MountFlags.MS_PRIVATE | MountFlags.MS_REC, MountFlags.MS_SHARED, MountFlags.MS_UNBINDABLE | MountFlags.MS_REC, MountFlags.MS_SLAVE], p.Propagation);
        Assert.Equal(MountFlags.MS_BIND | MountFlags.MS_REC, p.Flags);
    }

    [Fact]
    public void RecursiveAttributeOptions_BecomeMountSetattrBits()
    {
        var p = MountOptions.Parse(["rro", "rnosuid", "rnodev", "rexec", "rnoexec", "rsymfollow"]);

        Assert.Equal(RecursiveAttributes.MOUNT_ATTR_RDONLY | RecursiveAttributes.MOUNT_ATTR_NOSUID | RecursiveAttributes.MOUNT_ATTR_NODEV | RecursiveAttributes.MOUNT_ATTR_NOEXEC, p.SetAttributes);
        Assert.Equal(RecursiveAttributes.MOUNT_ATTR_NOSYMFOLLOW, p.ClearAttributes);
    }

    // mount_setattr takes one access-time mode for the tree, with the whole mode field cleared.
    [Theory]
    [InlineData("rnoatime", RecursiveAttributes.MOUNT_ATTR_NOATIME)]
    [InlineData("rstrictatime", RecursiveAttributes.MOUNT_ATTR_STRICTATIME)]
    [InlineData("rrelatime", RecursiveAttributes.None)]
    [InlineData("ratime", RecursiveAttributes.None)]
    [InlineData("rnostrictatime", RecursiveAttributes.None)]
    [InlineData("rnorelatime", RecursiveAttributes.MOUNT_ATTR_STRICTATIME)]
    public void RecursiveAtimeOptions_SetOneModeAndClearTheModeField(string option, RecursiveAttributes mode)
    {
        var p = MountOptions.Parse(["rro", "rnoatime", option]);

        Assert.Equal(RecursiveAttributes.MOUNT_ATTR_RDONLY | mode, p.SetAttributes);
        Assert.Equal(RecursiveAttributes.MOUNT_ATTR__ATIME, p.ClearAttributes);
    }

    [Fact]
    public void Symfollow_ClearsNosymfollow()
    {
        var p = MountOptions.Parse(["nosymfollow", "symfollow"]);

        Assert.Equal(MountFlags.None, p.Flags);
        Assert.Equal(MountFlags.MS_NOSYMFOLLOW, p.ClearedFlags);
    }

    [Fact]
    public void EveryKnownOption_HasAnEffect_AndIsNotData()
    {
        foreach (var option in MountOptions.Known)
        {
            var p = MountOptions.Parse([option]);

            Assert.True(MountOptions.IsKnown(option), option);
            Assert.Equal("", p.Data);
            var acts = p.Flags != MountFlags.None || p.ClearedFlags != MountFlags.None || p.Propagation.Count > 0 ||
                p.SetAttributes != RecursiveAttributes.None || p.ClearAttributes != RecursiveAttributes.None || p.CopyUp || p.IdMap != IdMapOption.None;
            Assert.True(acts || option == "defaults", $"{option} is listed but changes nothing");
        }
    }

    [Fact]
    public void UnknownOptions_AreFilesystemData_JoinedByCommas()
    {
        var p = MountOptions.Parse(["nosuid", "mode=755", "size=65536k", "", "newinstance", "ptmxmode=0666"]);

        Assert.Equal("mode=755,size=65536k,newinstance,ptmxmode=0666", p.Data);
        Assert.Equal(MountFlags.MS_NOSUID, p.Flags);
    }

    [Fact]
    public void Tmpcopyup_IsItsOwnFlag_NotData()
    {
        var p = MountOptions.Parse(["tmpcopyup", "mode=1777"]);

        Assert.True(p.CopyUp);
        Assert.Equal("mode=1777", p.Data);
    }

    [Theory]
    [InlineData(new[] { "rbind", "idmap" }, IdMapOption.Top)]
    [InlineData(new[] { "ridmap", "rbind" }, IdMapOption.Recursive)]
    [InlineData(new[] { "idmap", "ridmap" }, IdMapOption.Recursive)]
    [InlineData(new[] { "rbind" }, IdMapOption.None)]
    public void IdmapAndRidmap_AreTheIdMapOption_NotData(string[] options, IdMapOption expected)
    {
        var p = MountOptions.Parse(options);

        Assert.Equal(expected, p.IdMap);
        Assert.Equal("", p.Data);
        Assert.True(MountOptions.IsKnown("idmap") && MountOptions.IsKnown("ridmap"));
    }

    [Fact]
    public void NoOptions_IsAnEmptyParse()
    {
        var p = MountOptions.Parse(null);

        Assert.Equal(MountFlags.None, p.Flags);
        Assert.Empty(p.Propagation);
        Assert.Equal("", p.Data);
        Assert.False(p.CopyUp);
    }

    [Theory]
    [InlineData(null, MountFlags.MS_SLAVE | MountFlags.MS_REC)]
    [InlineData("", MountFlags.MS_SLAVE | MountFlags.MS_REC)]
    [InlineData("rprivate", MountFlags.MS_PRIVATE | MountFlags.MS_REC)]
    [InlineData("shared", MountFlags.MS_SHARED)]
    public void RootPropagation_DefaultsToRslave(string? value, MountFlags expected) =>
        Assert.Equal(expected, MountOptions.RootPropagation(value));

    [Fact]
    public void RootPropagation_RefusesAnUnknownValue_ListingTheValidOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => MountOptions.RootPropagation("rsharde"));

        Assert.Contains("rsharde", e.Message, StringComparison.Ordinal);
        Assert.Contains("rshared", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Known_ListsEveryOptionOnce_Sorted()
    {
        var known = MountOptions.Known.ToList();

        Assert.Equal(known.Distinct().Count(), known.Count);
        Assert.Equal(known.Order(StringComparer.Ordinal), known);
        foreach (var option in new[] { "bind", "rbind", "ro", "rro", "rslave", "tmpcopyup", "nosymfollow" })
            Assert.Contains(option, known);
    }
}
