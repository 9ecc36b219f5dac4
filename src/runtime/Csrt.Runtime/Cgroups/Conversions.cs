using System.Globalization;

namespace Csrt.Runtime.Cgroups;

/// <summary>The v1 → v2 value conversions runc applies (libcontainer/cgroups utils), and hugepage
/// size names.</summary>
public static class Conversions
{
    /// <summary>cpu.shares [2, 262144] → cpu.weight [1, 10000]; 0 means unset. This is the quadratic
    /// fit in log2 space runc and crun adopted (runc PR 4785, kubernetes issue 131216): it maps the
    /// v1 default 1024 to the v2 default 100, which the old linear formula
    /// 1 + (shares − 2) × 9999 / 262142 (1024 → 39) did not.</summary>
    public static ulong CpuSharesToWeight(ulong shares)
    {
        if (shares == 0)
            return 0;
        if (shares <= 2)
            return 1;
        if (shares >= 262144)
            return 10000;
        var l = Math.Log2(shares);
        var exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
        return (ulong)Math.Ceiling(Math.Pow(10, exponent));
    }

    /// <summary>blkio.weight [10, 1000] → io.weight [1, 10000] (used when io.bfq.weight is absent); 0 = unset.</summary>
    public static ulong BlkioWeightToIoWeight(ushort weight) =>
        weight == 0 ? 0 : 1 + ((ulong)weight - 10) * 9999 / 990;

    /// <summary>OCI memory.swap is memory+swap; cgroup v2 memory.swap.max is swap alone. Returns the
    /// value for memory.swap.max: -1 = "max", 0 = leave unset, else swap − limit. Mirrors runc's
    /// ConvertMemorySwapToCgroupV2Value, including its errors.</summary>
    public static long MemorySwapToV2(long swap, long limit)
    {
        // Unlimited memory with no swap setting means "unlimited both", as on v1.
        if (limit == -1 && swap == 0)
            return -1;
        if (swap is -1 or 0)
            return swap;
        if (limit is 0 or -1)
            throw CgroupException.Invalid($"memory.swap {swap} needs a memory.limit (got {limit}): cgroup v2 sets swap as swap − limit");
        if (limit < 0)
            throw CgroupException.Invalid($"invalid memory.limit {limit}");
        if (swap < limit)
            throw CgroupException.Invalid($"memory.swap {swap} (memory+swap) must be at least memory.limit {limit}");
        return swap - limit;
    }

    private static readonly Lazy<IReadOnlyList<string>> HugePageSizes = new(ReadHugePageSizes);

    /// <summary>Hugepage sizes of the host as the kernel names them in cgroup files ("2MB", "1GB"),
    /// from /sys/kernel/mm/hugepages/hugepages-&lt;N&gt;kB; read once (they are fixed at boot).</summary>
    public static IReadOnlyList<string> HostHugePageSizes() => HugePageSizes.Value;

    private static IReadOnlyList<string> ReadHugePageSizes()
    {
        var names = new List<string>();
        List<string> entries;
        try
        {
            entries = Csrt.Linux.Files.ListDirectory("/sys/kernel/mm/hugepages");
        }
        catch (Csrt.Linux.SyscallException)
        {
            return names;
        }
        foreach (var e in entries)
        {
            if (HugePageDirToSize(e) is { } size)
                names.Add(size);
        }
        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>"hugepages-2048kB" → "2MB" (the kernel's hugetlb cgroup file names use 1024-based
    /// units KB, MB, GB).</summary>
    public static string? HugePageDirToSize(string dirName)
    {
        const string prefix = "hugepages-", suffix = "kB";
        if (!dirName.StartsWith(prefix, StringComparison.Ordinal) || !dirName.EndsWith(suffix, StringComparison.Ordinal))
            return null;
        var digits = dirName.AsSpan(prefix.Length, dirName.Length - prefix.Length - suffix.Length);
        if (!ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var kb) || kb == 0)
            return null;
        string[] units = { "KB", "MB", "GB", "TB", "PB" };
        var unit = 0;
        while (kb % 1024 == 0 && unit < units.Length - 1)
        {
            kb /= 1024;
            unit++;
        }
        return kb.ToString(CultureInfo.InvariantCulture) + units[unit];
    }
}
