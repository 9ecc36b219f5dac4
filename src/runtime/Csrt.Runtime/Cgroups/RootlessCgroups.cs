using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups;

/// <summary>
/// runc's cgroup rules for a rootless runtime. A hierarchy is used when the caller may write the
/// container's directory there (a delegated subtree: the directory exists and is writable, or its
/// nearest existing parent is); the others are left out. When resources are requested for a left
/// out controller, create is refused naming the directory; when none are, the container runs
/// without those cgroups and a warning says so. The devices controller is always left out: device
/// rules need CAP_SYS_ADMIN over the host (runc ignores them when rootless too), and a user
/// namespace cannot create device nodes anyway.
/// </summary>
public static class RootlessCgroups
{
    /// <summary>A manager over the usable part of <paramref name="planned"/> (nothing is created yet).</summary>
    /// <exception cref="CgroupException">resources are requested for a controller whose directory is not writable.</exception>
    public static ICgroupManager Restrict(ICgroupManager planned, LinuxResources? resources, CgroupHost? host = null, Action<string>? warning = null) =>
        Restrict(planned, resources, CanWrite, host, warning);

    public static ICgroupManager Restrict(ICgroupManager planned, LinuxResources? resources, Func<string, bool> canWrite, CgroupHost? host,
        Action<string>? warning)
    {
        var kept = new Dictionary<string, string>(StringComparer.Ordinal);
        var dropped = new Dictionary<string, string>(StringComparer.Ordinal);
        var verdicts = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var (controller, dir) in planned.Paths)
        {
            if (controller == "devices")
                continue;
            if (!verdicts.TryGetValue(dir, out var writable))
                verdicts[dir] = writable = canWrite(dir);
            (writable ? kept : dropped)[controller] = dir;
        }
        if (dropped.Count > 0)
        {
            foreach (var (field, controller) in Requested(resources))
            {
                // A controller without its own v1 hierarchy is reached through the cgroup2 directory.
                var dir = planned.Paths.ContainsKey(controller) ? dropped.GetValueOrDefault(controller) : dropped.GetValueOrDefault("");
                if (dir is null)
                    continue;
                throw new CgroupException(ErrorKind.FailedPrecondition,
                    $"{field} is set, but the container's cgroup {dir} is not writable by uid {Text(ProcessControl.GetEffectiveUid())} " +
                    "(rootless: resources need a cgroup delegated to the caller; put linux.cgroupsPath under it, or remove the resources)");
            }
            warning?.Invoke(
                $"rootless: the cgroups {string.Join(", ", dropped.Values.Distinct(StringComparer.Ordinal))} are not writable by uid " +
                $"{Text(ProcessControl.GetEffectiveUid())}; the container runs without them (no limits, pause, resume nor update there)");
        }
        var m = CgroupManager.Open(kept, host, warning);
        m.Rootless = true;
        return m;
    }

    /// <summary>For pause, resume and update of a container created rootless: refuses clearly when
    /// the container has no cgroup for what <paramref name="operation"/> needs (its cgroups were
    /// not writable at create), instead of the host-level "no such controller".</summary>
    public static void Require(IReadOnlyDictionary<string, string> paths, string id, string operation, IEnumerable<(string Field, string Controller)> needs)
    {
        foreach (var (field, controller) in needs)
        {
            if (paths.ContainsKey(controller) || paths.ContainsKey(""))
                continue;
            throw new CgroupException(ErrorKind.FailedPrecondition,
                $"container {id}: {operation} needs {field}, and the container has no {(controller.Length == 0 ? "cgroup2" : controller)} cgroup " +
                "(it was created rootless and that cgroup was not writable by the caller)");
        }
    }

    /// <summary>The resources set in <paramref name="r"/>, each with its spec field and the cgroup v1
    /// controller it needs ("" for raw cgroup2 values). Devices are not among them (see the class).</summary>
    public static IEnumerable<(string Field, string Controller)> Requested(LinuxResources? r)
    {
        if (r is null)
            yield break;
        if (V1.Memory.IsSet(r.Memory))
            yield return ("linux.resources.memory", "memory");
        if (V1.Cpu.IsSet(r.Cpu))
            yield return ("linux.resources.cpu", "cpu");
        if (V1.Cpuset.IsSet(r.Cpu))
            yield return ("linux.resources.cpu.cpus/mems", "cpuset");
        if (Pids.IsSet(r.Pids))
            yield return ("linux.resources.pids", "pids");
        if (V1.Blkio.IsSet(r.BlockIO))
            yield return ("linux.resources.blockIO", "blkio");
        if (V1.Hugetlb.IsSet(r.HugepageLimits))
            yield return ("linux.resources.hugepageLimits", "hugetlb");
        if (V1.Network.IsClassIdSet(r.Network))
            yield return ("linux.resources.network.classID", "net_cls");
        if (V1.Network.IsPrioritiesSet(r.Network))
            yield return ("linux.resources.network.priorities", "net_prio");
        if (Rdma.IsSet(r.Rdma))
            yield return ("linux.resources.rdma", "rdma");
        if (r.Unified is { Count: > 0 })
            yield return ("linux.resources.unified", "");
    }

    /// <summary>The caller may use <paramref name="dir"/>: it exists and the caller may write it and
    /// its cgroup.procs, or the nearest existing parent is writable (the caller can create it).</summary>
    public static bool CanWrite(string dir)
    {
        if (Files.IsDirectory(dir))
            return Files.IsWritable(dir) && Files.IsWritable(CgroupFs.PathOf(dir, "cgroup.procs"));
        var parent = CgroupPaths.Parent(dir.TrimEnd('/'));
        while (parent.Length > 1 && !Files.IsDirectory(parent))
            parent = CgroupPaths.Parent(parent);
        return parent.Length > 1 && Files.IsWritable(parent);
    }

    private static string Text(uint value) => value.ToString(CultureInfo.InvariantCulture);
}
