using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.NamespaceSetup;

/// <summary>Reading and comparing user namespace mappings (the joined-namespace check and the
/// reuse of one namespace per mapping for id-mapped mounts).</summary>
public sealed class UserNamespaceMappingsTests
{
    private static LinuxIdMapping Map(uint container, uint host, uint size) => new() { ContainerId = container, HostId = host, Size = size };

    [Fact]
    public void TheKernelsPaddedUidMapText_ParsesIntoItsRanges()
    {
        var maps = UserNamespaces.ParseMap("         0     100000      65536\n     65536          0          1\n");

        Assert.Equal([(0u, 100000u, 65536u), (65536u, 0u, 1u)], maps.Select(m => (m.ContainerId, m.HostId, m.Size)));
    }

    [Fact]
    public void TheSameRangesInAnotherOrder_AreTheSameMappings()
    {
        Assert.True(UserNamespaces.SameMappings([Map(0, 100000, 1000), Map(1000, 5000, 10)], [Map(1000, 5000, 10), Map(0, 100000, 1000)]));
    }

    [Theory]
    [InlineData(0u, 100001u, 1000u)]
    [InlineData(0u, 100000u, 999u)]
    [InlineData(1u, 100000u, 1000u)]
    public void ARangeThatDiffersInAnyField_IsNotTheSameMapping(uint container, uint host, uint size)
    {
        Assert.False(UserNamespaces.SameMappings([Map(0, 100000, 1000)], [Map(container, host, size)]));
    }

    [Fact]
    public void AnExtraRange_IsNotTheSameMapping()
    {
        Assert.False(UserNamespaces.SameMappings([Map(0, 100000, 1000)], [Map(0, 100000, 1000), Map(1000, 0, 1)]));
    }

    [Fact]
    public void MappingText_IsContainerdsUidmapOptionForm()
    {
        Assert.Equal("0:100000:65536,65536:0:1", UserNamespaces.MappingText([Map(0, 100000, 65536), Map(65536, 0, 1)]));
    }

    [Fact]
    public void ContainerdsUidmapOption_ParsesEveryRange()
    {
        var maps = UserNamespaces.ParseMappingText("0:100000:65536,65536:0:1", "uidmap=");

        Assert.Equal([(0u, 100000u, 65536u), (65536u, 0u, 1u)], maps.Select(m => (m.ContainerId, m.HostId, m.Size)));
    }

    [Theory]
    [InlineData("0:100000")]
    [InlineData("0:x:1")]
    [InlineData("0:1:0")]
    [InlineData("-1:1:1")]
    [InlineData("0:1:1,")]
    public void AMalformedUidmapOption_IsAnInvalidArgumentNamingTheOptionAndTheRange(string text)
    {
        var e = Assert.Throws<Csrt.Runtime.Errors.CsrtException>(() => UserNamespaces.ParseMappingText(text, "rootfs uidmap="));

        Assert.Equal(Csrt.Runtime.Errors.ErrorKind.InvalidArgument, e.Kind);
        Assert.StartsWith("rootfs uidmap=: expected containerID:hostID:size", e.Message, StringComparison.Ordinal);
    }
}
