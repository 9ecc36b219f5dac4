using Csrt.Linux;

namespace Csrt.Runtime.Cgroups.V2;

/// <summary>v2 freezer: write cgroup.freeze, then wait for cgroup.events to say "frozen 1" (or 0).
/// The kernel notifies changes of cgroup.events with POLLPRI, so the wait sleeps in poll(2).</summary>
internal static class Freezer
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static FreezerState Get(string dir)
    {
        var want = CgroupFs.TryRead(dir, "cgroup.freeze");
        if (want is null)
            throw CgroupException.Unsupported($"{CgroupFs.PathOf(dir, "cgroup.freeze")} does not exist: this kernel (before 5.2) has no cgroup v2 freezer");
        var frozen = IsFrozen(CgroupFs.Read(dir, "cgroup.events"));
        return want.Trim() == "1" ? (frozen ? FreezerState.Frozen : FreezerState.Freezing) : FreezerState.Thawed;
    }

    internal static bool IsFrozen(string events) => CgroupFs.TryGetKeyed(events, "frozen", out var f) && f == 1;

    public static FreezerState Freeze(string dir)
    {
        CgroupFs.Write(dir, "cgroup.freeze", "1");
        if (WaitFor(dir, frozen: true))
            return FreezerState.Frozen;
        // Leave nothing half-frozen behind.
        CgroupFs.Write(dir, "cgroup.freeze", "0");
        throw CgroupException.Failed($"{dir} did not report \"frozen 1\" in cgroup.events within {Timeout.TotalSeconds} s; thawed it again");
    }

    public static FreezerState Thaw(string dir)
    {
        CgroupFs.Write(dir, "cgroup.freeze", "0");
        if (WaitFor(dir, frozen: false))
            return FreezerState.Thawed;
        throw CgroupException.Failed($"{dir} still reports \"frozen 1\" in cgroup.events {Timeout.TotalSeconds} s after writing 0 to cgroup.freeze");
    }

    private static bool WaitFor(string dir, bool frozen)
    {
        var path = CgroupFs.PathOf(dir, "cgroup.events");
        var deadline = Environment.TickCount64 + (long)Timeout.TotalMilliseconds;
        Span<PollFd> p = stackalloc PollFd[1];
        while (true)
        {
            // kernfs wakes POLLPRI pollers when the file changes after this fd last read it.
            using var fd = Files.Open(path, OpenFlags.O_RDONLY);
            if (IsFrozen(System.Text.Encoding.UTF8.GetString(Files.ReadToEnd(fd))) == frozen)
                return true;
            var left = deadline - Environment.TickCount64;
            if (left <= 0)
                return false;
            p[0] = new PollFd { Fd = fd.Number, Events = PollFd.POLLPRI };
            Notifications.Poll(p, (int)Math.Min(left, 100));
        }
    }
}
