namespace Csrt.Runtime.Cgroups;

/// <summary>
/// linux.cgroupsPath semantics of runc's cgroupfs driver (libcontainer/cgroups/fs/paths.go and
/// fs2/defaultpath.go), as pure functions:
/// <list type="bullet">
/// <item>absolute path → that path under each hierarchy's mount point;</item>
/// <item>relative path → under the caller's own cgroup in each v1 hierarchy (/proc/self/cgroup,
/// made relative to the mount's root), and under the <em>parent</em> of the caller's own cgroup on a
/// unified host (runc: the caller's cgroup has processes, so controllers cannot be enabled for its
/// children); on a hybrid host the cgroup2 side follows the v1 rule (runc joins it like a named
/// hierarchy);</item>
/// <item>empty → the container id, as a relative path.</item>
/// </list>
/// Unlike runc, which lexically clamps "..", a path that climbs above its start is refused, and so is a
/// path that names the hierarchy root or the caller's own cgroup (Destroy and KillAll would act on it).
/// </summary>
public static class CgroupPaths
{
    /// <summary>The inner path (absolute or relative, cleaned) for a container.</summary>
    /// <exception cref="CgroupException">systemd form, ".." escapes, empty results.</exception>
    public static string Inner(string? cgroupsPath, string containerId)
    {
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            if (string.IsNullOrEmpty(containerId) || containerId.Contains('/') || containerId is "." or "..")
                throw CgroupException.Invalid($"container id \"{containerId}\" cannot name a cgroup; expected a single path element");
            return containerId;
        }
        if (IsSystemdForm(cgroupsPath))
        {
            throw CgroupException.Unsupported(
                $"linux.cgroupsPath \"{cgroupsPath}\" is in the systemd form \"slice:prefix:name\"; that form needs the systemd cgroup driver (csrt --systemd-cgroup, SystemdCgroup = true in containerd's runc options); with the cgroupfs driver give a path such as \"/kubepods/{containerId}\"");
        }
        if (cgroupsPath.Contains('\0'))
            throw CgroupException.Invalid("linux.cgroupsPath contains a NUL byte");
        return Clean(cgroupsPath);
    }

    /// <summary>"slice:prefix:name" (what containerd's CRI sends when the pod parent is a .slice).</summary>
    public static bool IsSystemdForm(string cgroupsPath)
    {
        if (cgroupsPath.StartsWith('/'))
            return false;
        var colons = 0;
        foreach (var ch in cgroupsPath)
        {
            if (ch == ':')
                colons++;
        }
        return colons == 2;
    }

    /// <summary>Lexical clean: drops "." and empty elements, resolves "..", refuses escapes.</summary>
    public static string Clean(string path)
    {
        var absolute = path.StartsWith('/');
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
                continue;
            if (part == "..")
            {
                if (parts.Count == 0)
                    throw CgroupException.Invalid($"linux.cgroupsPath \"{path}\" climbs above {(absolute ? "the hierarchy root" : "the caller's cgroup")} with \"..\"");
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        if (parts.Count == 0)
        {
            throw CgroupException.Invalid(absolute
                ? $"linux.cgroupsPath \"{path}\" names the root cgroup; expected a path below it"
                : $"linux.cgroupsPath \"{path}\" names the caller's own cgroup; expected a path below it");
        }
        var joined = string.Join('/', parts);
        return absolute ? "/" + joined : joined;
    }

    /// <summary>The directory of a container's cgroup in one v1 hierarchy.</summary>
    /// <param name="ownPath">The caller's path in that hierarchy (/proc/self/cgroup); needed for relative paths.</param>
    public static string ForV1(string inner, CgroupMount mount, string? ownPath)
    {
        if (inner.StartsWith('/'))
            return Join(mount.MountPoint, inner);
        return Join(Join(mount.MountPoint, BelowRoot(Own(ownPath, mount), mount.Root)), inner);
    }

    /// <summary>The directory in the cgroup2 hierarchy.</summary>
    /// <param name="parentOfOwn">True on a unified host (runc fs2: relative to the parent of the
    /// caller's cgroup); false for the cgroup2 side of a hybrid host (runc fs: relative to the caller's cgroup).</param>
    public static string ForUnified(string inner, CgroupMount mount, string? ownPath, bool parentOfOwn)
    {
        if (inner.StartsWith('/'))
            return Join(mount.MountPoint, inner);
        var own = Own(ownPath, mount);
        if (parentOfOwn)
            own = Parent(own);
        return Join(Join(mount.MountPoint, BelowRoot(own, mount.Root)), inner);
    }

    private static string Own(string? ownPath, CgroupMount mount) =>
        ownPath ?? throw CgroupException.Failed(
            $"a relative cgroupsPath needs the caller's cgroup in the hierarchy mounted at {mount.MountPoint}, and /proc/self/cgroup has none");

    /// <summary>The caller's cgroup relative to what the mount shows as its root (a container that
    /// bind-mounts its own cgroup sees root "/docker/x" while /proc/self/cgroup says "/docker/x/y").
    /// A path outside the mount's root (cgroup namespaces) is taken as already relative to it.</summary>
    internal static string BelowRoot(string own, string root)
    {
        if (root == "/" || root.Length == 0)
            return own;
        if (own == root)
            return "/";
        if (own.StartsWith(root, StringComparison.Ordinal) && own.Length > root.Length && own[root.Length] == '/')
            return own[root.Length..];
        return own;
    }

    internal static string Parent(string path)
    {
        var trimmed = path.TrimEnd('/');
        var i = trimmed.LastIndexOf('/');
        return i <= 0 ? "/" : trimmed[..i];
    }

    /// <summary>Joins two path pieces with exactly one '/' between them.</summary>
    internal static string Join(string a, string b)
    {
        var left = a.TrimEnd('/');
        var right = b.Trim('/');
        return right.Length == 0 ? (left.Length == 0 ? "/" : left) : left + "/" + right;
    }
}
