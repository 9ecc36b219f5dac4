using System.Runtime.InteropServices;
using Csrt.Linux.Interop;
using Xunit;

namespace Csrt.Linux.Tests;

public sealed class PollingTests
{
    [Fact]
    public void WaitReadable_InterruptedBySignalsOverAndOver_RetriesUntilTheFdIsReadable()
    {
        // A handled signal makes poll fail with EINTR whatever SA_RESTART says; the shim gets a
        // steady stream of them (SIGCHLD).
        using var registration = PosixSignalRegistration.Create(PosixSignal.SIGCHLD, ctx => ctx.Cancel = true);
        var (read, write) = Files.Pipe();
        using (read)
        using (write)
        {
            var tid = 0;
            using var started = new ManualResetEventSlim();
            Exception? failure = null;
            var readable = false;
            var waiter = new Thread(() =>
            {
                tid = Libc.gettid();
                started.Set();
                try
                {
                    readable = Polling.WaitReadable(read, TimeSpan.FromSeconds(30));
                }
                catch (Exception e)
                {
                    failure = e;
                }
            });
            waiter.Start();
            Assert.True(started.Wait(TimeSpan.FromSeconds(30)));
            for (var i = 0; i < 200 && waiter.IsAlive; i++)
            {
                Assert.Equal(0, Libc.tgkill(Environment.ProcessId, tid, Signals.SIGCHLD));
                Thread.Sleep(1);
            }
            Assert.True(waiter.IsAlive, $"the wait ended before the data was written: {failure?.Message ?? "readable without data"}");
            Files.WriteAll(write, "x"u8);
            Assert.True(waiter.Join(TimeSpan.FromSeconds(30)));
            Assert.Null(failure);
            Assert.True(readable);
        }
    }
}
