using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.NamespaceSetup;

/// <summary>runc's rootless rules: which user namespace we are in, the default state root, the
/// spec a non-root caller needs, and which id maps it may write itself.</summary>
public sealed class RootlessTests
{
    [Theory]
    [InlineData("         0          0 4294967295\n", true)]
    [InlineData(null, true)]
    [InlineData("         0       1000          1\n", false)]
    [InlineData("         0       1000          1\n         1     100000      65536\n", false)]
    public void TheInitialUserNamespace_IsTheIdentityMapOfEveryId(string? uidMap, bool initial) =>
        Assert.Equal(initial, Rootless.IsInitialIdMap(uidMap));

    [Theory]
    [InlineData("/run/user/1000", 1000u, true, "alice", "/run/user/1000/csrt")]
    [InlineData(null, 1000u, true, "alice", "/run/csrt")]
    [InlineData("", 1000u, true, "alice", "/run/csrt")]
    [InlineData("/run/user/0", 0u, true, "root", "/run/csrt")]
    [InlineData("/run/user/1000", 0u, true, "alice", "/run/csrt")]
    [InlineData("/run/user/1000", 0u, false, "alice", "/run/user/1000/csrt")]
    [InlineData("/run/user/1000", 0u, false, null, "/run/user/1000/csrt")]
    [InlineData("/run/user/0", 0u, false, "root", "/run/csrt")]
    public void TheDefaultStateRoot_FollowsRuncsXdgRule(string? xdg, uint euid, bool initialUserNamespace, string? user, string expected) =>
        Assert.Equal(expected, Rootless.DefaultStateRoot(xdg, euid, initialUserNamespace, user));

    private static LinuxConfig Linux(bool userNamespace, bool uidMaps = true, bool gidMaps = true) => new()
    {
        Namespaces = userNamespace ? new List<LinuxNamespace> { new() { Type = "user" } } : new List<LinuxNamespace> { new() { Type = "pid" } },
        UidMappings = uidMaps ? new List<LinuxIdMapping> { new() { ContainerId = 0, HostId = 1000, Size = 1 } } : null,
        GidMappings = gidMaps ? new List<LinuxIdMapping> { new() { ContainerId = 0, HostId = 1000, Size = 1 } } : null,
    };

    [Fact]
    public void ANonRootCaller_WithoutAUserNamespace_IsRefusedNamingTheField()
    {
        var e = Assert.Throws<SpecValidationException>(() => Rootless.CheckSpec(Linux(userNamespace: false), 1000));

        Assert.Contains("$.linux.namespaces", e.Message, StringComparison.Ordinal);
        Assert.Contains("spec --rootless", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ANonRootCaller_WithoutUidMappings_IsRefusedNamingTheField()
    {
        var e = Assert.Throws<SpecValidationException>(() => Rootless.CheckSpec(Linux(userNamespace: true, uidMaps: false), 1000));

        Assert.Contains("$.linux.uidMappings", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Root_NeedsNoUserNamespace_AndANonRootCallerWithOneIsAccepted()
    {
        Rootless.CheckSpec(Linux(userNamespace: false), 0);
        Rootless.CheckSpec(Linux(userNamespace: true), 1000);
    }

    [Fact]
    public void OnlyTheCallersOwnSingleId_IsWrittenWithoutTheHelpers()
    {
        var own = new List<LinuxIdMapping> { new() { ContainerId = 0, HostId = 1000, Size = 1 } };
        var range = new List<LinuxIdMapping> { new() { ContainerId = 0, HostId = 1000, Size = 1 }, new() { ContainerId = 1, HostId = 100000, Size = 65536 } };
        var other = new List<LinuxIdMapping> { new() { ContainerId = 0, HostId = 100000, Size = 1 } };

        Assert.True(IdMaps.IsOwnIdOnly(own, 1000));
        Assert.False(IdMaps.IsOwnIdOnly(range, 1000));
        Assert.False(IdMaps.IsOwnIdOnly(other, 1000));
        Assert.Equal(new[] { "newuidmap", "42", "0", "1000", "1", "1", "100000", "65536" }, IdMaps.HelperArguments("newuidmap", 42, range));
    }
}
