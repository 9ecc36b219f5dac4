using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

public sealed partial class ContainerRuntime
{
    /// <summary>Freezes every process of a running container.</summary>
    public void Pause(string id)
    {
        using var containerLock = Store.Lock(id);
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (status != ContainerStatus.Running)
            throw new InvalidContainerStateException(id, status, "pause");
        if (Cgroups(r).Freeze() != FreezerState.Frozen)
            throw new CgroupException(CgroupErrorKind.Failed, $"container {id}: the freezer did not reach FROZEN");
    }

    /// <summary>Thaws a paused container.</summary>
    public void Resume(string id)
    {
        using var containerLock = Store.Lock(id);
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (status != ContainerStatus.Paused)
            throw new InvalidContainerStateException(id, status, "resume");
        if (Cgroups(r).Thaw() != FreezerState.Thawed)
            throw new CgroupException(CgroupErrorKind.Failed, $"container {id}: the freezer did not reach THAWED");
    }

    /// <summary>Changes the resources of a created, running or paused container (`csrt update`).</summary>
    public void Update(string id, LinuxResources resources)
    {
        using var containerLock = Store.Lock(id);
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (status == ContainerStatus.Stopped)
            throw new InvalidContainerStateException(id, status, "update");
        Cgroups(r).Update(resources);
    }
}
