using System.Net.Sockets;
using System.Runtime.InteropServices;
using Csrt.Linux;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.Processes;
using Csrt.Shim.Errors;
using Csrt.Shim.Events;
using Csrt.Shim.Reaping;
using Csrt.Shim.Tasks;
using Csrt.Ttrpc.Server;
using TaskV2 = Containerd.Task.V2;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// The long-lived shim (no action word): a child subreaper logging to the bundle's `log` FIFO,
/// serving the task service on the socket `start` passed as fd 3 (or `-socket`). It outlives
/// containerd restarts (a closed connection is not a reason to stop) and exits when a Shutdown
/// arrives with no container left, or on SIGTERM/SIGINT.
/// </summary>
public static class ServeCommand
{
    public static int Run(ShimFlags flags)
    {
        if (flags.Namespace.Length == 0)
            throw new ArgumentException("shim namespace cannot be empty (-namespace)");
        Log.Debug = flags.Debug;
        ProcessControl.SetChildSubreaper(true);
        ProcessControl.SetName("csrt-shim");
        RedirectStderrToLogFifo();
        // shim.pid in the bundle, for operators and tools that look for the shim of a task.
        Files.WriteAtomic(Path.GetFullPath("shim.pid"), System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)), FileModes.UserReadWriteOthersRead);

        using var reaper = new Reaper();
        reaper.Start();
        var initBinary = InitBinary();
        var options = ShimOptions.FromDaemonEnvironment();
        foreach (var warning in options.Ignored())
            Log.Warn(warning);
        var runtime = new ContainerRuntime(new RuntimeOptions
        {
            Root = options.RuntimeRoot(flags.Namespace),
            SystemdCgroup = options.SystemdCgroup,
            ExitMonitor = reaper,
            Warning = Log.Warn,
            InitBinary = () => initBinary,
        });
        var ttrpcAddress = Environment.GetEnvironmentVariable("TTRPC_ADDRESS") is { Length: > 0 } t ? t : flags.Address + ".ttrpc";
        var publisher = new EventPublisher(ttrpcAddress, flags.Namespace);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var service = new TaskService(flags.Namespace, runtime, reaper, publisher, () => done.TrySetResult()) { Options = options };
        var server = new TtrpcServer(new TtrpcServerOptions
        {
            RequireSameUser = true,
            ExceptionMapper = ErrorStatus.Map,
            ErrorLog = (message, e) => Log.Error(message, e),
        });
        TaskV2.Task.BindService(server, service);
        server.AddServiceAlias("containerd.task.v3.Task", "containerd.task.v2.Task");

        Task serving;
        if (flags.Socket.Length > 0)
            serving = server.ListenAndServeAsync(new UnixDomainSocketEndPoint(flags.Socket.StartsWith("unix://", StringComparison.Ordinal) ? flags.Socket[7..] : flags.Socket));
        else
            serving = server.ServeAsync(new Socket(new SafeSocketHandle(3, ownsHandle: true)));
        // Idle shims give back what the GC kept after a burst of work (hack/bench/shim).
        using var trim = new MemoryTrim(TimeSpan.FromSeconds(3));

        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
        {
            ctx.Cancel = true;
            done.TrySetResult();
        });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
        {
            ctx.Cancel = true;
            done.TrySetResult();
        });
        Log.Info($"serving namespace {flags.Namespace}, first task {flags.Id}");
        Task.WaitAny(done.Task, serving);
        if (serving.IsFaulted)
            Log.Error("the ttrpc server stopped", serving.Exception?.GetBaseException());

        // Shutdown arrives as a call: let its answer (and any other in flight) go out first.
        using (var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
        {
            try
            {
                server.ShutdownAsync(grace.Token).Wait(TimeSpan.FromSeconds(3));
            }
            catch (AggregateException)
            {
            }
        }
        service.Stop();
        publisher.DrainAsync(TimeSpan.FromSeconds(5)).Wait();
        RemoveSocketFile();
        return 0;
    }

    /// <summary>Set by `start` in the daemon's environment: the daemon runs from <see cref="SealedSelf"/>.</summary>
    internal const string SealedMarker = "_CSRT_SHIM_SEALED";

    /// <summary>
    /// The executable of every container init this shim starts. The daemon itself was started
    /// from a sealed view of this binary (see StartCommand), so its own image is that view, opened
    /// again through /proc/self/exe; run by hand without `start`, the same view is made here.
    /// </summary>
    private static SealedExecutable InitBinary()
    {
        if (Environment.GetEnvironmentVariable(SealedMarker) is not null)
        {
            Environment.SetEnvironmentVariable(SealedMarker, null);
            return SealedExecutable.OpenRunning();
        }
        return SealedSelf(Files.ReadLink("/proc/self/exe"));
    }

    /// <summary>
    /// This binary through a read-only overlay mounted nowhere (no copy; the page cache all shims
    /// share), opened while the file at <paramref name="self"/> is still the one we run; or, where
    /// overlays cannot be made, a sealed memfd copy (shared memory the size of the binary, per shim).
    /// </summary>
    internal static SealedExecutable SealedSelf(string self)
    {
        try
        {
            Files.MakeDirectories(ShimPaths.EmptyDirectory, FileModes.UserAll);
        }
        catch (SyscallException e)
        {
            Log.Warn($"no overlay view of {self}, copying it instead: {e.Message}");
            return SealedExecutable.Self;
        }
        return SealedExecutable.ForRunning(self, ShimPaths.EmptyDirectory);
    }

    /// <summary>containerd created `log` (a FIFO) in the bundle and reads it; everything we log goes there.</summary>
    private static void RedirectStderrToLogFifo()
    {
        try
        {
            using var log = Files.Open("log", OpenFlags.O_WRONLY | OpenFlags.O_NONBLOCK);
            Files.SetNonBlocking(log, false);
            Files.DuplicateTo(log, 2);
        }
        catch (SyscallException)
        {
            // Started by hand (no FIFO): keep stderr.
        }
    }

    private static void RemoveSocketFile()
    {
        if (ShimPaths.SocketNamedIn(Path.GetFullPath("address")) is { } path)
            Files.TryUnlink(path);
    }
}
