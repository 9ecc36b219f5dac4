using System.Globalization;
using System.Runtime.InteropServices;
using Csrt.Linux;
using Xunit;

namespace Csrt.Linux.Tests;

public sealed class SignalsTests
{
    [Fact]
    public void EveryCatchableSignal_TakesAPosixSignalRegistration()
    {
        var registrations = new List<PosixSignalRegistration>();
        try
        {
            // Create throws when sigaction refuses the signal (as it does glibc's 32 and 33).
            foreach (var signal in Signals.Catchable)
                registrations.Add(PosixSignalRegistration.Create((PosixSignal)signal, ctx => ctx.Cancel = true));
        }
        finally
        {
            registrations.ForEach(r => r.Dispose());
        }
        Assert.Contains(Signals.SIGPWR, Signals.Catchable);
        Assert.Contains(Signals.SIGRTMIN + 1, Signals.Catchable);
    }

    [Fact]
    public void TheRuntimesOwnHandlers_ForItsActivationSignalAndFaults_AreLeftOutOfCatchable()
    {
        // The .NET runtime has these handlers from its start; a second handler would steal or echo them.
        var caught = ulong.Parse(File.ReadLines("/proc/self/status").Single(l => l.StartsWith("SigCgt:", StringComparison.Ordinal))[7..].Trim(),
            NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        foreach (var signal in new[] { Signals.SIGRTMIN, Signals.SIGSEGV, Signals.SIGFPE })
        {
            Assert.True((caught >> (signal - 1) & 1) == 1, $"{Signals.Name(signal)} has no runtime handler here");
            Assert.DoesNotContain(signal, Signals.Catchable);
        }
    }
}
