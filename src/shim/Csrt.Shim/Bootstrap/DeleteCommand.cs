using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.State;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TaskV2 = Containerd.Task.V2;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// `delete`: containerd runs it after every task delete and when a shim died. It removes what is
/// left of one container (every process, its cgroup, its state, the rootfs mounts) and writes the
/// raw protobuf DeleteResponse on stdout. A container that is already gone is fine.
/// </summary>
public static class DeleteCommand
{
    public static int Run(ShimFlags flags)
    {
        if (flags.Namespace.Length == 0)
            throw new ArgumentException("shim namespace cannot be empty (-namespace)");
        var bundle = flags.Bundle.Length > 0 ? flags.Bundle : Directory.GetCurrentDirectory();
        var runtime = new ContainerRuntime(new RuntimeOptions { Root = ShimOptions.StateRootOf(bundle, flags.Namespace), Warning = Warn });
        var pid = 0;
        try
        {
            pid = runtime.Store.Load(flags.Id).InitPid;
        }
        catch (CsrtException)
        {
        }
        try
        {
            runtime.Delete(flags.Id, force: true);
        }
        catch (ContainerNotFoundException)
        {
        }
        catch (Exception e)
        {
            Warn($"deleting container {flags.Id}: {e.Message}");
        }
        RootfsMounts.UnmountAll(Path.Combine(bundle, "rootfs"));
        RemoveDeadShimSocket(bundle);
        var response = new TaskV2.DeleteResponse
        {
            Pid = (uint)pid,
            ExitStatus = 128 + Signals.SIGKILL,
            ExitedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        };
        Console.OpenStandardOutput().Write(response.ToByteArray());
        return 0;
    }

    /// <summary>
    /// A shim killed with SIGKILL cannot remove its socket file (in /run/containerd/s, or in
    /// containerd 2.3's socket_dir). When nobody listens on it any more (ECONNREFUSED), it goes; a
    /// live shim serving the pod's other containers (the usual case: delete runs after every task
    /// delete) answers and keeps it.
    /// </summary>
    private static void RemoveDeadShimSocket(string bundle)
    {
        if (ShimPaths.SocketNamedIn(Path.Combine(bundle, "address")) is not { } path)
            return;
        try
        {
            UnixSockets.Connect(path).Dispose();
        }
        catch (SyscallException e) when (e.Errno == Errno.ECONNREFUSED)
        {
            Files.TryUnlink(path);
        }
        catch (SyscallException)
        {
            // Gone already (ENOENT), or busy: leave it.
        }
    }

    private static void Warn(string message) => Console.Error.WriteLine(message);
}
