using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
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
        if (Cgroups(r).Freeze() != FreezerState.Frozen)
            throw new CgroupException(ErrorKind.Failed, $"container {id}: the freezer did not reach FROZEN");
    }

    /// <summary>Thaws a paused container.</summary>
    public void Resume(string id)
    {
        using var containerLock = Store.Lock(id);
        var r = LoadFor(id, "resume", ContainerStatus.Paused);
        if (Cgroups(r).Thaw() != FreezerState.Thawed)
            throw new CgroupException(ErrorKind.Failed, $"container {id}: the freezer did not reach THAWED");
    }

    /// <summary>Changes the resources of a created, running or paused container (`csrt update`).</summary>
    public void Update(string id, LinuxResources resources)
    {
        using var containerLock = Store.Lock(id);
        var r = LoadFor(id, "update", ContainerStatus.Created, ContainerStatus.Running, ContainerStatus.Paused);
        Cgroups(r).Update(resources);
    }
}
