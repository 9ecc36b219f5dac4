using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Cgroups;

/// <summary>Picks and places the manager for a container from the host layout.</summary>
public static class CgroupManager
{
    /// <summary>The manager for a new container: resolves linux.cgroupsPath (see <see cref="CgroupPaths"/>)
    /// in every hierarchy of <paramref name="host"/> (default: this process's). Nothing is created yet.</summary>
    /// <exception cref="CgroupException">Bad path (or a systemd form without the systemd driver), no
    /// cgroup filesystem; for the systemd driver, a host it cannot run on.</exception>
    public static ICgroupManager Create(CgroupConfig config, CgroupHost? host = null, ProcCgroups? own = null)
    {
        if (config.UseSystemd)
            return Systemd.SystemdCgroupManager.Create(config, host ?? CgroupHost.Current);
        var inner = CgroupPaths.Inner(config.CgroupsPath, config.ContainerId);
        host ??= CgroupHost.Current;
        if (!inner.StartsWith('/'))
            own ??= ProcCgroups.Self();

        if (host.Layout == CgroupLayout.Unified)
        {
            var mount = host.Unified!;
            var path = CgroupPaths.ForUnified(inner, mount, own?.Unified, parentOfOwn: true);
            return new CgroupV2Manager(path, mount.MountPoint) { Warning = config.Warning };
        }
        if (host.V1Mounts.Count == 0)
            throw CgroupException.Unsupported("no cgroup filesystem is mounted (/proc/self/mountinfo has no cgroup or cgroup2 entry)");

        var paths = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var mount in host.V1Mounts)
        {
            var dir = CgroupPaths.ForV1(inner, mount, OwnPath(own, mount));
            foreach (var c in mount.Controllers)
                paths[c] = dir;
        }
        if (host.Layout == CgroupLayout.Hybrid && host.Unified is { } unified)
            paths[""] = CgroupPaths.ForUnified(inner, unified, own?.Unified, parentOfOwn: false);
        return new CgroupV1Manager(paths, host) { Warning = config.Warning };
    }

    private static string? OwnPath(ProcCgroups? own, CgroupMount mount)
    {
        if (own is null)
            return null;
        foreach (var c in mount.Controllers)
        {
            if (own.Get(c) is { } p)
                return p;
        }
        return null;
    }

    /// <summary>Reopens a container's cgroup from the <see cref="ICgroupManager.Paths"/> saved at create;
    /// <paramref name="systemd"/>: it was created by the systemd driver.</summary>
    public static ICgroupManager Open(IReadOnlyDictionary<string, string> paths, CgroupHost? host = null, Action<string>? warning = null, bool systemd = false)
    {
        // A v1 controller among the paths makes it a v1 (or hybrid) cgroup whatever the layout:
        // the manager reads the layout only if an operation needs it (state, start and delete do
        // not), sparing those commands a parse of mountinfo.
        if (host is null && HasV1Controller(paths))
            return new CgroupV1Manager(paths, null) { Warning = warning };
        host ??= CgroupHost.Current;
        if (systemd && host.Layout == CgroupLayout.Unified && paths.Count == 1 && paths.TryGetValue("", out var scope))
            return Systemd.SystemdCgroupManager.Open(scope, host.Unified!.MountPoint, warning);
        if (host.Layout == CgroupLayout.Unified && paths.Count == 1 && paths.TryGetValue("", out var dir))
            return new CgroupV2Manager(dir, host.Unified!.MountPoint) { Warning = warning };
        return new CgroupV1Manager(paths, host) { Warning = warning };
    }

    private static bool HasV1Controller(IReadOnlyDictionary<string, string> paths)
    {
        foreach (var key in paths.Keys)
        {
            if (key.Length > 0)
                return true;
        }
        return false;
    }

    /// <summary>
    /// Moves <paramref name="pid"/> into an existing cgroup given by its absolute path below each
    /// hierarchy's root (the runc shim's `ShimCgroup`): into the hierarchies where that directory
    /// exists, as containerd's cgroup packages do; nothing is created.
    /// </summary>
    /// <exception cref="CgroupException">A relative path, or no hierarchy holds the directory.</exception>
    public static void JoinExisting(string path, int pid, CgroupHost? host = null)
    {
        if (!path.StartsWith('/'))
            throw CgroupException.Invalid($"\"{path}\": expected an absolute cgroup path");
        var manager = Create(new CgroupConfig { ContainerId = "_", CgroupsPath = path }, host);
        var existing = manager.Paths.Values.Distinct(StringComparer.Ordinal).Where(Directory.Exists).ToList();
        if (existing.Count == 0)
            throw new CgroupException(ErrorKind.NotFound, $"cgroup \"{path}\" does not exist in any hierarchy ({string.Join(", ", manager.Paths.Values.Distinct(StringComparer.Ordinal))})");
        foreach (var dir in existing)
            CgroupFs.WriteProcs(dir, pid);
    }
}
