using System.Globalization;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V1;

/// <summary>v1 net_cls (net_cls.classid) and net_prio (net_prio.ifpriomap, one "iface prio" per write).
/// cgroup v2 has neither: the network stack matches on the cgroup path instead.</summary>
internal static class Network
{
    public static bool IsClassIdSet(LinuxNetwork? n) => n?.ClassID is > 0;

    public static bool IsPrioritiesSet(LinuxNetwork? n) => n?.Priorities is { Count: > 0 };

    public static void SetClassId(string dir, LinuxNetwork n)
    {
        if (n.ClassID is { } id)
            CgroupFs.Write(dir, "net_cls.classid", id.ToString(CultureInfo.InvariantCulture));
    }

    public static void SetPriorities(string dir, LinuxNetwork n)
    {
        foreach (var p in n.Priorities ?? Enumerable.Empty<LinuxInterfacePriority>())
            CgroupFs.Write(dir, "net_prio.ifpriomap", p.Name + " " + p.Priority.ToString(CultureInfo.InvariantCulture));
    }
}
