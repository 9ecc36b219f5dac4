using Csrt.Linux;

namespace Csrt.Runtime.Cgroups;

/// <summary>Directory-level work shared by both managers: mkdir, pids, rmdir, kill.</summary>
internal static class CgroupTree
{
    /// <summary>mkdir -p; returns the directories it created, outermost first.</summary>
    public static List<string> MakeDirectories(string dir)
    {
        var created = new List<string>();
        var missing = new Stack<string>();
        var current = dir.TrimEnd('/');
        while (current.Length > 0 && !Files.IsDirectory(current))
        {
            missing.Push(current);
            current = CgroupPaths.Parent(current);
            if (current == "/")
                break;
        }
        while (missing.Count > 0)
        {
            var d = missing.Pop();
            try
            {
                Files.MakeDirectory(d);
                created.Add(d);
            }
            catch (SyscallException e) when (e.Errno == Errno.EEXIST)
            {
            }
        }
        return created;
    }

    /// <summary>Removes what a failed Create made, deepest first; errors are ignored (the original one matters).</summary>
    public static void RemoveCreated(List<string> created)
    {
        for (var i = created.Count - 1; i >= 0; i--)
        {
            try
            {
                Files.RemoveDirectory(created[i]);
            }
            catch (SyscallException)
            {
            }
        }
    }

    public static void CollectPids(string dir, bool recursive, List<int> into)
    {
        var text = Files.TryReadText(CgroupFs.PathOf(dir, "cgroup.procs"));
        if (text is null)
            return;
        CgroupFs.ParsePids(text, into);
        if (!recursive)
            return;
        foreach (var child in ChildrenOf(dir))
            CollectPids(dir + "/" + child, true, into);
    }

    /// <summary>
    /// rmdir of every directory (sub-cgroups first). A cgroup whose last task is exiting still reports
    /// EBUSY for a moment: retry 5 times with 10, 20, 40, 80 ms pauses (runc's RemovePaths).
    /// </summary>
    public static void RemoveAll(IEnumerable<string> dirs)
    {
        var pending = new List<string>(dirs.Distinct(StringComparer.Ordinal));
        SyscallException? last = null;
        var delay = 10;
        for (var attempt = 0; attempt < 5 && pending.Count > 0; attempt++)
        {
            if (attempt > 0)
            {
                Thread.Sleep(delay);
                delay *= 2;
            }
            for (var i = pending.Count - 1; i >= 0; i--)
            {
                try
                {
                    RemoveTree(pending[i]);
                    pending.RemoveAt(i);
                }
                catch (SyscallException e)
                {
                    last = e;
                }
            }
        }
        if (pending.Count > 0)
        {
            var pids = new List<int>();
            foreach (var d in pending)
                CollectPids(d, true, pids);
            throw CgroupException.Failed(
                $"cannot remove cgroup {string.Join(", ", pending)}: {last?.Errno} ({(last is null ? "" : SyscallException.Describe(last.Errno))})"
                + (pids.Count > 0 ? $"; processes still inside: {string.Join(' ', pids)}" : ""), last);
        }
    }

    private static void RemoveTree(string dir)
    {
        try
        {
            Files.RemoveDirectory(dir);
            return;
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT)
        {
            return;
        }
        catch (SyscallException e) when (e.Errno is Errno.EBUSY or Errno.ENOTEMPTY)
        {
            // Sub-cgroups first; if there are none, the cgroup still has tasks and the caller retries.
        }
        foreach (var child in ChildrenOf(dir))
            RemoveTree(dir + "/" + child);
        try
        {
            Files.RemoveDirectory(dir);
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT)
        {
        }
    }

    /// <summary>Signals each pid; processes that are already gone are skipped.</summary>
    public static void SignalAll(IReadOnlyList<int> pids, int signal)
    {
        foreach (var pid in pids)
            Signals.Send(pid, signal);
    }

    /// <summary>Sub-cgroup names; none when the cgroup is already gone.</summary>
    private static List<string> ChildrenOf(string dir)
    {
        try
        {
            return Directories.ListSubdirectories(dir);
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT)
        {
            return new List<string>();
        }
    }
}
