using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.IntegrationTests.Cgroups;

/// <summary>OOM notification from the real kernel, and the cgroup2 hierarchy of this hybrid machine
/// (freeze, cgroup.kill, hugetlb, eBPF device filters).</summary>
public sealed class CgroupOomAndUnifiedTests : IDisposable
{
    private readonly CgroupScope _scope = new();

    public void Dispose() => _scope.Dispose();

    [Fact]
    public void A_process_allocating_beyond_its_memory_limit_is_reported_once_by_the_oom_watcher()
    {
        var m = _scope.Manager("/" + _scope.Name);
        m.Create(new LinuxResources { Memory = new LinuxMemory { Limit = 16L << 20 } });
        var reports = new List<string>();
        using var reported = new SemaphoreSlim(0);
        using var watcher = new CgroupOomWatcher(id =>
        {
            lock (reports)
                reports.Add(id);
            reported.Release();
        });
        watcher.Add(_scope.Name, m);
        // A second, quiet container watched by the same watcher must get no report.
        var other = _scope.Track(CgroupManager.Create(new CgroupConfig { ContainerId = _scope.Name + "-b", CgroupsPath = "/" + _scope.Name + "-b" }));
        other.Create(null);
        watcher.Add("unrelated", other);

        // tail keeps the whole "line" of /dev/zero (it has no newline) in memory.
        var p = _scope.Shell("read go; exec tail /dev/zero");
        m.Join(p.Id);
        p.StandardInput.WriteLine("go");
        p.StandardInput.Flush();

        Assert.True(p.WaitForExit(30_000), "the memory hog was not killed");
        Assert.Equal(137, p.ExitCode);
        Assert.True(reported.Wait(TimeSpan.FromSeconds(10)), "no OOM report");
        Assert.True(m.Stats().Memory.OomControl?.OomKill >= 1 || m.Stats().Memory.Events?.OomKill >= 1);

        // Removing the cgroup signals the v1 eventfd too: that must not count as an OOM.
        m.Destroy();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (watcher.Watched.Contains(_scope.Name) && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.DoesNotContain(_scope.Name, watcher.Watched);
        Assert.False(reported.Wait(TimeSpan.FromMilliseconds(300)));
        lock (reports)
            Assert.Equal(new[] { _scope.Name }, reports);
        Assert.Contains("unrelated", watcher.Watched);
    }

    [Fact]
    public void The_cgroup2_hierarchy_hosts_a_container_cgroup_with_freeze_kill_and_hugetlb()
    {
        if (CgroupScope.Host.Unified is null)
            return;
        var m = _scope.UnifiedManager();
        var huge = CgroupScope.Host.HasUnified("hugetlb") && Conversions.HostHugePageSizes().Contains("2MB");

        m.Create(new LinuxResources { HugepageLimits = huge ? new() { new() { PageSize = "2MB", Limit = 6 << 20 } } : null });

        if (huge)
            Assert.Equal((6 << 20).ToString(), File.ReadAllText(Path.Combine(m.UnifiedPath!, "hugetlb.2MB.max")).Trim());
        var p = _scope.Shell("exec sleep 600");
        m.Join(p.Id);
        Assert.Contains("0::/" + _scope.Name, File.ReadAllText($"/proc/{p.Id}/cgroup"));
        Assert.Equal(new[] { p.Id }, m.GetPids());

        Assert.Equal(FreezerState.Frozen, m.Freeze());
        Assert.Contains("frozen 1", File.ReadAllText(Path.Combine(m.UnifiedPath!, "cgroup.events")));
        Assert.Equal(FreezerState.Thawed, m.Thaw());

        using (var dir = m.OpenUnifiedDirectory())
            Assert.True(Files.Stat(dir!).IsDirectory);

        m.KillAll(Signals.SIGKILL); // cgroup.kill
        Assert.True(p.WaitForExit(5000));
        Assert.Equal(137, p.ExitCode);
        m.Destroy();
        Assert.False(m.Exists);
    }

    [Fact]
    public void The_ebpf_device_filter_denies_and_allows_opening_devices_and_an_update_replaces_it()
    {
        if (CgroupScope.Host.Unified is null)
            return;
        var m = _scope.UnifiedManager();
        var procs = Path.Combine(m.UnifiedPath!, "cgroup.procs");
        var probe = $"echo $$ > {procs} && exec 3< /dev/kmsg && echo opened";

        m.Create(new LinuxResources { Devices = new() { new LinuxDeviceCgroup { Allow = false, Access = "rwm" } } });

        Assert.Single(Csrt.Runtime.Cgroups.V2.Devices.Attached(m.UnifiedPath!));
        var (exit, output) = _scope.RunShell(probe);
        Assert.NotEqual(0, exit);
        Assert.Contains("Operation not permitted", output);
        // runc's defaults stay allowed.
        Assert.Equal(0, _scope.RunShell($"echo $$ > {procs} && exec 3< /dev/null").Exit);

        m.Update(new LinuxResources
        {
            Devices = new()
            {
                new LinuxDeviceCgroup { Allow = false, Access = "rwm" },
                new LinuxDeviceCgroup { Allow = true, Type = "c", Major = 1, Minor = 11, Access = "r" },
            },
        });

        Assert.Single(Csrt.Runtime.Cgroups.V2.Devices.Attached(m.UnifiedPath!));
        (exit, output) = _scope.RunShell(probe);
        Assert.Equal(0, exit);
        Assert.Contains("opened", output);
        // Read was allowed, write was not.
        (exit, output) = _scope.RunShell($"echo $$ > {procs} && exec 3> /dev/kmsg");
        Assert.NotEqual(0, exit);
    }
}
