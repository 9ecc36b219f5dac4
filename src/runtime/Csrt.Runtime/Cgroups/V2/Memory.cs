using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V2;

/// <summary>v2 memory controller: memory.max (limit), memory.low (reservation), memory.swap.max
/// (swap alone: OCI swap − limit, see <see cref="Conversions.MemorySwapToV2"/>). v2 has no swappiness,
/// OOM-killer switch or kernel memory limit: those are ignored with a warning.</summary>
internal static class Memory
{
    public static bool IsSet(LinuxMemory? m) =>
        m is not null && (m.Limit is > 0 || m.Reservation is > 0 || m.Swap is > 0);

    public static void Set(string dir, LinuxMemory m, bool update, Action<string>? warn)
    {
        if (m.Kernel is not null || m.KernelTCP is not null)
            warn?.Invoke("linux.resources.memory.kernel and kernelTCP are ignored: kernel memory limits are deprecated (as in runc)");
        if (m.Swappiness is { } sw && sw != ulong.MaxValue)
            warn?.Invoke("linux.resources.memory.swappiness is ignored: cgroup v2 has no per-cgroup swappiness");
        if (m.DisableOOMKiller == true)
            warn?.Invoke("linux.resources.memory.disableOOMKiller is ignored: cgroup v2 cannot disable the OOM killer");

        var limit = m.Limit ?? 0;
        if (m.CheckBeforeUpdate == true && update && limit > 0)
        {
            var usage = CgroupFs.ReadUInt64(dir, "memory.current");
            if (usage >= (ulong)limit)
                throw CgroupException.Invalid($"memory.limit {limit} is not above the current usage {usage} of {dir} (checkBeforeUpdate)");
        }

        if (m.Swap is not null || limit == -1)
        {
            // The v2 value needs the memory limit: the new one, or the one in force.
            var effectiveLimit = limit != 0 ? limit : CurrentLimit(dir);
            var swap = Conversions.MemorySwapToV2(m.Swap ?? 0, effectiveLimit);
            // 0 with a positive swap is swap equal to the limit: no swap at all, written as "0" (as runc
            // does); 0 without one leaves the file alone.
            if (swap != 0 || m.Swap > 0)
            {
                var value = swap == -1 ? "max" : CgroupFs.Format(swap);
                if (!CgroupFs.Exists(dir, "memory.swap.max"))
                {
                    // No swap accounting: "unlimited" and "none" are what the host does anyway (runc
                    // ignores both there too).
                    if (value is not ("max" or "0"))
                        throw CgroupException.Unsupported($"memory.swap {m.Swap} requested, but {CgroupFs.PathOf(dir, "memory.swap.max")} does not exist: swap accounting is off on this host");
                }
                else
                {
                    CgroupFs.Write(dir, "memory.swap.max", value);
                }
            }
        }
        if (limit != 0)
            CgroupFs.Write(dir, "memory.max", limit < 0 ? "max" : CgroupFs.Format(limit));
        if (m.Reservation is not null and not 0)
            CgroupFs.Write(dir, "memory.low", m.Reservation < 0 ? "max" : CgroupFs.Format(m.Reservation.Value));
    }

    private static long CurrentLimit(string dir)
    {
        var v = CgroupFs.TryReadUInt64(dir, "memory.max");
        return v is null || v == ulong.MaxValue ? -1 : (long)v.Value;
    }

    public static void Read(string dir, LinuxMemory into)
    {
        into.Limit = CurrentLimit(dir);
        var low = CgroupFs.TryReadUInt64(dir, "memory.low");
        into.Reservation = low is null ? null : low == ulong.MaxValue ? -1 : (long)low.Value;
        var swap = CgroupFs.TryReadUInt64(dir, "memory.swap.max");
        // Back to the OCI meaning (memory+swap).
        into.Swap = swap is null ? null : swap == ulong.MaxValue || into.Limit == -1 ? -1 : (long)swap.Value + into.Limit;
    }

    public static void Stats(string dir, MemoryStats s)
    {
        if (CgroupFs.TryRead(dir, "memory.stat") is { } stat)
        {
            CgroupFs.ParseFlatKeyed(stat, s.Stats, CgroupFs.PathOf(dir, "memory.stat"));
            s.Cache = s.Stats.GetValueOrDefault("file");
        }
        var events = CgroupFs.TryRead(dir, "memory.events");
        if (events is not null)
            s.Events = ParseEvents(events);
        s.Usage = new MemoryEntry
        {
            Usage = CgroupFs.TryReadUInt64(dir, "memory.current") ?? 0,
            MaxUsage = CgroupFs.TryReadUInt64(dir, "memory.peak") ?? 0,
            Limit = CgroupFs.TryReadUInt64(dir, "memory.max") ?? ulong.MaxValue,
            Failcnt = s.Events?.Max ?? 0,
        };
        s.SwapOnlyUsage = new MemoryEntry
        {
            Usage = CgroupFs.TryReadUInt64(dir, "memory.swap.current") ?? 0,
            MaxUsage = CgroupFs.TryReadUInt64(dir, "memory.swap.peak") ?? 0,
            Limit = CgroupFs.TryReadUInt64(dir, "memory.swap.max") ?? 0,
        };
        // v1 reports memory+swap; runc gives v2 the same meaning for compatibility (no peak).
        s.SwapUsage = new MemoryEntry
        {
            Usage = s.SwapOnlyUsage.Usage + s.Usage.Usage,
            Limit = s.SwapOnlyUsage.Limit == ulong.MaxValue || s.Usage.Limit == ulong.MaxValue
                ? ulong.MaxValue
                : s.SwapOnlyUsage.Limit + s.Usage.Limit,
        };
        s.UseHierarchy = true;
        if (CgroupFs.TryRead(dir, "memory.pressure") is { } psi)
            s.Pressure = Pressure.Parse(psi);
    }

    /// <summary>"low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0".</summary>
    internal static MemoryEvents ParseEvents(string text)
    {
        CgroupFs.TryGetKeyed(text, "low", out var low);
        CgroupFs.TryGetKeyed(text, "high", out var high);
        CgroupFs.TryGetKeyed(text, "max", out var max);
        CgroupFs.TryGetKeyed(text, "oom", out var oom);
        CgroupFs.TryGetKeyed(text, "oom_kill", out var kill);
        CgroupFs.TryGetKeyed(text, "oom_group_kill", out var group);
        return new MemoryEvents(low, high, max, oom, kill, group);
    }
}
