using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.V1;

/// <summary>v1 cpuset controller. A new v1 cpuset cgroup starts with empty cpuset.cpus and
/// cpuset.mems, and a task cannot join it until both are set: every directory from the mount point
/// down is filled from its parent when empty, before anything joins (runc's ensureParent).</summary>
internal static class Cpuset
{
    public static bool IsSet(LinuxCpu? c) => !string.IsNullOrEmpty(c?.Cpus) || !string.IsNullOrEmpty(c?.Mems);

    /// <summary>mkdir -p <paramref name="dir"/> below <paramref name="mountPoint"/>, initialising each level;
    /// returns the directories it created (deepest last).</summary>
    public static List<string> Create(string mountPoint, string dir)
    {
        var created = new List<string>();
        var root = mountPoint.TrimEnd('/');
        if (!dir.StartsWith(root + "/", StringComparison.Ordinal))
        {
            Files.MakeDirectories(dir);
            return created;
        }
        var current = root;
        foreach (var part in dir[(root.Length + 1)..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var parent = current;
            current = current + "/" + part;
            if (!Files.IsDirectory(current))
            {
                try
                {
                    Files.MakeDirectory(current);
                    created.Add(current);
                }
                catch (SyscallException e) when (e.Errno == Errno.EEXIST)
                {
                }
            }
            CopyIfEmpty(current, parent, "cpuset.cpus");
            CopyIfEmpty(current, parent, "cpuset.mems");
        }
        return created;
    }

    private static void CopyIfEmpty(string dir, string parent, string file)
    {
        var mine = CgroupFs.Read(dir, file).Trim();
        if (mine.Length != 0)
            return;
        var theirs = CgroupFs.Read(parent, file).Trim();
        if (theirs.Length != 0)
            CgroupFs.Write(dir, file, theirs);
    }

    public static void Set(string dir, LinuxCpu c) => CpusetFiles.Set(dir, c);

    public static void Read(string dir, LinuxCpu into) => CpusetFiles.Read(dir, into);

    public static CpusetStats? Stats(string dir)
    {
        var cpus = CgroupFs.TryRead(dir, "cpuset.effective_cpus") ?? CgroupFs.TryRead(dir, "cpuset.cpus");
        var mems = CgroupFs.TryRead(dir, "cpuset.effective_mems") ?? CgroupFs.TryRead(dir, "cpuset.mems");
        return cpus is null && mems is null ? null : new CpusetStats(cpus?.Trim() ?? "", mems?.Trim() ?? "");
    }
}
