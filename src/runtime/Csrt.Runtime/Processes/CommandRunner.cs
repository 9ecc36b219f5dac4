using System.Text;
using Csrt.Linux;

namespace Csrt.Runtime.Processes;

/// <summary>What a finished program left: how it exited and its output (stdout and stderr together, capped).</summary>
public sealed record CommandResult(ChildExit Exit, string Output);

/// <summary>
/// Runs a program on the host through the C child path (never System.Diagnostics.Process, whose
/// SIGCHLD handling reaps children it did not start): input on stdin, output collected, bounded by
/// a timeout after which it is killed.
/// </summary>
public static class CommandRunner
{
    public static CommandResult Run(string path, IReadOnlyList<string> args, IReadOnlyList<string> env, ReadOnlySpan<byte> stdin,
        TimeSpan timeout, IExitMonitor? monitor = null, int maxOutput = 16 * 1024)
    {
        monitor ??= DirectExitMonitor.Instance;
        var (stdinRead, stdinWrite) = Files.Pipe();
        var (outRead, outWrite) = Files.Pipe();
        using (stdinRead)
        using (stdinWrite)
        using (outRead)
        using (outWrite)
        using (var subscription = monitor.Subscribe())
        {
            var options = new SpawnOptions { ExecutablePath = path, Args = args.Count > 0 ? args : new[] { path }, Env = env };
            options.Files.Add((stdinRead, 0));
            options.Files.Add((outWrite, 1));
            options.Files.Add((outWrite, 2));
            int pid;
            using (var spawned = Spawn.Start(options))
                pid = spawned.Complete(TimeSpan.FromSeconds(10));
            stdinRead.Dispose();
            outWrite.Dispose();
            try
            {
                // Small inputs (a state JSON) fit the pipe buffer; a program that never reads is fine.
                if (!stdin.IsEmpty)
                    Files.WriteAll(stdinWrite, stdin);
            }
            catch (SyscallException e) when (e.Errno == Errno.EPIPE)
            {
            }
            stdinWrite.Dispose();
            var deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            var output = new MemoryStream();
            var buffer = new byte[4096];
            // Read until EOF: every copy of the write end closes when the program and its children exit.
            while (true)
            {
                var left = deadline == long.MaxValue ? TimeSpan.FromDays(1) : TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));
                if (!Polling.WaitReadable(outRead, left))
                    return KillOnTimeout(pid, subscription, timeout, output);
                var n = Files.Read(outRead, buffer);
                if (n == 0)
                    break;
                if (output.Length < maxOutput)
                    output.Write(buffer, 0, Math.Min(n, maxOutput - (int)output.Length));
            }
            var remaining = deadline == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(Math.Max(1, deadline - Environment.TickCount64));
            try
            {
                return new CommandResult(subscription.Wait(pid, remaining), Text(output));
            }
            catch (TimeoutException)
            {
                return KillOnTimeout(pid, subscription, timeout, output);
            }
        }
    }

    private static CommandResult KillOnTimeout(int pid, IExitSubscription subscription, TimeSpan timeout, MemoryStream output)
    {
        Signals.Send(pid, Signals.SIGKILL);
        subscription.Wait(pid, TimeSpan.FromSeconds(5));
        throw new TimeoutException($"timed out after {timeout.TotalSeconds:0.#} s" + (output.Length > 0 ? ", output: " + Text(output).Trim() : ""));
    }

    private static string Text(MemoryStream output) => Encoding.UTF8.GetString(output.GetBuffer(), 0, (int)output.Length);
}
