using System.Runtime.InteropServices;
using Csrt.Linux;

namespace Csrt.Cli;

/// <summary>
/// `run` and `exec` in the foreground: wait for our child (the container process), forward the
/// signals we receive to it, relay a terminal when there is one, and return its exit status
/// (128 + signal when it was killed), as runc does.
/// </summary>
internal static class Foreground
{
    /// <summary>What runc forwards: every signal we can catch but SIGCHLD (our child's exit, which
    /// we wait for), SIGWINCH (the terminal's size, relayed as a resize) and SIGURG (which Go's
    /// runtime uses for preemption, so runc drops it; we follow so containers see the same).</summary>
    private static readonly int[] Forwarded = Signals.Catchable
        .Where(s => s is not (Signals.SIGCHLD or Signals.SIGWINCH or Signals.SIGURG))
        .ToArray();

    public static int Wait(int pid, FileDescriptor? master)
    {
        var registrations = new List<PosixSignalRegistration>();
        ConsoleRelay? relay = null;
        try
        {
            // .NET runs each handler as a thread-pool item: two signals that arrive together may
            // reach the container in either order (runc keeps the order; one at a time, both agree).
            foreach (var signal in Forwarded)
            {
                registrations.Add(PosixSignalRegistration.Create((PosixSignal)signal, ctx =>
                {
                    ctx.Cancel = true;
                    Signals.Send(pid, signal);
                }));
            }
            if (master is not null)
            {
                relay = ConsoleRelay.Start(master);
                registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, ctx =>
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
            registrations.ForEach(r => r.Dispose());
            relay?.Dispose();
        }
    }
}
