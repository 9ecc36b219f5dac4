using Csrt.Linux;
using Csrt.Runtime.Security;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Security;

public sealed class CapabilityMasksTests
{
    [Fact]
    public void Names_BecomeBitsAtTheirCapabilityNumbers()
    {
        Assert.Equal((1UL << 0) | (1UL << 5) | (1UL << 21), CapabilityMasks.Mask(["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"]));
        Assert.Equal(0UL, CapabilityMasks.Mask(null));
        Assert.Equal(0UL, CapabilityMasks.Mask([]));
    }

    [Fact]
    public void UnknownNames_AreDropped_AndReported()
    {
        var unknown = new List<string>();

        var mask = CapabilityMasks.Mask(["CAP_KILL", "CAP_NOT_A_THING", "cap_kill"], unknown);

        Assert.Equal(1UL << 5, mask);
        Assert.Equal(["CAP_NOT_A_THING", "cap_kill"], unknown);
    }

    [Fact]
    public void CapabilitiesTheKernelDoesNotKnow_AreDropped()
    {
        var beyond = KnownCapabilities.All.Skip(ProcessControl.LastCapability + 1).ToList();
        var unknown = new List<string>();

        var mask = CapabilityMasks.Mask(KnownCapabilities.All, unknown);

        Assert.Equal(beyond, unknown);
        Assert.Equal(ProcessControl.LastCapability >= 63 ? ulong.MaxValue : (1UL << (ProcessControl.LastCapability + 1)) - 1, mask);
    }

    [Fact]
    public void From_GivesTheFiveSets_OrNothing()
    {
        var sets = CapabilityMasks.From(new LinuxCapabilities
        {
            Bounding = ["CAP_KILL", "CAP_CHOWN"],
            Effective = ["CAP_KILL"],
            Permitted = ["CAP_CHOWN"],
            Inheritable = ["CAP_NET_BIND_SERVICE"],
            Ambient = ["CAP_NET_RAW"],
        });

        Assert.Equal(new CapabilitySets(0x21, 0x20, 0x1, 1UL << 10, 1UL << 13), sets);
        Assert.Equal(default, CapabilityMasks.From(null));
    }

    [Fact]
    public void Names_RoundTrip()
    {
        string[] caps = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_AUDIT_WRITE"];

        Assert.Equal(caps, CapabilityMasks.Names(CapabilityMasks.Mask(caps)));
    }
}
