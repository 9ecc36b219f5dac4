using System.Diagnostics;
using System.Globalization;

namespace Csrt.IntegrationTests.Fixtures;

/// <summary>
/// A user namespace kept by a bind mount of its nsfs file, with no process in it: how containerd
/// 2.x's CRI pins a pod's namespace (…/pinned-namespaces/user) before the pause container joins it.
/// </summary>
public static class PinnedUserNamespace
{
    /// <summary>Makes <paramref name="file"/> the pin of a new user namespace mapping 0…65535 to
    /// <paramref name="host"/>…; the caller unmounts it (e.g. a <see cref="HostDirectories"/> dir).
    /// <paramref name="denySetgroups"/> makes setgroups(2) refused in it, as a rootless creator's is.</summary>
    public static string Create(string file, uint host, bool denySetgroups = false)
    {
        File.WriteAllText(file, "");
        using var process = Process.Start(Commands.StartInfo("unshare", ["--user", "sleep", "60"]))!;
        try
        {
            var ns = $"/proc/{process.Id}/ns/user";
            var hosts = Csrt.Linux.Files.Stat("/proc/self/ns/user").Inode;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            // Until unshare has made the namespace (the pid's namespace differs from ours).
            while (Inode(ns) is not { } inode || inode == hosts)
            {
                if (DateTime.UtcNow > deadline || process.HasExited)
                    throw new InvalidOperationException("unshare --user made no user namespace");
                Thread.Sleep(10);
            }
            var map = $"0 {host.ToString(CultureInfo.InvariantCulture)} 65536\n";
            if (denySetgroups)
                File.WriteAllText($"/proc/{process.Id}/setgroups", "deny");
            File.WriteAllText($"/proc/{process.Id}/uid_map", map);
            File.WriteAllText($"/proc/{process.Id}/gid_map", map);
            Csrt.Linux.Mounts.Mount(ns, file, null, Csrt.Linux.MountFlags.MS_BIND);
            return file;
        }
        finally
        {
            process.Kill();
            process.WaitForExit();
        }
    }

    private static ulong? Inode(string path)
    {
        try
        {
            return Csrt.Linux.Files.Stat(path).Inode;
        }
        catch (Csrt.Linux.SyscallException)
        {
            return null;
        }
    }
}
