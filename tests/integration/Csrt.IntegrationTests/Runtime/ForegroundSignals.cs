using System.Diagnostics;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// Signals sent to a foreground <c>csrt run</c> or <c>csrt exec</c>, and what the container process
/// makes of them: it runs <see cref="Script"/>, a busybox sh that traps each signal by number.
/// </summary>
internal static class ForegroundSignals
{
    /// <summary>SIGRTMIN+1: the first real-time signal neither glibc nor the .NET runtime keep.</summary>
    public const int RealTime = Signals.SIGRTMIN + 1;

    /// <summary>Prints "ready", then "got N" for each trapped signal N; exits 42 on SIGTERM.</summary>
    public static string[] Script(params int[] trapped) =>
    [
        "sh", "-c",
        string.Concat(trapped.Select(s => $"trap 'echo got {s}' {s}; "))
        + $"trap 'echo got {Signals.SIGTERM}; exit 42' {Signals.SIGTERM}; echo ready; while true; do sleep 0.1; done",
    ];

    /// <summary>
    /// Starts <c>csrt --root … args</c> (whose container process runs <see cref="Script"/> with
    /// <paramref name="forwarded"/> and <paramref name="notForwarded"/> trapped), sends it each
    /// signal of <paramref name="notForwarded"/>, then each of <paramref name="forwarded"/> waiting
    /// for the container to report it, then SIGTERM. A signal wrongly forwarded shows up as an
    /// unexpected "got N" line.
    /// </summary>
    public static void AssertForwardedOneByOne(RuntimeRoot csrt, string[] args, int[] forwarded, int[] notForwarded)
    {
        using var process = csrt.StartPiped(args);
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            Assert.Equal("ready", ReadLine(process));
            foreach (var signal in notForwarded)
                Signals.Send(process.Id, signal);
            foreach (var signal in forwarded)
            {
                Signals.Send(process.Id, signal);
                Assert.Equal($"got {signal}", ReadLine(process));
            }

            Signals.Send(process.Id, Signals.SIGTERM);

            var rest = process.StandardOutput.ReadToEndAsync();
            Assert.True(process.WaitForExit(RuntimeRoot.Timeout), "csrt did not exit after SIGTERM");
            Assert.True(rest.Wait(RuntimeRoot.Timeout));
            Assert.Equal($"got {Signals.SIGTERM}\n", rest.Result);
            Assert.True(stderr.Wait(RuntimeRoot.Timeout));
            Assert.True(process.ExitCode == 42, $"csrt exited {process.ExitCode}, not the trap's 42; stderr: {stderr.Result}");
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
    }

    private static string? ReadLine(Process process)
    {
        var line = process.StandardOutput.ReadLineAsync();
        Assert.True(line.Wait(RuntimeRoot.Timeout), "the container printed nothing more");
        return line.Result;
    }
}
