using System.Globalization;
using Csrt.Linux;

namespace Csrt.Runtime.Cgroups;

/// <summary>
/// Reports OOM kills in many container cgroups from one thread (the shim keeps one per process).
/// <list type="bullet">
/// <item>cgroup v1: an eventfd registered through cgroup.event_control for memory.oom_control; the
/// kernel signals it on each OOM of the cgroup, and also when the cgroup is removed — so after each
/// signal the watcher checks the cgroup still exists and otherwise drops it without a report
/// (containerd's pkg/oom/v1 does the same).</item>
/// <item>cgroup v2: an inotify watch on memory.events; a report each time its oom_kill count goes up
/// (containerd's pkg/oom/v2). Removing the cgroup removes the watch (IN_IGNORED) and the entry.</item>
/// </list>
/// <see cref="Add"/> and <see cref="Remove"/> may be called from any thread; the callback runs on the
/// watcher thread and should only hand the event on (e.g. queue a TaskOOM). Nothing is reported for an
/// id after <see cref="Remove"/> returns or after its cgroup is gone.
/// </summary>
public sealed class CgroupOomWatcher : IDisposable
{
    private sealed class Entry
    {
        public required string Id;
        public required OomSource Source;
        public FileDescriptor? EventFd;  // v1
        public int Watch = -1;           // v2 inotify watch descriptor
        public ulong Kills;              // v2 last oom_kill count
        public volatile bool Removed;
    }

    private readonly Action<string> _onOom;
    private readonly object _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<int, Entry> _byWatch = new();
    private readonly List<Entry> _closing = new();
    private readonly FileDescriptor _wake;
    private readonly FileDescriptor _inotify;
    private readonly Thread _thread;
    private volatile bool _disposed;

    /// <param name="onOom">Called with the container id for each OOM kill.</param>
    public CgroupOomWatcher(Action<string> onOom)
    {
        _onOom = onOom;
        _wake = Notifications.CreateEventFd(nonBlocking: true);
        _inotify = Notifications.CreateInotify(nonBlocking: true);
        // A small stack: the loop needs little, and the shim counts its memory per pod.
        _thread = new Thread(Loop, 256 * 1024) { IsBackground = true, Name = "csrt-oom-watcher" };
        _thread.Start();
    }

    /// <summary>Ids being watched.</summary>
    public IReadOnlyCollection<string> Watched
    {
        get
        {
            lock (_lock)
                return _entries.Keys.ToArray();
        }
    }

    /// <summary>Starts watching a container's cgroup.</summary>
    /// <exception cref="CgroupException">The manager has no memory controller to watch.</exception>
    public void Add(string id, ICgroupManager manager) =>
        Add(id, manager.OomSource ?? throw CgroupException.Unsupported($"container {id}: no memory cgroup to watch for OOM kills"));

    /// <summary>Starts watching <paramref name="source"/> under <paramref name="id"/> (replacing an
    /// earlier registration of the same id).</summary>
    public void Add(string id, OomSource source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var entry = new Entry { Id = id, Source = source };
        if (source.Unified)
        {
            var events = CgroupFs.PathOf(source.Directory, "memory.events");
            // Count first, then watch: a kill in between shows up as a modification with a higher count.
            entry.Kills = ReadKills(source.Directory) ?? throw CgroupException.Unsupported($"cannot watch {events} for OOM kills: it does not exist");
            lock (_lock)
            {
                entry.Watch = Notifications.AddWatch(_inotify, events, InotifyMask.IN_MODIFY);
                // inotify returns the same descriptor for the same file: the newest id wins.
                _byWatch[entry.Watch] = entry;
                Replace(entry);
            }
        }
        else
        {
            entry.EventFd = Notifications.CreateEventFd(nonBlocking: true);
            try
            {
                using var control = Files.Open(CgroupFs.PathOf(source.Directory, "memory.oom_control"), OpenFlags.O_RDONLY);
                // "<eventfd> <fd of memory.oom_control>": the kernel keeps its own references.
                CgroupFs.Write(source.Directory, "cgroup.event_control",
                    entry.EventFd.Number.ToString(CultureInfo.InvariantCulture) + " " + control.Number.ToString(CultureInfo.InvariantCulture));
            }
            catch
            {
                entry.EventFd.Dispose();
                throw;
            }
            lock (_lock)
                Replace(entry);
        }
        Notifications.WriteEventFd(_wake);
    }

    private void Replace(Entry entry)
    {
        if (_entries.Remove(entry.Id, out var old))
            Retire(old);
        _entries[entry.Id] = entry;
    }

    /// <summary>Stops watching; false when the id was not watched (or its cgroup is already gone).</summary>
    public bool Remove(string id)
    {
        lock (_lock)
        {
            if (!_entries.Remove(id, out var entry))
                return false;
            Retire(entry);
        }
        Notifications.WriteEventFd(_wake);
        return true;
    }

    // Under _lock. The fds are closed by the watcher thread, after poll has let go of them.
    private void Retire(Entry entry)
    {
        entry.Removed = true;
        if (entry.Watch >= 0 && _byWatch.TryGetValue(entry.Watch, out var w) && ReferenceEquals(w, entry))
            _byWatch.Remove(entry.Watch);
        _closing.Add(entry);
    }

    private static ulong? ReadKills(string dir)
    {
        var text = CgroupFs.TryRead(dir, "memory.events");
        if (text is null)
            return null;
        CgroupFs.TryGetKeyed(text, "oom_kill", out var kills);
        return kills;
    }

    private void Loop()
    {
        var polled = new List<Entry>();
        var fds = new PollFd[16];
        var inotifyEvents = new List<InotifyEvent>();
        var reports = new List<string>();
        while (!_disposed)
        {
            lock (_lock)
            {
                CloseRetired();
                polled.Clear();
                foreach (var e in _entries.Values)
                {
                    if (e.EventFd is not null)
                        polled.Add(e);
                }
            }
            if (fds.Length < polled.Count + 2)
                fds = new PollFd[polled.Count + 2];
            fds[0] = new PollFd { Fd = _wake.Number, Events = PollFd.POLLIN };
            fds[1] = new PollFd { Fd = _inotify.Number, Events = PollFd.POLLIN };
            for (var i = 0; i < polled.Count; i++)
                fds[i + 2] = new PollFd { Fd = polled[i].EventFd!.Number, Events = PollFd.POLLIN };

            Notifications.Poll(fds.AsSpan(0, polled.Count + 2), -1);
            if (_disposed)
                break;
            reports.Clear();
            if (fds[0].Returned != 0)
                Notifications.TryReadEventFd(_wake, out _);
            if (fds[1].Returned != 0)
                HandleInotify(inotifyEvents, reports);
            for (var i = 0; i < polled.Count; i++)
            {
                var r = fds[i + 2].Returned;
                if (r == 0)
                    continue;
                var e = polled[i];
                if (e.Removed)
                    continue;
                Notifications.TryReadEventFd(e.EventFd!, out _);
                // The eventfd also fires when the cgroup is removed: only a live cgroup had an OOM.
                if ((r & (PollFd.POLLHUP | PollFd.POLLERR | PollFd.POLLNVAL)) != 0
                    || !Files.Exists(CgroupFs.PathOf(e.Source.Directory, "memory.oom_control")))
                {
                    Drop(e);
                    continue;
                }
                reports.Add(e.Id);
            }
            foreach (var id in reports)
                Report(id);
        }
        lock (_lock)
        {
            foreach (var e in _entries.Values)
                _closing.Add(e);
            _entries.Clear();
            CloseRetired();
        }
    }

    private void HandleInotify(List<InotifyEvent> events, List<string> reports)
    {
        events.Clear();
        while (Notifications.ReadInotify(_inotify, events) > 0)
        {
        }
        foreach (var ev in events)
        {
            Entry? e;
            lock (_lock)
                _byWatch.TryGetValue(ev.Watch, out e);
            if (e is null || e.Removed)
                continue;
            if ((ev.Mask & (InotifyMask.IN_IGNORED | InotifyMask.IN_DELETE_SELF)) != 0)
            {
                Drop(e);
                continue;
            }
            if ((ev.Mask & InotifyMask.IN_MODIFY) == 0)
                continue;
            var kills = ReadKills(e.Source.Directory);
            if (kills is null)
            {
                Drop(e);
                continue;
            }
            if (kills > e.Kills)
            {
                e.Kills = kills.Value;
                reports.Add(e.Id);
            }
        }
    }

    // The cgroup is gone: forget the entry without a report.
    private void Drop(Entry e)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(e.Id, out var current) && ReferenceEquals(current, e))
                _entries.Remove(e.Id);
            if (!e.Removed)
                Retire(e);
        }
    }

    private void Report(string id)
    {
        // A Remove between the check above and here must win: re-check under the lock.
        lock (_lock)
        {
            if (!_entries.ContainsKey(id))
                return;
        }
        try
        {
            _onOom(id);
        }
        catch (Exception)
        {
            // A failing subscriber must not stop the watcher for the other containers.
        }
    }

    // Under _lock, on the watcher thread.
    private void CloseRetired()
    {
        foreach (var e in _closing)
        {
            e.EventFd?.Dispose();
            if (e.Watch >= 0 && !_byWatch.ContainsKey(e.Watch))
            {
                try
                {
                    Notifications.RemoveWatch(_inotify, e.Watch);
                }
                catch (SyscallException)
                {
                }
            }
        }
        _closing.Clear();
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Notifications.WriteEventFd(_wake);
        if (Thread.CurrentThread != _thread)
            _thread.Join();
        _wake.Dispose();
        _inotify.Dispose();
    }
}
