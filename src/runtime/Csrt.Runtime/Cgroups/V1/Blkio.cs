using System.Globalization;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V1;

/// <summary>v1 blkio controller. Weights go to blkio.weight (CFQ) or, when only BFQ is there,
/// blkio.bfq.weight (runc's detection); throttles to blkio.throttle.*_device, one device per write.</summary>
internal static class Blkio
{
    public static bool IsSet(LinuxBlockIO? b) =>
        b is not null && (b.Weight is > 0 || b.LeafWeight is > 0 || b.WeightDevice is { Count: > 0 }
            || b.ThrottleReadBpsDevice is { Count: > 0 } || b.ThrottleWriteBpsDevice is { Count: > 0 }
            || b.ThrottleReadIOPSDevice is { Count: > 0 } || b.ThrottleWriteIOPSDevice is { Count: > 0 });

    public static void Set(string dir, LinuxBlockIO b)
    {
        var bfq = !CgroupFs.Exists(dir, "blkio.weight") && CgroupFs.Exists(dir, "blkio.bfq.weight");
        var weightFile = bfq ? "blkio.bfq.weight" : "blkio.weight";
        var weightDeviceFile = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";
        if (b.Weight is > 0 and var w)
            CgroupFs.Write(dir, weightFile, w);
        if (b.LeafWeight is > 0 and var lw)
            CgroupFs.Write(dir, "blkio.leaf_weight", lw);
        foreach (var d in b.WeightDevice ?? Enumerable.Empty<LinuxWeightDevice>())
        {
            if (d.Weight is { } dw)
                CgroupFs.Write(dir, weightDeviceFile, Device(d.Major, d.Minor) + " " + dw.ToString(CultureInfo.InvariantCulture));
            if (d.LeafWeight is { } dlw)
                CgroupFs.Write(dir, "blkio.leaf_weight_device", Device(d.Major, d.Minor) + " " + dlw.ToString(CultureInfo.InvariantCulture));
        }
        Throttle(dir, "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice);
        Throttle(dir, "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice);
        Throttle(dir, "blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice);
        Throttle(dir, "blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice);
    }

    private static void Throttle(string dir, string file, List<LinuxThrottleDevice>? devices)
    {
        foreach (var t in devices ?? Enumerable.Empty<LinuxThrottleDevice>())
            CgroupFs.Write(dir, file, Device(t.Major, t.Minor) + " " + t.Rate.ToString(CultureInfo.InvariantCulture));
    }

    internal static string Device(long major, long minor) =>
        major.ToString(CultureInfo.InvariantCulture) + ":" + minor.ToString(CultureInfo.InvariantCulture);

    public static void Read(string dir, LinuxBlockIO into)
    {
        var w = CgroupFs.TryReadUInt64(dir, "blkio.weight");
        if (w is null && CgroupFs.TryRead(dir, "blkio.bfq.weight") is { } bfq)
        {
            // BFQ prints "default N" on newer kernels, a bare number on older ones.
            var text = bfq.Trim();
            if (text.StartsWith("default ", StringComparison.Ordinal))
                text = text["default ".Length..].Split('\n')[0];
            w = CgroupFs.ParseUInt64(text, "blkio.bfq.weight");
        }
        into.Weight = w is null ? null : (ushort)w.Value;
    }

    // runc's order (fs/blkio.go): BFQ debug files, BFQ, CFQ, throttle recursive, throttle.
    // A group is used when its first file has data; the rest of the group must then exist.
    private static readonly (string File, Func<BlkioStats, List<BlkioEntry>> Target)[][] Groups =
    {
        new (string, Func<BlkioStats, List<BlkioEntry>>)[]
        {
            ("blkio.bfq.sectors_recursive", s => s.SectorsRecursive),
            ("blkio.bfq.io_service_time_recursive", s => s.IoServiceTimeRecursive),
            ("blkio.bfq.io_wait_time_recursive", s => s.IoWaitTimeRecursive),
            ("blkio.bfq.io_merged_recursive", s => s.IoMergedRecursive),
            ("blkio.bfq.io_queued_recursive", s => s.IoQueuedRecursive),
            ("blkio.bfq.time_recursive", s => s.IoTimeRecursive),
            ("blkio.bfq.io_serviced_recursive", s => s.IoServicedRecursive),
            ("blkio.bfq.io_service_bytes_recursive", s => s.IoServiceBytesRecursive),
        },
        new (string, Func<BlkioStats, List<BlkioEntry>>)[]
        {
            ("blkio.bfq.io_serviced_recursive", s => s.IoServicedRecursive),
            ("blkio.bfq.io_service_bytes_recursive", s => s.IoServiceBytesRecursive),
        },
        new (string, Func<BlkioStats, List<BlkioEntry>>)[]
        {
            ("blkio.sectors_recursive", s => s.SectorsRecursive),
            ("blkio.io_service_time_recursive", s => s.IoServiceTimeRecursive),
            ("blkio.io_wait_time_recursive", s => s.IoWaitTimeRecursive),
            ("blkio.io_merged_recursive", s => s.IoMergedRecursive),
            ("blkio.io_queued_recursive", s => s.IoQueuedRecursive),
            ("blkio.time_recursive", s => s.IoTimeRecursive),
            ("blkio.io_serviced_recursive", s => s.IoServicedRecursive),
            ("blkio.io_service_bytes_recursive", s => s.IoServiceBytesRecursive),
        },
        new (string, Func<BlkioStats, List<BlkioEntry>>)[]
        {
            ("blkio.throttle.io_serviced_recursive", s => s.IoServicedRecursive),
            ("blkio.throttle.io_service_bytes_recursive", s => s.IoServiceBytesRecursive),
        },
        new (string, Func<BlkioStats, List<BlkioEntry>>)[]
        {
            ("blkio.throttle.io_serviced", s => s.IoServicedRecursive),
            ("blkio.throttle.io_service_bytes", s => s.IoServiceBytesRecursive),
        },
    };

    public static void Stats(string dir, BlkioStats s) => Stats(file => CgroupFs.TryRead(dir, file), s);

    /// <summary>Fills <paramref name="s"/> from the first group of files that has data.</summary>
    internal static void Stats(Func<string, string?> read, BlkioStats s)
    {
        foreach (var group in Groups)
        {
            var first = read(group[0].File);
            if (first is null || !HasEntries(first))
                continue;
            foreach (var (file, target) in group)
            {
                var text = file == group[0].File ? first : read(file);
                target(s).Clear();
                if (text is not null)
                    ParseEntries(text, target(s), file);
            }
            return;
        }
    }

    private static bool HasEntries(string text)
    {
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            var t = line.Trim();
            if (!t.IsEmpty && !t.StartsWith("Total"))
                return true;
        }
        return false;
    }

    /// <summary>"8:0 Read 4096" or "8:0 4096" lines; "Total N" lines are skipped.</summary>
    internal static void ParseEntries(string text, List<BlkioEntry> into, string what)
    {
        Span<Range> f = stackalloc Range[4];
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            var line = raw.Trim();
            if (line.IsEmpty || line.StartsWith("Total"))
                continue;
            var n = line.Split(f, ' ', StringSplitOptions.RemoveEmptyEntries);
            if (n < 2 || n > 3)
                throw CgroupException.Failed($"{what}: malformed line \"{line.ToString()}\"");
            var dev = line[f[0]];
            var colon = dev.IndexOf(':');
            if (colon <= 0)
                throw CgroupException.Failed($"{what}: malformed device \"{dev.ToString()}\"");
            var major = CgroupFs.ParseUInt64(dev[..colon], what);
            var minor = CgroupFs.ParseUInt64(dev[(colon + 1)..], what);
            var op = n == 3 ? line[f[1]].ToString() : "";
            var value = CgroupFs.ParseUInt64(line[f[n - 1]], what);
            into.Add(new BlkioEntry(major, minor, op, value));
        }
    }
}
