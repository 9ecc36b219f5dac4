using Csrt.Runtime.Lifecycle;

namespace Csrt.Shim.Tasks;

/// <summary>
/// What a <see cref="ShimContainer"/> asks of the runtime for its container and processes: the
/// runtime core in the shim (<see cref="RuntimeControl"/>), a fake in the unit tests.
/// </summary>
public interface IContainerControl
{
    /// <summary>Starts the container's init (runs the user process).</summary>
    void Start(string id);

    /// <summary>Starts an exec in the container.</summary>
    ExecResult Exec(string id, ExecOptions options);

    /// <summary>Signals the container's init, or with <paramref name="all"/> every process in its cgroup.</summary>
    void Kill(string id, int signal, bool all);

    /// <summary>Signals one exec; false when it is gone.</summary>
    bool Signal(int pid, int signal);

    void Pause(string id);

    void Resume(string id);

    /// <summary>Removes the container (killing what is left); one that is already gone is fine.</summary>
    void Delete(string id);
}
