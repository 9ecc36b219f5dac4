using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

public sealed partial class ContainerRuntime
{
    /// <summary>The OCI state of one container (`csrt state`).</summary>
    public OciState State(string id)
    {
        var r = Store.Load(id);
        return ToOciState(r, StatusOf(r));
    }

    /// <summary>Every container under the root (`csrt list`); unreadable entries are skipped with a warning.</summary>
    public List<OciState> List()
    {
        var states = new List<OciState>();
        foreach (var id in Store.List())
        {
            try
            {
                var r = Store.Load(id);
                states.Add(ToOciState(r, StatusOf(r)));
            }
            catch (CsrtException e)
            {
                Warn(e.Message);
            }
        }
        return states;
    }

    /// <summary>Pids of every process in the container's cgroup (`csrt ps`).</summary>
    public IReadOnlyList<int> Pids(string id)
    {
        var r = Store.Load(id);
        if (StatusOf(r) == ContainerStatus.Stopped)
            return Array.Empty<int>();
        if (r.CgroupPaths.Count == 0)
            return PidNamespaceMembers(r);
        return Cgroups(r).GetPids(recursive: true);
    }

    /// <summary>The processes of a container that has no cgroup (created rootless without a
    /// writable one): those in its own pid namespace, found through /proc.</summary>
    private static IReadOnlyList<int> PidNamespaceMembers(ContainerRecord r)
    {
        if ((r.CreatedNamespaces & (ulong)CloneFlags.CLONE_NEWPID) == 0)
        {
            throw CsrtException.FailedPrecondition(
                $"container {r.Id} has neither a cgroup (created rootless, none was writable) nor a pid namespace of its own: its processes cannot be told apart");
        }
        var ns = Namespaces.Identity("/proc/" + Text(r.InitPid) + "/ns/pid");
        var pids = new List<int>();
        foreach (var name in Files.ListDirectory("/proc"))
        {
            if (!int.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid))
                continue;
            try
            {
                if (Namespaces.Identity("/proc/" + name + "/ns/pid") == ns)
                    pids.Add(pid);
            }
            catch (SyscallException)
            {
                // Gone, or not ours to look at (then not in a container the caller created).
            }
        }
        pids.Sort();
        return pids;
    }

    /// <summary>cgroup statistics (`csrt events --stats`, the shim's Stats).</summary>
    public CgroupStats Stats(string id)
    {
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (status == ContainerStatus.Stopped)
            throw new InvalidContainerStateException(id, status, "read stats of");
        return Cgroups(r).Stats();
    }

    /// <summary>Where OOM kills of this container are reported (for `events` and the shim).</summary>
    public OomSource? OomSourceOf(string id) => Cgroups(Store.Load(id)).OomSource;

    /// <summary>The container's cgroup manager (for callers that watch or read it repeatedly).</summary>
    public ICgroupManager CgroupOf(string id) => Cgroups(Store.Load(id));
}
