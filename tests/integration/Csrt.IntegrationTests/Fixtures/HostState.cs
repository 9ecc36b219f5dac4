using System.Globalization;
using Csrt.Linux;

namespace Csrt.IntegrationTests.Fixtures;

/// <summary>
/// Reads what is alive on the host (processes, mounts, links) so fixtures can clean up after a
/// failed test and tests can prove that nothing was left behind.
/// </summary>
public static class HostState
{
    /// <summary>Mount points at or below <paramref name="prefix"/>, deepest first.</summary>
    public static List<string> MountsUnder(string prefix) => Mounts.MountPointsUnder(prefix);

    /// <summary>Unmounts everything at or below <paramref name="prefix"/>, deepest first; a busy mount is detached (MNT_DETACH).</summary>
    public static void UnmountAllUnder(string prefix)
    {
        // Repeat: unmounting a parent can reveal a mount stacked below it on the same point.
        for (var round = 0; round < 10; round++)
        {
            var mounts = MountsUnder(prefix);
            if (mounts.Count == 0)
                return;
            foreach (var m in mounts)
            {
                try
                {
                    if (!Mounts.TryUnmount(m))
                        continue;
                }
                catch (SyscallException e) when (e.Errno == Errno.EBUSY)
                {
                    Mounts.TryUnmount(m, UnmountFlags.MNT_DETACH);
                }
            }
        }
        var left = MountsUnder(prefix);
        if (left.Count > 0)
            throw new InvalidOperationException($"could not unmount {string.Join(", ", left)} (expected nothing mounted under {prefix})");
    }

    /// <summary>Pids of all processes on the host.</summary>
    public static IEnumerable<int> AllPids()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                yield return pid;
        }
    }

    /// <summary>The process's current directory, or null when it is gone or not readable (kernel threads).</summary>
    public static string? Cwd(int pid) => ReadLink($"/proc/{pid}/cwd");

    /// <summary>The process's executable path, or null.</summary>
    public static string? Exe(int pid) => ReadLink($"/proc/{pid}/exe");

    /// <summary>The process runs the csrt shim (from out/bin or its sealed view: the same name).</summary>
    public static bool IsCsrtShim(int pid) => Exe(pid)?.EndsWith("/containerd-shim-csrt-v2", StringComparison.Ordinal) == true;

    /// <summary>The process's arguments, or an empty list when it is gone.</summary>
    public static IReadOnlyList<string> CommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllText($"/proc/{pid}/cmdline");
            return raw.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>Parent pid and state letter from /proc/pid/stat, or null when the process is gone.</summary>
    public static (int ParentPid, char State)? Stat(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // comm may contain spaces and parentheses: the fields start after the last ')'.
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (int.Parse(rest[1], CultureInfo.InvariantCulture), rest[0][0]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    public static bool IsAlive(int pid) => Stat(pid) is { State: not 'Z' and not 'X' };

    /// <summary>Live processes whose current directory is at or below <paramref name="prefix"/> (shims run in their bundle).</summary>
    public static List<int> ProcessesWithCwdUnder(string prefix) =>
        AllPids().Where(p => IsUnder(Cwd(p), prefix) && IsAlive(p)).ToList();

    /// <summary>Live processes with an argument equal to or containing <paramref name="text"/>.</summary>
    public static List<int> ProcessesWithArgument(string text) =>
        AllPids().Where(p => p != Environment.ProcessId && CommandLine(p).Any(a => a.Contains(text, StringComparison.Ordinal)) && IsAlive(p)).ToList();

    /// <summary>All descendants of <paramref name="pid"/> (children, grandchildren …), from a snapshot of /proc.</summary>
    public static List<int> Descendants(int pid)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var p in AllPids())
        {
            if (Stat(p) is { } s)
            {
                if (!children.TryGetValue(s.ParentPid, out var list))
                    children[s.ParentPid] = list = [];
                list.Add(p);
            }
        }
        var result = new List<int>();
        var queue = new Queue<int>([pid]);
        while (queue.Count > 0)
        {
            if (!children.TryGetValue(queue.Dequeue(), out var kids))
                continue;
            foreach (var k in kids)
            {
                result.Add(k);
                queue.Enqueue(k);
            }
        }
        return result;
    }

    /// <summary>Zombie children of <paramref name="pid"/>.</summary>
    public static List<int> ZombieChildren(int pid) =>
        AllPids().Where(p => Stat(p) is { State: 'Z' } s && s.ParentPid == pid).ToList();

    /// <summary>SIGKILLs the processes and waits up to <paramref name="timeout"/> until they are gone (or zombies).</summary>
    public static void KillAndWait(IEnumerable<int> pids, TimeSpan timeout)
    {
        var list = pids.Distinct().ToList();
        foreach (var p in list)
            Signals.Send(p, Signals.SIGKILL);
        WaitGone(list, timeout);
    }

    /// <summary>Waits until none of the processes is alive; returns false on timeout.</summary>
    public static bool WaitGone(IEnumerable<int> pids, TimeSpan timeout)
    {
        var list = pids.ToList();
        var deadline = DateTime.UtcNow + timeout;
        while (list.Any(IsAlive))
        {
            if (DateTime.UtcNow > deadline)
                return false;
            Thread.Sleep(20);
        }
        return true;
    }

    /// <summary>Whether a network link (e.g. a CNI bridge) of that name exists in the host's network namespace.</summary>
    public static bool LinkExists(string name) => Directory.Exists($"/sys/class/net/{name}");

    public static bool IsUnder(string? path, string prefix)
    {
        if (path is null)
            return false;
        prefix = prefix.TrimEnd('/');
        return path == prefix || path.StartsWith(prefix + "/", StringComparison.Ordinal);
    }

    private static string? ReadLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
