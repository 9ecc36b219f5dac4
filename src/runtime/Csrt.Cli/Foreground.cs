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
    private static readonly int[] Forwarded =
    {
        Signals.SIGHUP, Signals.SIGINT, Signals.SIGQUIT, Signals.SIGTERM, Signals.SIGUSR1, 12 /* SIGUSR2 */, 14 /* SIGALRM */,
    };

    public static int Wait(int pid, FileDescriptor? master)
    {
        var registrations = new List<PosixSignalRegistration>();
        ConsoleRelay? relay = null;
        try
        {
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
