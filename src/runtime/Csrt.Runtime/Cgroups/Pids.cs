using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups;

/// <summary>pids controller; the same files on v1 and v2 (pids.max, pids.current).</summary>
internal static class Pids
{
    public static bool IsSet(LinuxPids? p) => p?.Limit is > 0;

    /// <summary>A limit ≤ 0 means unlimited ("max"), as the model documents and runc writes it.</summary>
    public static void Set(string dir, LinuxPids p)
    {
        if (p.Limit is not { } limit)
            return;
        CgroupFs.Write(dir, "pids.max", limit > 0 ? CgroupFs.Format(limit) : "max");
    }

    public static void Read(string dir, LinuxPids into)
    {
        var v = CgroupFs.TryReadUInt64(dir, "pids.max");
        into.Limit = v is null ? null : v == ulong.MaxValue ? -1 : (long)v.Value;
    }

    public static void Stats(string dir, PidsStats s)
    {
        s.Current = CgroupFs.TryReadUInt64(dir, "pids.current") ?? 0;
        var max = CgroupFs.TryReadUInt64(dir, "pids.max") ?? ulong.MaxValue;
        s.Limit = max == ulong.MaxValue ? 0 : max;
    }
}
