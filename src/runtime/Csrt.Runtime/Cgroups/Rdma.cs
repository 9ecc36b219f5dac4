using System.Globalization;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups;

/// <summary>rdma controller; rdma.max has the same format on v1 and v2:
/// "&lt;device&gt; hca_handle=&lt;n|max&gt; hca_object=&lt;n|max&gt;", one device per write.</summary>
internal static class Rdma
{
    public static bool IsSet(Dictionary<string, LinuxRdma>? r) => r is { Count: > 0 };

    public static void Set(string dir, Dictionary<string, LinuxRdma> limits)
    {
        foreach (var (device, l) in limits)
            CgroupFs.Write(dir, "rdma.max", Line(device, l));
    }

    internal static string Line(string device, LinuxRdma l)
    {
        var s = device;
        if (l.HcaHandles is { } h)
            s += " hca_handle=" + h.ToString(CultureInfo.InvariantCulture);
        if (l.HcaObjects is { } o)
            s += " hca_object=" + o.ToString(CultureInfo.InvariantCulture);
        return s;
    }

    public static void Stats(string dir, CgroupStats s)
    {
        if (CgroupFs.TryRead(dir, "rdma.current") is { } current)
            Parse(current, s.RdmaCurrent);
        if (CgroupFs.TryRead(dir, "rdma.max") is { } max)
            Parse(max, s.RdmaLimit);
    }

    internal static void Parse(string text, List<RdmaEntry> into)
    {
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            ulong handles = 0, objects = 0;
            foreach (var kv in f.AsSpan(1))
            {
                var eq = kv.IndexOf('=');
                if (eq < 0)
                    continue;
                var v = CgroupFs.ParseUInt64(kv.AsSpan(eq + 1), "rdma");
                if (kv.StartsWith("hca_handle=", StringComparison.Ordinal))
                    handles = v;
                else if (kv.StartsWith("hca_object=", StringComparison.Ordinal))
                    objects = v;
            }
            into.Add(new RdmaEntry(f[0], handles, objects));
        }
    }
}
