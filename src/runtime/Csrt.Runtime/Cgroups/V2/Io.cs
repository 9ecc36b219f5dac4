using System.Globalization;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V2;

/// <summary>v2 io controller. Weight: io.bfq.weight when BFQ is there (same 10–1000 scale as
/// blkio.weight), else io.weight with runc's conversion; per-device weights need BFQ's "default N"
/// format. Throttles: io.max "major:minor rbps=N" (wbps, riops, wiops), one device per write.</summary>
internal static class Io
{
    public static bool IsSet(LinuxBlockIO? b) => V1.Blkio.IsSet(b);

    public static void Set(string dir, LinuxBlockIO b, Action<string>? warn)
    {
        var bfq = CgroupFs.TryRead(dir, "io.bfq.weight");
        if (b.Weight is > 0 and var w)
        {
            if (bfq is not null)
                CgroupFs.Write(dir, "io.bfq.weight", w);
            else
                CgroupFs.Write(dir, "io.weight", Conversions.BlkioWeightToIoWeight(w));
        }
        if (b.LeafWeight is > 0 || b.WeightDevice?.Exists(d => d.LeafWeight is not null) == true)
            warn?.Invoke("linux.resources.blockIO leafWeight is ignored: cgroup v2 has no leaf weights");
        if (b.WeightDevice is { Count: > 0 } devices && devices.Exists(d => d.Weight is not null))
        {
            // Kernels since 5.4 print "default N" and take "major:minor N" per device.
            if (bfq is null || !bfq.TrimStart().StartsWith("default", StringComparison.Ordinal))
                throw CgroupException.Unsupported($"linux.resources.blockIO.weightDevice needs per-device BFQ weights, and {CgroupFs.PathOf(dir, "io.bfq.weight")} {(bfq is null ? "does not exist" : "does not take them")}");
            foreach (var d in devices)
            {
                if (d.Weight is { } dw)
                    CgroupFs.Write(dir, "io.bfq.weight", V1.Blkio.Device(d.Major, d.Minor) + " " + dw.ToString(CultureInfo.InvariantCulture));
            }
        }
        Throttle(dir, "rbps", b.ThrottleReadBpsDevice);
        Throttle(dir, "wbps", b.ThrottleWriteBpsDevice);
        Throttle(dir, "riops", b.ThrottleReadIOPSDevice);
        Throttle(dir, "wiops", b.ThrottleWriteIOPSDevice);
    }

    private static void Throttle(string dir, string key, List<LinuxThrottleDevice>? devices)
    {
        foreach (var t in devices ?? Enumerable.Empty<LinuxThrottleDevice>())
        {
            // 0 means "no limit" in the spec's v1 heritage; io.max spells that "max".
            var rate = t.Rate == 0 ? "max" : t.Rate.ToString(CultureInfo.InvariantCulture);
            CgroupFs.Write(dir, "io.max", V1.Blkio.Device(t.Major, t.Minor) + " " + key + "=" + rate);
        }
    }

    public static void Read(string dir, LinuxBlockIO into)
    {
        var text = CgroupFs.TryRead(dir, "io.bfq.weight") ?? CgroupFs.TryRead(dir, "io.weight");
        if (text is null)
            return;
        var first = text.Trim().Split('\n')[0];
        if (first.StartsWith("default ", StringComparison.Ordinal))
            first = first["default ".Length..];
        into.Weight = (ushort)Math.Min(CgroupFs.ParseUInt64(first, "io weight"), ushort.MaxValue);
    }

    public static void Stats(string dir, BlkioStats s)
    {
        if (CgroupFs.TryRead(dir, "io.stat") is { } text)
            ParseStat(text, s);
        if (CgroupFs.TryRead(dir, "io.pressure") is { } psi)
            s.Pressure = Pressure.Parse(psi);
    }

    /// <summary>"8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device → io.stat entries and
    /// runc's mapping onto v1 lists: bytes → IoServiceBytesRecursive, ios → IoServicedRecursive, with ops
    /// Read, Write, Discard.</summary>
    internal static void ParseStat(string text, BlkioStats s)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var colon = f[0].IndexOf(':');
            if (colon <= 0)
                throw CgroupException.Failed($"io.stat: malformed line \"{line}\"");
            var major = CgroupFs.ParseUInt64(f[0].AsSpan(0, colon), "io.stat");
            var minor = CgroupFs.ParseUInt64(f[0].AsSpan(colon + 1), "io.stat");
            ulong rb = 0, wb = 0, ri = 0, wi = 0, db = 0, di = 0;
            foreach (var kv in f.AsSpan(1))
            {
                var eq = kv.IndexOf('=');
                if (eq < 0)
                    continue;
                var v = CgroupFs.ParseUInt64(kv.AsSpan(eq + 1), "io.stat");
                switch (kv.AsSpan(0, eq))
                {
                    case "rbytes": rb = v; s.IoServiceBytesRecursive.Add(new(major, minor, "Read", v)); break;
                    case "wbytes": wb = v; s.IoServiceBytesRecursive.Add(new(major, minor, "Write", v)); break;
                    case "dbytes": db = v; s.IoServiceBytesRecursive.Add(new(major, minor, "Discard", v)); break;
                    case "rios": ri = v; s.IoServicedRecursive.Add(new(major, minor, "Read", v)); break;
                    case "wios": wi = v; s.IoServicedRecursive.Add(new(major, minor, "Write", v)); break;
                    case "dios": di = v; s.IoServicedRecursive.Add(new(major, minor, "Discard", v)); break;
                }
            }
            s.IoStat.Add(new IoStatEntry(major, minor, rb, wb, ri, wi, db, di));
        }
    }
}
