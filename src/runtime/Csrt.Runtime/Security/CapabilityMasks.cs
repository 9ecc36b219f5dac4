using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Security;

/// <summary>process.capabilities as the bit masks the kernel takes.</summary>
public static class CapabilityMasks
{
    /// <summary>The five sets; names the running kernel does not know are dropped (as runc does) and
    /// reported through <paramref name="unknown"/>.</summary>
    public static CapabilitySets From(LinuxCapabilities? caps, ICollection<string>? unknown = null)
    {
        if (caps is null)
            return default;
        return new CapabilitySets(
            Mask(caps.Bounding, unknown),
            Mask(caps.Effective, unknown),
            Mask(caps.Permitted, unknown),
            Mask(caps.Inheritable, unknown),
            Mask(caps.Ambient, unknown));
    }

    public static ulong Mask(IEnumerable<string>? names, ICollection<string>? unknown = null)
    {
        ulong mask = 0;
        foreach (var name in names ?? Array.Empty<string>())
        {
            if (KnownCapabilities.TryGetNumber(name, out var n) && n <= ProcessControl.LastCapability)
                mask |= 1UL << n;
            else
                unknown?.Add(name);
        }
        return mask;
    }

    /// <summary>Names of the bits set in <paramref name="mask"/>.</summary>
    public static List<string> Names(ulong mask)
    {
        var names = new List<string>();
        for (var i = 0; i < KnownCapabilities.All.Count; i++)
            if ((mask & (1UL << i)) != 0)
                names.Add(KnownCapabilities.All[i]);
        return names;
    }
}
