using System.Text.Json;
using Csrt.Runtime.Cgroups;

namespace Csrt.Cli;

/// <summary>`events` output in runc's shapes: {"type":"stats","id":…,"data":{cpu, memory, pids,
/// blkio, hugetlb}} and {"type":"oom","id":…}, field names as runc's types package writes them.</summary>
internal static class EventsJson
{
    public static byte[] Oom(string id) => Write(w =>
    {
        w.WriteString("type", "oom");
        w.WriteString("id", id);
    });

    public static byte[] Stats(string id, CgroupStats s) => Write(w =>
    {
        w.WriteString("type", "stats");
        w.WriteString("id", id);
        w.WriteStartObject("data");

        w.WriteStartObject("cpu");
        w.WriteStartObject("usage");
        Numbers(w, "percpu", s.Cpu.PerCpuUsageNs);
        Numbers(w, "percpu_kernel", s.Cpu.PerCpuKernelNs);
        Numbers(w, "percpu_user", s.Cpu.PerCpuUserNs);
        w.WriteNumber("total", s.Cpu.TotalUsageNs);
        w.WriteNumber("kernel", s.Cpu.KernelUsageNs);
        w.WriteNumber("user", s.Cpu.UserUsageNs);
        w.WriteEndObject();
        w.WriteStartObject("throttling");
        w.WriteNumber("periods", s.Cpu.Periods);
        w.WriteNumber("throttled_periods", s.Cpu.ThrottledPeriods);
        w.WriteNumber("throttled_time", s.Cpu.ThrottledTimeNs);
        w.WriteEndObject();
        w.WriteEndObject();

        if (s.Cpuset is { } cpuset)
        {
            // runc writes the lists as arrays of numbers ("0-2,4" → [0,1,2,4]).
            w.WriteStartObject("cpuset");
            Numbers(w, "cpus", ExpandList(cpuset.Cpus));
            Numbers(w, "mems", ExpandList(cpuset.Mems));
            w.WriteEndObject();
        }

        w.WriteStartObject("memory");
        w.WriteNumber("cache", s.Memory.Cache);
        Entry(w, "usage", s.Memory.Usage);
        Entry(w, "swap", s.Memory.SwapUsage);
        Entry(w, "kernel", s.Memory.KernelUsage);
        Entry(w, "kernelTCP", s.Memory.KernelTcpUsage);
        w.WriteStartObject("raw");
        foreach (var (k, v) in s.Memory.Stats)
            w.WriteNumber(k, v);
        w.WriteEndObject();
        w.WriteEndObject();

        w.WriteStartObject("pids");
        w.WriteNumber("current", s.Pids.Current);
        if (s.Pids.Limit != 0)
            w.WriteNumber("limit", s.Pids.Limit); // runc: omitted when unlimited
        w.WriteEndObject();

        w.WriteStartObject("blkio");
        Blkio(w, "ioServiceBytesRecursive", s.Blkio.IoServiceBytesRecursive);
        Blkio(w, "ioServicedRecursive", s.Blkio.IoServicedRecursive);
        Blkio(w, "ioQueueRecursive", s.Blkio.IoQueuedRecursive);
        Blkio(w, "ioServiceTimeRecursive", s.Blkio.IoServiceTimeRecursive);
        Blkio(w, "ioWaitTimeRecursive", s.Blkio.IoWaitTimeRecursive);
        Blkio(w, "ioMergedRecursive", s.Blkio.IoMergedRecursive);
        Blkio(w, "ioTimeRecursive", s.Blkio.IoTimeRecursive);
        Blkio(w, "sectorsRecursive", s.Blkio.SectorsRecursive);
        w.WriteEndObject();

        w.WriteStartObject("hugetlb");
        foreach (var (size, h) in s.Hugetlb)
        {
            w.WriteStartObject(size);
            w.WriteNumber("usage", h.Usage);
            w.WriteNumber("max", h.MaxUsage);
            w.WriteNumber("failcnt", h.Failcnt);
            w.WriteEndObject();
        }
        w.WriteEndObject();

        // Present in runc's output even where the host has neither (Intel RDT, network stats).
        w.WriteStartObject("intel_rdt");
        w.WriteEndObject();
        w.WriteNull("network_interfaces");

        w.WriteEndObject();
    });

    /// <summary>A kernel list such as "0-2,4" as its numbers; empty or malformed parts are skipped.</summary>
    internal static ulong[] ExpandList(string list)
    {
        var values = new List<ulong>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var range = part.Split('-');
            if (!ulong.TryParse(range[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var first))
                continue;
            var last = first;
            if (range.Length == 2 && !ulong.TryParse(range[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out last))
                continue;
            for (var v = first; v <= last && values.Count < 65536; v++)
                values.Add(v);
        }
        return values.ToArray();
    }

    private static void Numbers(Utf8JsonWriter w, string name, ulong[] values)
    {
        if (values.Length == 0)
            return;
        w.WriteStartArray(name);
        foreach (var v in values)
            w.WriteNumberValue(v);
        w.WriteEndArray();
    }

    private static void Entry(Utf8JsonWriter w, string name, MemoryEntry e)
    {
        w.WriteStartObject(name);
        w.WriteNumber("limit", e.Limit);
        w.WriteNumber("usage", e.Usage);
        w.WriteNumber("max", e.MaxUsage);
        w.WriteNumber("failcnt", e.Failcnt);
        w.WriteEndObject();
    }

    private static void Blkio(Utf8JsonWriter w, string name, List<BlkioEntry> entries)
    {
        if (entries.Count == 0)
            return;
        w.WriteStartArray(name);
        foreach (var e in entries)
        {
            w.WriteStartObject();
            w.WriteNumber("major", e.Major);
            w.WriteNumber("minor", e.Minor);
            w.WriteString("op", e.Op);
            w.WriteNumber("value", e.Value);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }
}
