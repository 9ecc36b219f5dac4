using Csrt.Linux;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;
using Csrt.Runtime.Terminal;
using Csrt.Shim.Bootstrap;
using Csrt.Shim.Io;
using TaskV2 = Containerd.Task.V2;

namespace Csrt.Shim.Tasks;

/// <summary>
/// The Create RPC's work: the task's options, its rootfs mounts, the init's IO and console, and
/// the runtime's Create; the result is a <see cref="ShimContainer"/> with a created init. A
/// failure undoes the mounts and closes the IO it opened.
/// </summary>
public sealed class ContainerCreator
{
    private readonly ContainerRuntime _runtime;
    private readonly IContainerControl _control;
    private readonly string _namespace;
    private readonly IExitMonitor _exits;

    /// <param name="exits">Reaps the helper processes that id-mapped rootfs layers need.</param>
    public ContainerCreator(ContainerRuntime runtime, IContainerControl control, string ns, IExitMonitor exits)
    {
        _runtime = runtime;
        _control = control;
        _namespace = ns;
        _exits = exits;
    }

    /// <param name="shimOptions">The options `start` received; the request's own override them.</param>
    public ShimContainer Create(TaskV2.CreateTaskRequest request, ShimOptions shimOptions)
    {
        var bundle = request.Bundle;
        var options = shimOptions.ForTask(request.Options, _namespace);
        foreach (var warning in options.Ignored())
            Log.Warn(warning);
        options.RecordStateRoot(bundle, _namespace);
        options.ChownFifos(request.Stdin, request.Stdout, request.Stderr);
        var rootfs = Path.Combine(bundle, "rootfs");
        RootfsMounts.MountAll(rootfs, request.Rootfs, _exits);
        ProcessIo? io = null;
        FileDescriptor? ours = null, theirs = null;
        try
        {
            var spec = SpecLoader.Load(Path.Combine(bundle, "config.json"));
            var privatePid = spec.Linux?.Namespaces?.Any(n => n.Type == NamespaceTypes.Pid && string.IsNullOrEmpty(n.Path)) == true;
            io = ProcessIo.Open(request.Id, _namespace, request.Stdin, request.Stdout, request.Stderr, request.Terminal);
            if (spec.Process is { } p)
                p.Terminal = request.Terminal;
            if (request.Terminal)
                (ours, theirs) = UnixSockets.Pair(UnixSockets.Kind.Stream);
            var record = _runtime.Create(new CreateOptions
            {
                Id = request.Id,
                Bundle = bundle,
                Spec = spec,
                Stdin = io.ProcessStdin ?? ProcessIo.DevNull,
                Stdout = io.ProcessStdout ?? ProcessIo.DevNull,
                Stderr = io.ProcessStderr ?? ProcessIo.DevNull,
                ConsoleSocket = theirs,
                NoPivot = options.NoPivotRoot,
                NoNewKeyring = options.NoNewKeyring,
                SystemdCgroup = options.SystemdCgroup,
            });
            if (ours is not null)
                io.AttachConsole(ConsoleSocket.ReceiveMaster(ours));
            io.ProcessStarted();
            var init = new InitProcess(request.Id, io, bundle, privatePid) { Pid = record.InitPid };
            return new ShimContainer(init, _control, options, rootfsMounted: request.Rootfs.Count > 0);
        }
        catch
        {
            io?.Dispose();
            if (request.Rootfs.Count > 0)
                RootfsMounts.UnmountAll(rootfs);
            throw;
        }
        finally
        {
            ours?.Dispose();
            theirs?.Dispose();
        }
    }
}
