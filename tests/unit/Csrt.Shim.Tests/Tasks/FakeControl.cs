using Csrt.Runtime.Lifecycle;
using Csrt.Shim.Tasks;

namespace Csrt.Shim.Tests.Tasks;

/// <summary>The runtime as a <see cref="ShimContainer"/> sees it, without containers: records each
/// call, and fails the ones a test asks to fail.</summary>
internal sealed class FakeControl : IContainerControl
{
    private int _nextPid = 1000;

    public List<string> Calls { get; } = new();

    /// <summary>Thrown by the next call of that name ("start", "exec", "kill", "pause", "resume", "delete").</summary>
    public Dictionary<string, Exception> Failures { get; } = new(StringComparer.Ordinal);

    /// <summary>What <see cref="Signal"/> answers (false: the exec is gone).</summary>
    public bool ExecAlive { get; set; } = true;

    private void Call(string name, string detail)
    {
        Calls.Add($"{name} {detail}");
        if (Failures.Remove(name, out var e))
            throw e;
    }

    public void Start(string id) => Call("start", id);

    public ExecResult Exec(string id, ExecOptions options)
    {
        Call("exec", id);
        return new ExecResult(++_nextPid, null);
    }

    public void Kill(string id, int signal, bool all) => Call("kill", $"{id} {signal}{(all ? " all" : "")}");

    public bool Signal(int pid, int signal)
    {
        Call("signal", $"{pid} {signal}");
        return ExecAlive;
    }

    public void Pause(string id) => Call("pause", id);

    public void Resume(string id) => Call("resume", id);

    public void Delete(string id) => Call("delete", id);
}
