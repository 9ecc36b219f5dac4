using System.Runtime.InteropServices;
using Csrt.Linux;

namespace Csrt.Cli;

/// <summary>
/// `run` and `exec` in the foreground: wait for our child (the container process), forward the
/// signals we receive to it, relay a terminal when there is one, and return its exit status
/// (128 + signal when it was killed), as runc does. The signals are caught from
/// <see cref="CatchSignals"/> on, before the process exists (runc sets its handler up before it
/// starts the process too): one that arrives before <see cref="Wait"/> knows the pid is held and
/// sent then, instead of being lost or, for most signals, ending csrt.
/// </summary>
internal sealed class Foreground : IDisposable
{
    /// <summary>What runc forwards: every signal we can catch but SIGCHLD (our child's exit, which
    /// we wait for), SIGWINCH (the terminal's size, relayed as a resize) and SIGURG (which Go's
    /// runtime uses for preemption, so runc drops it; we follow so containers see the same).</summary>
    private static readonly int[] Forwarded = Signals.Catchable
        .Where(s => s is not (Signals.SIGCHLD or Signals.SIGWINCH or Signals.SIGURG))
        .ToArray();

    private readonly List<PosixSignalRegistration> _registrations = new();
    private readonly Lock _lock = new();
    private readonly List<int> _held = new();
    private int _pid;

    private Foreground()
    {
    }

    /// <summary>Starts catching the signals to forward; dispose to stop.</summary>
    public static Foreground CatchSignals()
    {
        var f = new Foreground();
        // .NET runs each handler as a thread-pool item: two signals that arrive together may
        // reach the container in either order (runc keeps the order; one at a time, both agree).
        foreach (var signal in Forwarded)
        {
            f._registrations.Add(PosixSignalRegistration.Create((PosixSignal)signal, ctx =>
            {
                ctx.Cancel = true;
                f.Forward(signal);
            }));
        }
        return f;
    }

    private void Forward(int signal)
    {
        int pid;
        lock (_lock)
        {
            if (_pid == 0)
            {
                _held.Add(signal);
                return;
            }
            pid = _pid;
        }
        Signals.Send(pid, signal);
    }

    /// <summary>Forwards the signals held so far and from now on to <paramref name="pid"/>, relays
    /// <paramref name="master"/> when given, and waits for the process's exit.</summary>
    public int Wait(int pid, FileDescriptor? master)
    {
        int[] held;
        lock (_lock)
        {
            _pid = pid;
            held = _held.ToArray();
            _held.Clear();
        }
        foreach (var signal in held)
            Signals.Send(pid, signal);
        ConsoleRelay? relay = null;
        try
        {
            if (master is not null)
            {
                relay = ConsoleRelay.Start(master);
                _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, ctx =>
                {
                    ctx.Cancel = true;
                    relay.ResizeFromLocalTerminal();
                }));
            }
            var exit = Waiting.WaitFor(pid);
            relay?.Finish();
            return exit.Status;
        }
        finally
        {
            // The relay's handler goes before the relay it uses.
            Dispose();
            relay?.Dispose();
        }
    }

    public void Dispose()
    {
        _registrations.ForEach(r => r.Dispose());
        _registrations.Clear();
    }
}
