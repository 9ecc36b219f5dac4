using System.Globalization;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Processes;

namespace Csrt.Runtime.Hooks;

/// <summary>
/// Runs one OCI hook: the hook's path, args and env, the container state JSON on stdin, bounded by
/// its timeout. A hook that fails or times out is an error naming the hook and showing its output.
/// </summary>
public static class HookRunner
{
    private const int MaxOutput = 16 * 1024;

    public static void Run(HookStep hook, string stage, string stateJson, IExitMonitor? monitor = null)
    {
        monitor ??= DirectExitMonitor.Instance;
        var (stdinRead, stdinWrite) = Files.Pipe();
        var (outRead, outWrite) = Files.Pipe(nonBlocking: false);
        using (stdinRead)
        using (stdinWrite)
        using (outRead)
        using (outWrite)
        using (var subscription = monitor.Subscribe())
        {
            var options = new SpawnOptions
            {
                ExecutablePath = hook.Path,
                Args = hook.Args.Count > 0 ? hook.Args : new List<string> { hook.Path },
                Env = hook.Env,
            };
            options.Files.Add((stdinRead, 0));
            options.Files.Add((outWrite, 1));
            options.Files.Add((outWrite, 2));
            int pid;
            try
            {
                using var spawned = Spawn.Start(options);
                pid = spawned.Complete(TimeSpan.FromSeconds(10));
            }
            catch (SyscallException e)
            {
                throw new HookFailedException($"{stage} hook {hook.Path}: {e.Message}", e);
            }
            stdinRead.Dispose();
            outWrite.Dispose();
            try
            {
                // The state is small (well under a pipe buffer); a hook that never reads it just gets EPIPE-free EOF.
                Files.WriteAll(stdinWrite, Encoding.UTF8.GetBytes(stateJson));
            }
            catch (SyscallException e) when (e.Errno == Errno.EPIPE)
            {
            }
            stdinWrite.Dispose();
            var timeout = hook.TimeoutSeconds is > 0 ? TimeSpan.FromSeconds(hook.TimeoutSeconds.Value) : Timeout.InfiniteTimeSpan;
            var output = new MemoryStream();
            var deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            var buffer = new byte[4096];
            // Drain its output until EOF (every copy of the write end is closed when the hook exits).
            while (true)
            {
                var left = deadline == long.MaxValue ? TimeSpan.FromDays(1) : TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64));
                if (!Polling.WaitReadable(outRead, left))
                {
                    Signals.Send(pid, Signals.SIGKILL);
                    subscription.Wait(pid, TimeSpan.FromSeconds(5));
                    throw new HookFailedException($"{stage} hook {hook.Path} timed out after {hook.TimeoutSeconds} s{Show(output)}");
                }
                var n = Files.Read(outRead, buffer);
                if (n == 0)
                    break;
                if (output.Length < MaxOutput)
                    output.Write(buffer, 0, Math.Min(n, MaxOutput - (int)output.Length));
            }
            var remaining = deadline == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(Math.Max(1, deadline - Environment.TickCount64));
            ChildExit exit;
            try
            {
                exit = subscription.Wait(pid, remaining);
            }
            catch (TimeoutException)
            {
                Signals.Send(pid, Signals.SIGKILL);
                subscription.Wait(pid, TimeSpan.FromSeconds(5));
                throw new HookFailedException($"{stage} hook {hook.Path} timed out after {hook.TimeoutSeconds} s{Show(output)}");
            }
            if (exit.Status != 0)
            {
                var how = exit.Signaled ? "killed by " + Signals.Name(exit.Signal) : "exit status " + exit.ExitCode.ToString(CultureInfo.InvariantCulture);
                throw new HookFailedException($"{stage} hook {hook.Path} failed: {how}{Show(output)}");
            }
        }
    }

    private static string Show(MemoryStream output) =>
        output.Length == 0 ? "" : ", output: " + Encoding.UTF8.GetString(output.GetBuffer(), 0, (int)output.Length).Trim();
}

/// <summary>An OCI hook failed, timed out or could not be started.</summary>
public sealed class HookFailedException : Exception
{
    public HookFailedException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
