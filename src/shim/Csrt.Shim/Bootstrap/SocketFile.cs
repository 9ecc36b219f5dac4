using Csrt.Linux;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// Removing the shim's socket file, named in a bundle's `address` file. Only a path that is a shim
/// socket as <see cref="ShimPaths.SocketAddress(string, string, string, string)"/> makes them is
/// ever unlinked (<see cref="ShimPaths.SocketNamedIn"/>).
/// </summary>
public static class SocketFile
{
    /// <summary>
    /// Before answering the last Shutdown (as runc's shim does): containerd removes the bundle, and
    /// with it the `address` file naming the socket, as soon as it has the answer; and a `start` for
    /// the same group from then on must bind a new shim instead of finding this dying one. The
    /// bundle of the last deleted task names it; failing that, the `address` file in the working
    /// directory (the first bundle's).
    /// </summary>
    public static void RemoveOnShutdown(string? lastBundle)
    {
        foreach (var file in new[] { lastBundle is null ? null : Path.Combine(lastBundle, "address"), Path.GetFullPath("address") })
        {
            if (file is not null && ShimPaths.SocketNamedIn(file) is { } path)
            {
                Files.TryUnlink(path);
                return;
            }
        }
    }

    /// <summary>
    /// A shim killed with SIGKILL cannot remove its socket file (in /run/containerd/s, or in
    /// containerd 2.3's socket_dir). When nobody listens on it any more (ECONNREFUSED), it goes; a
    /// live shim serving the pod's other containers (the usual case: `delete` runs after every task
    /// delete) answers and keeps it.
    /// </summary>
    public static void RemoveIfDead(string bundle)
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
}
