using Csrt.Runtime.Cgroups;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

/// <summary>The v2 path of the watcher on plain files (inotify works on any file); the v1 path and
/// real OOM kills are in the integration tests.</summary>
public sealed class CgroupOomWatcherTests : IDisposable
{
    private readonly TempTree _tree = new();
    private readonly List<string> _reports = new();
    private readonly SemaphoreSlim _reported = new(0);

    public void Dispose() => _tree.Dispose();

    private void OnOom(string id)
    {
        lock (_reports)
            _reports.Add(id);
        _reported.Release();
    }

    private static string Events(int kills) => $"low 0\nhigh 0\nmax {kills}\noom {kills}\noom_kill {kills}\noom_group_kill 0\n";

    [Fact]
    public void A_rising_oom_kill_count_is_reported_once_per_rise_for_the_right_container()
    {
        var a = _tree.Files("a", "memory.events=" + Events(0));
        var b = _tree.Files("b", "memory.events=" + Events(3));
        using var w = new CgroupOomWatcher(OnOom);
        w.Add("ctr-a", new OomSource(a, true));
        w.Add("ctr-b", new OomSource(b, true));

        File.WriteAllText(Path.Combine(a, "memory.events"), Events(1));
        Assert.True(_reported.Wait(TimeSpan.FromSeconds(5)), "no OOM report for ctr-a");
        File.WriteAllText(Path.Combine(b, "memory.events"), Events(3)); // no new kill in b
        File.WriteAllText(Path.Combine(a, "memory.events"), Events(1) + "\n"); // modified, same count
        File.WriteAllText(Path.Combine(b, "memory.events"), Events(4));
        Assert.True(_reported.Wait(TimeSpan.FromSeconds(5)), "no OOM report for ctr-b");
        Thread.Sleep(200);

        lock (_reports)
            Assert.Equal(new[] { "ctr-a", "ctr-b" }, _reports);
    }

    [Fact]
    public void Nothing_is_reported_after_remove_or_after_the_cgroup_is_gone()
    {
        var a = _tree.Files("a", "memory.events=" + Events(0));
        var b = _tree.Files("b", "memory.events=" + Events(0));
        using var w = new CgroupOomWatcher(OnOom);
        w.Add("ctr-a", new OomSource(a, true));
        w.Add("ctr-b", new OomSource(b, true));

        Assert.True(w.Remove("ctr-a"));
        Assert.False(w.Remove("ctr-a"));
        File.WriteAllText(Path.Combine(a, "memory.events"), Events(1));
        Directory.Delete(b, recursive: true);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (w.Watched.Count > 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(20);

        Assert.Empty(w.Watched);
        Assert.False(_reported.Wait(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public void A_cgroup_without_memory_events_cannot_be_watched()
    {
        var a = _tree.Dir("a");
        using var w = new CgroupOomWatcher(OnOom);

        var e = Assert.Throws<CgroupException>(() => w.Add("ctr-a", new OomSource(a, true)));

        Assert.Contains("memory.events", e.Message);
    }

    [Fact]
    public void A_v1_cgroup_without_event_control_is_refused_naming_the_file()
    {
        var a = _tree.Files("a", "memory.oom_control=oom_kill_disable 0\n");
        using var w = new CgroupOomWatcher(OnOom);

        var e = Assert.Throws<CgroupException>(() => w.Add("ctr-a", new OomSource(a, false)));

        Assert.Contains("cgroup.event_control", e.Message);
        Assert.Empty(w.Watched);
    }
}
