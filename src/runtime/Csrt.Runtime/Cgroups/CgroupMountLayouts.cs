using Csrt.Runtime.Processes;

namespace Csrt.Runtime.Cgroups;

/// <summary>How a container's cgroups appear inside it, for the "cgroup" mounts of its spec.</summary>
public static class CgroupMountLayouts
{
    /// <summary>
    /// The layout of <paramref name="cgroup"/>'s directories as the container sees them: on a unified
    /// host its cgroup2 directory; otherwise one source per v1 hierarchy mounted under
    /// <see cref="CgroupHost.ConventionalRoot"/> (named as there, "cpu,cpuacct" also reachable as
    /// "cpu" and "cpuacct"), plus the cgroup2 side directory of a hybrid host.
    /// </summary>
    public static CgroupMountLayout Of(ICgroupManager cgroup)
    {
        if (cgroup.Layout == CgroupLayout.Unified)
            return new CgroupMountLayout(true, Array.Empty<CgroupMountSource>(), cgroup.UnifiedPath);
        var root = CgroupHost.ConventionalRoot + "/";
        var sources = new Dictionary<string, CgroupMountSource>(StringComparer.Ordinal);
        foreach (var (controller, dir) in cgroup.Paths)
        {
            // A hierarchy mounted elsewhere has no place under the container's /sys/fs/cgroup.
            if (!dir.StartsWith(root, StringComparison.Ordinal))
                continue;
            var name = dir[root.Length..].Split('/')[0];
            if (sources.ContainsKey(name))
                continue;
            var options = controller switch
            {
                "" => "",
                _ when controller.StartsWith("name=", StringComparison.Ordinal) => "none," + controller,
                _ => name,
            };
            var source = new CgroupMountSource { Name = name, HostPath = dir, Options = options };
            if (name.Contains(','))
                source.Aliases.AddRange(name.Split(','));
            sources[name] = source;
        }
        return new CgroupMountLayout(false, sources.Values.ToList(), cgroup.UnifiedPath);
    }
}
