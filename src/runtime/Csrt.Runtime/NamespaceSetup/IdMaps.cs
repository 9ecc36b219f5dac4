using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.NamespaceSetup;

/// <summary>
/// Writes the uid/gid maps of a new user namespace, from its parent (runc's rules). Root of the
/// host writes /proc/PID/uid_map and gid_map itself. A caller without privilege may write one
/// line only, its own id with size 1 (for gid_map after "deny" in /proc/PID/setgroups, as the
/// kernel requires); anything more (ranges of /etc/subuid and /etc/subgid) goes through the
/// set-id helpers newuidmap and newgidmap (Debian package uidmap), which check those files.
/// </summary>
public static class IdMaps
{
    private static readonly TimeSpan HelperTimeout = TimeSpan.FromSeconds(30);

    /// <summary>A map an unprivileged process may write itself: a single id, its own.</summary>
    public static bool IsOwnIdOnly(IReadOnlyList<LinuxIdMapping> mappings, uint ownId) =>
        mappings.Count == 1 && mappings[0].Size == 1 && mappings[0].HostId == ownId;

    /// <summary>The arguments of newuidmap/newgidmap: pid, then "inside outside count" triples.</summary>
    public static List<string> HelperArguments(string helper, int pid, IReadOnlyList<LinuxIdMapping> mappings)
    {
        var args = new List<string> { helper, Text(pid) };
        foreach (var m in mappings)
        {
            args.Add(Text(m.ContainerId));
            args.Add(Text(m.HostId));
            args.Add(Text(m.Size));
        }
        return args;
    }

    /// <summary>Writes both maps of the user namespace of <paramref name="pid"/>, which waits at its sync point.</summary>
    public static void Write(int pid, LinuxConfig linux, IExitMonitor monitor)
    {
        var proc = "/proc/" + Text(pid);
        var privileged = !Rootless.IsRootless;
        if (linux.UidMappings is { Count: > 0 } uids)
            WriteOne(proc, pid, "uid_map", "newuidmap", "linux.uidMappings", uids, ProcessControl.GetEffectiveUid(), privileged, monitor);
        if (linux.GidMappings is { Count: > 0 } gids)
        {
            var ownGid = ProcessControl.GetEffectiveGid();
            // Without CAP_SETGID over the parent namespace the kernel takes a gid_map only once
            // setgroups is denied, so the container cannot drop a group the caller is in.
            if (!privileged && IsOwnIdOnly(gids, ownGid))
                Files.WriteText(proc + "/setgroups", "deny");
            WriteOne(proc, pid, "gid_map", "newgidmap", "linux.gidMappings", gids, ownGid, privileged, monitor);
        }
    }

    private static void WriteOne(string proc, int pid, string file, string helper, string field, List<LinuxIdMapping> mappings,
        uint ownId, bool privileged, IExitMonitor monitor)
    {
        if (privileged || IsOwnIdOnly(mappings, ownId))
        {
            try
            {
                Files.WriteText(proc + "/" + file, NamespacePlan.IdMapText(mappings));
                return;
            }
            catch (SyscallException e) when (e.Errno is Errno.EPERM && !privileged)
            {
                // Root of a user namespace may lack the ids in its own map: let the helper decide.
            }
        }
        var path = FindHelper(helper) ?? throw CsrtException.FailedPrecondition(
            $"{field} maps more than the caller's own id ({Text(ownId)}) and the runtime is rootless: " +
            $"that needs {helper} (Debian package uidmap) in $PATH, with ranges for the caller in /etc/sub{(file == "uid_map" ? "uid" : "gid")}");
        var result = CommandRunner.Run(path, HelperArguments(helper, pid, mappings), Array.Empty<string>(), ReadOnlySpan<byte>.Empty, HelperTimeout, monitor);
        if (result.Exit.Status != 0)
        {
            throw CsrtException.Failed(
                $"{helper} {string.Join(' ', HelperArguments(helper, pid, mappings).Skip(1))} for {field} failed (exit status {Text(result.Exit.Status)}): {result.Output.Trim()}");
        }
    }

    private static string? FindHelper(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        return ExecutableLookup.Find(name, string.IsNullOrEmpty(path) ? ExecutableLookup.DefaultPath : path);
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
