using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

public sealed partial class ContainerRuntime
{
    /// <summary>Freezes every process of a running (or, as runc allows, created) container.</summary>
    public void Pause(string id)
    {
        using var containerLock = Store.Lock(id);
        var r = LoadFor(id, "pause", ContainerStatus.Running, ContainerStatus.Created);
        RequireRootlessFreezer(r, "pause");
        if (Cgroups(r).Freeze() != FreezerState.Frozen)
            throw new CgroupException(ErrorKind.Failed, $"container {id}: the freezer did not reach FROZEN");
    }

    /// <summary>Thaws a paused container.</summary>
    public void Resume(string id)
    {
        using var containerLock = Store.Lock(id);
        var r = LoadFor(id, "resume", ContainerStatus.Paused);
        RequireRootlessFreezer(r, "resume");
        if (Cgroups(r).Thaw() != FreezerState.Thawed)
            throw new CgroupException(ErrorKind.Failed, $"container {id}: the freezer did not reach THAWED");
    }

    private static void RequireRootlessFreezer(ContainerRecord r, string operation)
    {
        if (Rootless.IsRootless)
            RootlessCgroups.Require(r.CgroupPaths, r.Id, operation, new[] { ("the freezer", "freezer") });
    }

    /// <summary>Changes the resources of a created, running or paused container (`csrt update`).</summary>
    public void Update(string id, LinuxResources resources)
    {
        using var containerLock = Store.Lock(id);
        var r = LoadFor(id, "update", ContainerStatus.Created, ContainerStatus.Running, ContainerStatus.Paused);
        if (Rootless.IsRootless)
            RootlessCgroups.Require(r.CgroupPaths, id, "update", RootlessCgroups.Requested(resources));
        Cgroups(r).Update(resources);
    }
}
