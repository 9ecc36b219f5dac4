using System.Globalization;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Processes;

namespace Csrt.Runtime.Hooks;

/// <summary>
/// Runs one OCI hook: the hook's path, args and env, the container state JSON on stdin, bounded by
/// its timeout. A hook that fails or times out is an error naming the stage and the hook and
/// showing its output.
/// </summary>
public static class HookRunner
{
    public static void Run(HookStep hook, string stage, string stateJson, IExitMonitor? monitor = null)
    {
        var timeout = hook.TimeoutSeconds is > 0 ? TimeSpan.FromSeconds(hook.TimeoutSeconds.Value) : Timeout.InfiniteTimeSpan;
        CommandResult result;
        try
        {
            result = CommandRunner.Run(hook.Path, hook.Args.Count > 0 ? hook.Args : new List<string> { hook.Path }, hook.Env,
                Encoding.UTF8.GetBytes(stateJson), timeout, monitor);
        }
        catch (SyscallException e)
        {
            throw new HookFailedException($"{stage} hook {hook.Path}: {e.Message}", e);
        }
        catch (TimeoutException e)
        {
            throw new HookFailedException($"{stage} hook {hook.Path} {e.Message}", e);
        }
        if (result.Exit.Status != 0)
        {
            var how = result.Exit.Signaled ? "killed by " + Signals.Name(result.Exit.Signal) : "exit status " + result.Exit.ExitCode.ToString(CultureInfo.InvariantCulture);
            throw new HookFailedException($"{stage} hook {hook.Path} failed: {how}" + (result.Output.Length > 0 ? ", output: " + result.Output.Trim() : ""));
        }
    }
}

/// <summary>An OCI hook failed, timed out or could not be started.</summary>
public sealed class HookFailedException : CsrtException
{
    public HookFailedException(string message, Exception? inner = null) : base(ErrorKind.Failed, message, inner)
    {
    }
}
