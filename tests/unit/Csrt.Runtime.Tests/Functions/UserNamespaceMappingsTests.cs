using Csrt.Runtime.Functions;
using Xunit;

namespace Csrt.Runtime.Tests.Functions;

public sealed class UserNamespaceMappingsTests
{
    private const string SubUid = "alice:100000:65536\nbob:165536:65536\n1003:231072:1000\nbroken line\n";

    [Fact]
    public void TheFirstRangeOfTheCaller_IsFoundByNameOrByUid()
    {
        Assert.Equal((165536u, 65536u), UserNamespaceMappings.FirstRange(SubUid, "bob", 1002));
        Assert.Equal((231072u, 1000u), UserNamespaceMappings.FirstRange(SubUid, "carol", 1003));
    }

    [Fact]
    public void ACallerWithoutARange_OrNoFile_GetsNone()
    {
        Assert.Null(UserNamespaceMappings.FirstRange(SubUid, "dave", 1004));
        Assert.Null(UserNamespaceMappings.FirstRange(null, "alice", 1001));
    }

    [Fact]
    public void TheSeccompCacheKey_ChangesWithTheProfile()
    {
        var a = DefaultSeccompProfile.Create();
        var b = DefaultSeccompProfile.Create();
        b.Syscalls![0].Names.Remove("ptrace");

        Assert.Equal(SeccompCache.KeyOf(a), SeccompCache.KeyOf(DefaultSeccompProfile.Create()));
        Assert.NotEqual(SeccompCache.KeyOf(a), SeccompCache.KeyOf(b));
    }
}
