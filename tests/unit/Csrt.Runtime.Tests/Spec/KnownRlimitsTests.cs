using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

/// <summary>RLIMIT_* names to resource numbers, as the init plan and exec look them up.</summary>
public sealed class KnownRlimitsTests
{
    [Fact]
    public void GetResource_GivesTheKernelNumber()
    {
        Assert.Equal(7, KnownRlimits.GetResource("RLIMIT_NOFILE", "config.json", "$.process.rlimits[0].type"));
        Assert.Equal(15, KnownRlimits.GetResource("RLIMIT_RTTIME", "process", "$.rlimits[3].type"));
    }

    [Fact]
    public void GetResource_OfAnUnknownName_IsASpecErrorNamingFileAndPath()
    {
        var e = Assert.Throws<SpecValidationException>(() => KnownRlimits.GetResource("RLIMIT_BOGUS", "process", "$.rlimits[2].type"));
        Assert.Contains("process", e.Message);
        Assert.Contains("$.rlimits[2].type", e.Message);
        Assert.Contains("RLIMIT_BOGUS", e.Message);
    }
}
