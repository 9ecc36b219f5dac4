using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V2;

/// <summary>v2 hugetlb controller: hugetlb.&lt;size&gt;.max (and .rsvd.max where present, as runc).</summary>
internal static class Hugetlb
{
    public static void Set(string dir, List<LinuxHugepageLimit> limits) => V1.Hugetlb.SetLimits(dir, limits, "max");

    public static void Stats(string dir, Dictionary<string, HugetlbStats> into)
    {
        foreach (var size in Conversions.HostHugePageSizes())
        {
            var prefix = "hugetlb." + size;
            if (CgroupFs.TryReadUInt64(dir, prefix + ".current") is not { } usage)
                continue;
            ulong failcnt = 0;
            if (CgroupFs.TryRead(dir, prefix + ".events") is { } events)
                CgroupFs.TryGetKeyed(events, "max", out failcnt);
            into[size] = new HugetlbStats
            {
                Usage = usage,
                Failcnt = failcnt,
                Limit = CgroupFs.TryReadUInt64(dir, prefix + ".max") ?? ulong.MaxValue,
            };
        }
    }
}
