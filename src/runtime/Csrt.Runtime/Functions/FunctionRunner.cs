using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Functions;

/// <summary>
/// Runs one function call as a container that exists only for the call: create (the spec in
/// memory, no bundle, nothing saved but the state record), start, wait, delete. The container
/// is deleted however the call ends, so nothing is left in the state directory, the cgroups or
/// the mount table.
/// </summary>
public static class FunctionRunner
{
    /// <param name="wait">Waits for the process in the foreground (forwarding signals, relaying a
    /// terminal's master when there is one) and returns its exit status.</param>
    /// <param name="cacheRoot">Where the compiled seccomp program is kept (the image cache's root).</param>
    public static int Run(ContainerRuntime runtime, RuntimeSpec spec, string cacheRoot, Func<int, FileDescriptor?, int> wait)
    {
        var id = "fn-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-" +
                 Random.Shared.Next().ToString("x8", CultureInfo.InvariantCulture);
        var terminal = spec.Process?.Terminal == true;
        var (ours, theirs) = terminal ? UnixSockets.Pair(UnixSockets.Kind.Stream) : ((FileDescriptor?)null, (FileDescriptor?)null);
        FileDescriptor? master = null;
        var created = false;
        try
        {
            var record = runtime.Create(new CreateOptions
            {
                Id = id,
                Bundle = spec.Root!.Path,
                Spec = spec,
                SpecInMemoryOnly = true,
                CompiledSeccomp = spec.Linux?.Seccomp is { } seccomp ? SeccompCache.Get(seccomp, cacheRoot) : null,
                ConsoleSocket = theirs,
            });
            created = true;
            theirs?.Dispose();
            theirs = null;
            if (ours is not null)
                master = Terminal.ConsoleSocket.ReceiveMaster(ours);
            runtime.Start(id);
            return wait(record.InitPid, master);
        }
        finally
        {
            ours?.Dispose();
            theirs?.Dispose();
            master?.Dispose();
            if (created)
                runtime.Delete(id, force: true);
        }
    }
}
