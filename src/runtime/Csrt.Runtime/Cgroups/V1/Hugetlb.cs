using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V1;

/// <summary>v1 hugetlb controller: hugetlb.&lt;size&gt;.limit_in_bytes (and .rsvd.limit_in_bytes where
/// the kernel has reservation accounting, which runc sets to the same value).</summary>
internal static class Hugetlb
{
    public static bool IsSet(List<LinuxHugepageLimit>? limits) => limits is { Count: > 0 };

    public static void Set(string dir, List<LinuxHugepageLimit> limits) => SetLimits(dir, limits, "limit_in_bytes");

    /// <summary>hugetlb.&lt;size&gt;.&lt;limitFile&gt; for each limit, and hugetlb.&lt;size&gt;.rsvd.&lt;limitFile&gt;
    /// as long as the kernel has reservation accounting (the v1 and v2 controllers differ only in
    /// the file's name).</summary>
    internal static void SetLimits(string dir, List<LinuxHugepageLimit> limits, string limitFile)
    {
        var skipRsvd = false;
        foreach (var l in limits)
        {
            CheckPageSize(l.PageSize);
            var prefix = "hugetlb." + l.PageSize;
            CgroupFs.Write(dir, prefix + "." + limitFile, l.Limit);
            if (skipRsvd)
                continue;
            if (CgroupFs.Exists(dir, prefix + ".rsvd." + limitFile))
                CgroupFs.Write(dir, prefix + ".rsvd." + limitFile, l.Limit);
            else
                skipRsvd = true;
        }
    }

    /// <summary>Refuses a page size the host does not have, naming the ones it has.</summary>
    internal static void CheckPageSize(string pageSize)
    {
        var sizes = Conversions.HostHugePageSizes();
        if (sizes.Count > 0 && !sizes.Contains(pageSize))
            throw CgroupException.Invalid($"hugepageLimits pageSize \"{pageSize}\" is not a hugepage size of this host; expected one of {string.Join(", ", sizes)}");
    }

    public static void Stats(string dir, Dictionary<string, HugetlbStats> into)
    {
        foreach (var size in Conversions.HostHugePageSizes())
        {
            var prefix = "hugetlb." + size;
            if (CgroupFs.TryReadUInt64(dir, prefix + ".usage_in_bytes") is not { } usage)
                continue;
            into[size] = new HugetlbStats
            {
                Usage = usage,
                MaxUsage = CgroupFs.TryReadUInt64(dir, prefix + ".max_usage_in_bytes") ?? 0,
                Failcnt = CgroupFs.TryReadUInt64(dir, prefix + ".failcnt") ?? 0,
                Limit = CgroupFs.TryReadUInt64(dir, prefix + ".limit_in_bytes") ?? 0,
            };
        }
    }
}
