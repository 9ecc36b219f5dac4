using System.Formats.Tar;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Images;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Images;

public sealed class IdMapTests
{
    private static List<LinuxIdMapping> Map(params (uint Container, uint Host, uint Size)[] ranges) =>
        ranges.Select(r => new LinuxIdMapping { ContainerId = r.Container, HostId = r.Host, Size = r.Size }).ToList();

    private static PaxTarEntry Entry(string name, int uid, int gid) =>
        new(TarEntryType.RegularFile, name) { Uid = uid, Gid = gid };

    [Fact]
    public void IdsInsideTheMappings_AreTheOwners_AsTheImageHasThem()
    {
        var ids = IdMap.Of(Map((0, 1000, 1), (1, 100000, 65536)), Map((0, 1000, 1), (1, 100000, 65536)));

        Assert.Equal((0u, 0u), ids.Owner(Entry("a", 0, 0), "sha256:l"));
        Assert.Equal((65536u, 50u), ids.Owner(Entry("a", 65536, 50), "sha256:l"));
    }

    [Fact]
    public void AnIdOutsideTheMappings_IsRefused_NamingTheLayerTheFileAndTheId()
    {
        var ids = IdMap.Of(Map((0, 1000, 1)), Map((0, 1000, 1), (1, 100000, 10)));

        var uid = Assert.Throws<CsrtException>(() => ids.Owner(Entry("etc/app", 1000, 0), "sha256:l"));
        var gid = Assert.Throws<CsrtException>(() => ids.Owner(Entry("etc/shadow", 0, 11), "sha256:l"));

        Assert.Equal(ErrorKind.Unsupported, uid.Kind);
        Assert.StartsWith("layer sha256:l: \"etc/app\" is owned by uid 1000, which the user namespace (uid [0:1000:1] gid [0:1000:1,1:100000:10]", uid.Message, StringComparison.Ordinal);
        Assert.Contains("/etc/subuid", uid.Message, StringComparison.Ordinal);
        Assert.StartsWith("layer sha256:l: \"etc/shadow\" is owned by gid 11,", gid.Message, StringComparison.Ordinal);
        Assert.Contains("/etc/subgid", gid.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheIdentity_TakesEveryOwner()
    {
        Assert.Equal((4000000000u, 7u), IdMap.Identity.Owner(Entry("a", unchecked((int)4000000000u), 7), "sha256:l"));
    }

    [Fact]
    public void TheCacheKey_DiffersPerMapping_AndIsStableForOne()
    {
        var own = new UserNamespaceIds(Map((0, 1000, 1)), Map((0, 1000, 1)));
        var ranges = new UserNamespaceIds(Map((0, 1000, 1), (1, 100000, 65536)), Map((0, 1000, 1), (1, 100000, 65536)));
        var otherGids = new UserNamespaceIds(Map((0, 1000, 1), (1, 100000, 65536)), Map((0, 1000, 1), (1, 200000, 65536)));

        Assert.Equal(own.Key, new UserNamespaceIds(Map((0, 1000, 1)), Map((0, 1000, 1))).Key);
        Assert.Equal(16, own.Key.Length);
        Assert.Equal(3, new[] { own.Key, ranges.Key, otherGids.Key }.Distinct().Count());
    }
}
