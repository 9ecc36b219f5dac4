using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V1;

/// <summary>v1 memory controller: memory.limit_in_bytes, memory.memsw.limit_in_bytes (memory+swap,
/// the OCI meaning of memory.swap), memory.soft_limit_in_bytes (reservation), memory.swappiness,
/// memory.oom_control (disableOOMKiller). Kernel memory limits are ignored with a warning, as runc
/// 1.1 and later do (the kernel deprecated them in 5.4 and removed them in 6.x).</summary>
internal static class Memory
{
    private const string Limit = "memory.limit_in_bytes";
    private const string SwapLimit = "memory.memsw.limit_in_bytes";

    /// <summary>Whether a value that needs the memory controller is requested (unset and unlimited do not).</summary>
    public static bool IsSet(LinuxMemory? m) =>
        m is not null && (m.Limit is > 0 || m.Reservation is > 0 || m.Swap is > 0 || m.DisableOOMKiller == true
            || (m.Swappiness is not null && m.Swappiness != ulong.MaxValue));

    public static void Set(string dir, LinuxMemory m, bool update, Action<string>? warn)
    {
        if (m.Kernel is not null || m.KernelTCP is not null)
            warn?.Invoke("linux.resources.memory.kernel and kernelTCP are ignored: kernel memory limits are deprecated (as in runc)");

        var limit = m.Limit ?? 0;
        var swap = m.Swap ?? 0;
        if (m.CheckBeforeUpdate == true && update && limit > 0)
            CheckUsageBelow(dir, limit);

        // Unlimited memory with swap not given means unlimited memory+swap too (runc), where swap
        // accounting exists.
        if (limit == -1 && swap == 0 && CgroupFs.Exists(dir, SwapLimit))
            swap = -1;
        if (swap != 0 && swap != -1 && !CgroupFs.Exists(dir, SwapLimit))
            throw CgroupException.Unsupported($"memory.swap {swap} requested, but {CgroupFs.PathOf(dir, SwapLimit)} does not exist: swap accounting is off on this host");
        if (swap == -1 && !CgroupFs.Exists(dir, SwapLimit))
            swap = 0;

        // memory+swap must stay >= memory at every step: when both change, raise the one that has to
        // go up first (runc's order: swap first when it is unlimited or above the current limit).
        if (limit != 0 && swap != 0)
        {
            var current = CgroupFs.ReadUInt64(dir, Limit);
            if (swap == -1 || current < (ulong)swap)
            {
                WriteSwap(dir, swap);
                WriteLimit(dir, limit);
                swap = limit = 0;
            }
        }
        if (limit != 0)
            WriteLimit(dir, limit);
        if (swap != 0)
            WriteSwap(dir, swap);

        if (m.Reservation is not null and not 0)
            CgroupFs.Write(dir, "memory.soft_limit_in_bytes", m.Reservation.Value);

        // A new cgroup has the OOM killer on; an update may turn it back on.
        if (m.DisableOOMKiller == true || (update && m.DisableOOMKiller == false))
            CgroupFs.Write(dir, "memory.oom_control", m.DisableOOMKiller == true ? "1" : "0");

        if (m.Swappiness is { } swappiness && swappiness != ulong.MaxValue) // -1 as unsigned: unset
        {
            if (swappiness > 100)
                throw CgroupException.Invalid($"memory.swappiness {swappiness} is out of range; expected 0 to 100");
            CgroupFs.Write(dir, "memory.swappiness", swappiness);
        }
    }

    private static void CheckUsageBelow(string dir, long limit)
    {
        var usage = CgroupFs.ReadUInt64(dir, "memory.usage_in_bytes");
        if (usage >= (ulong)limit)
            throw CgroupException.Invalid($"memory.limit {limit} is not above the current usage {usage} of {dir} (checkBeforeUpdate)");
    }

    private static void WriteLimit(string dir, long limit)
    {
        var value = CgroupFs.Format(limit);
        if (CgroupFs.TryWrite(dir, Limit, value, Errno.EBUSY) == Errno.EBUSY)
        {
            // The kernel could not reclaim below the new limit.
            var usage = CgroupFs.TryReadUInt64(dir, "memory.usage_in_bytes");
            var peak = CgroupFs.TryReadUInt64(dir, "memory.max_usage_in_bytes");
            throw CgroupException.Failed($"writing \"{value}\" to {CgroupFs.PathOf(dir, Limit)}: EBUSY; the limit is below the current usage {usage} (peak {peak})");
        }
    }

    private static void WriteSwap(string dir, long swap) => CgroupFs.Write(dir, SwapLimit, CgroupFs.Format(swap));

    public static void Read(string dir, LinuxMemory into)
    {
        into.Limit = ReadLimit(dir, Limit);
        into.Swap = CgroupFs.Exists(dir, SwapLimit) ? ReadLimit(dir, SwapLimit) : null;
        into.Reservation = ReadLimit(dir, "memory.soft_limit_in_bytes");
        into.Swappiness = CgroupFs.TryReadUInt64(dir, "memory.swappiness");
        if (CgroupFs.TryRead(dir, "memory.oom_control") is { } oom && CgroupFs.TryGetKeyed(oom, "oom_kill_disable", out var d))
            into.DisableOOMKiller = d != 0;
    }

    // v1 reports "no limit" as a huge page-aligned number; read it back as -1 like the spec says.
    private static long? ReadLimit(string dir, string file)
    {
        var v = CgroupFs.TryReadUInt64(dir, file);
        return v is null ? null : v.Value >= long.MaxValue / 2 ? -1 : (long)v.Value;
    }

    public static void Stats(string dir, MemoryStats s)
    {
        if (CgroupFs.TryRead(dir, "memory.stat") is { } stat)
        {
            CgroupFs.ParseFlatKeyed(stat, s.Stats, CgroupFs.PathOf(dir, "memory.stat"));
            s.Cache = s.Stats.GetValueOrDefault("cache");
        }
        s.Usage = Entry(dir, "memory.");
        s.SwapUsage = Entry(dir, "memory.memsw.");
        s.KernelUsage = Entry(dir, "memory.kmem.");
        s.KernelTcpUsage = Entry(dir, "memory.kmem.tcp.");
        s.SwapOnlyUsage = new MemoryEntry
        {
            Usage = s.SwapUsage.Usage > s.Usage.Usage ? s.SwapUsage.Usage - s.Usage.Usage : 0,
            Limit = s.SwapUsage.Limit,
        };
        s.UseHierarchy = CgroupFs.TryReadUInt64(dir, "memory.use_hierarchy") is null or 1;
        if (CgroupFs.TryRead(dir, "memory.oom_control") is { } oom)
            s.OomControl = ParseOomControl(oom);
    }

    private static MemoryEntry Entry(string dir, string prefix) => new()
    {
        Usage = CgroupFs.TryReadUInt64(dir, prefix + "usage_in_bytes") ?? 0,
        MaxUsage = CgroupFs.TryReadUInt64(dir, prefix + "max_usage_in_bytes") ?? 0,
        Failcnt = CgroupFs.TryReadUInt64(dir, prefix + "failcnt") ?? 0,
        Limit = CgroupFs.TryReadUInt64(dir, prefix + "limit_in_bytes") ?? 0,
    };

    /// <summary>"oom_kill_disable 0\nunder_oom 0\noom_kill 3".</summary>
    internal static OomControl ParseOomControl(string text)
    {
        CgroupFs.TryGetKeyed(text, "oom_kill_disable", out var disable);
        CgroupFs.TryGetKeyed(text, "under_oom", out var under);
        CgroupFs.TryGetKeyed(text, "oom_kill", out var kills);
        return new OomControl(disable != 0, under != 0, kills);
    }
}
