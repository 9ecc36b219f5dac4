using Csrt.Linux;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.State;

namespace Csrt.Shim.Tasks;

/// <summary>The shim's containers, controlled in-process by the runtime core.</summary>
public sealed class RuntimeControl : IContainerControl
{
    private readonly ContainerRuntime _runtime;

    public RuntimeControl(ContainerRuntime runtime) => _runtime = runtime;

    public void Start(string id) => _runtime.Start(id);

    public ExecResult Exec(string id, ExecOptions options) => _runtime.Exec(id, options);

    public void Kill(string id, int signal, bool all) => _runtime.Kill(id, signal, all);

    // An exec has no record in the runtime's state: the shim signals the pid it reaps itself.
    public bool Signal(int pid, int signal) => Signals.Send(pid, signal);

    public void Pause(string id) => _runtime.Pause(id);

    public void Resume(string id) => _runtime.Resume(id);

    public void Delete(string id)
    {
        try
        {
            _runtime.Delete(id, force: true);
        }
        catch (ContainerNotFoundException)
        {
        }
    }
}
