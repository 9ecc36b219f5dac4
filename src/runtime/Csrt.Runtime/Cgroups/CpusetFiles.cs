using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups;

/// <summary>cpuset.cpus and cpuset.mems: the same files and rules in v1 and v2.</summary>
internal static class CpusetFiles
{
    public static void Set(string dir, LinuxCpu c)
    {
        if (!string.IsNullOrEmpty(c.Cpus))
            CgroupFs.Write(dir, "cpuset.cpus", c.Cpus);
        if (!string.IsNullOrEmpty(c.Mems))
            CgroupFs.Write(dir, "cpuset.mems", c.Mems);
    }

    public static void Read(string dir, LinuxCpu into)
    {
        into.Cpus = CgroupFs.TryRead(dir, "cpuset.cpus")?.Trim();
        into.Mems = CgroupFs.TryRead(dir, "cpuset.mems")?.Trim();
    }
}
