using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Functions;

/// <summary>
/// The user namespace of a rootless function call: the caller is root in it, and when the caller
/// has subordinate ranges in /etc/subuid and /etc/subgid (and newuidmap/newgidmap to write them),
/// container ids 1… map to the first range, so an image's other owners and users exist in it.
/// </summary>
public sealed record UserNamespaceMappings(List<LinuxIdMapping> Uids, List<LinuxIdMapping> Gids)
{
    public static UserNamespaceMappings ForCaller()
    {
        var uid = ProcessControl.GetEffectiveUid();
        var gid = ProcessControl.GetEffectiveGid();
        var name = Passwd.Find(Files.TryReadText("/etc/passwd"), uid)?.Name;
        var uids = new List<LinuxIdMapping> { new() { ContainerId = 0, HostId = uid, Size = 1 } };
        var gids = new List<LinuxIdMapping> { new() { ContainerId = 0, HostId = gid, Size = 1 } };
        var subUid = FirstRange(Files.TryReadText("/etc/subuid"), name, uid);
        var subGid = FirstRange(Files.TryReadText("/etc/subgid"), name, uid);
        if (subUid is { } su && subGid is { } sg && OnPath("newuidmap") && OnPath("newgidmap"))
        {
            uids.Add(new() { ContainerId = 1, HostId = su.Start, Size = su.Count });
            gids.Add(new() { ContainerId = 1, HostId = sg.Start, Size = sg.Count });
        }
        return new UserNamespaceMappings(uids, gids);
    }

    /// <summary>The first "name:start:count" (or "uid:start:count") line of a subordinate id file.</summary>
    internal static (uint Start, uint Count)? FirstRange(string? text, string? name, uint uid)
    {
        var uidText = uid.ToString(CultureInfo.InvariantCulture);
        foreach (var line in (text ?? "").Split('\n'))
        {
            var f = line.Trim().Split(':');
            if (f.Length == 3 && (f[0] == name || f[0] == uidText)
                && uint.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0)
                return (start, count);
        }
        return null;
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? ExecutableLookup.DefaultPath).Split(':')
            .Any(dir => dir.Length > 0 && Files.TryStat(Path.Combine(dir, program)) is { IsRegular: true });
}
