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
            pid = runtime.InitPidOf(flags.Id);
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
        SocketFile.RemoveIfDead(bundle);
        var response = new TaskV2.DeleteResponse
        {
            Pid = (uint)pid,
            ExitStatus = 128 + Signals.SIGKILL,
            ExitedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
        };
        Console.OpenStandardOutput().Write(response.ToByteArray());
        return 0;
    }

    private static void Warn(string message) => Console.Error.WriteLine(message);
}
