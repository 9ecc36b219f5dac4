using Csrt.Linux;

namespace Csrt.Runtime.Processes;

/// <summary>
/// How the runtime learns that a child it started has exited. A process with its own reaping
/// loop (the shim, a subreaper) must not let two waiters race for the same pid, so a spawner
/// subscribes before it spawns and the monitor hands each exit to the subscription that wants it.
/// </summary>
public interface IExitMonitor
{
    /// <summary>Call before spawning; the subscription sees every exit from now until disposed.</summary>
    IExitSubscription Subscribe();
}

public interface IExitSubscription : IDisposable
{
    /// <summary>Waits for <paramref name="pid"/> to exit; throws TimeoutException after <paramref name="timeout"/>.</summary>
    ChildExit Wait(int pid, TimeSpan timeout);
}

/// <summary>For processes that reap their own children one by one (the CLI, the container init).</summary>
public sealed class DirectExitMonitor : IExitMonitor, IExitSubscription
{
    public static DirectExitMonitor Instance { get; } = new();

    public IExitSubscription Subscribe() => this;

    public ChildExit Wait(int pid, TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
            return Waiting.WaitFor(pid);
        using (var pidfd = ProcessControl.OpenPidFd(pid))
        {
            if (!Polling.WaitReadable(pidfd, timeout))
                throw new TimeoutException($"process {pid} did not exit within {timeout.TotalSeconds:0.#} s");
        }
        return Waiting.WaitFor(pid);
    }

    public void Dispose()
    {
    }
}
