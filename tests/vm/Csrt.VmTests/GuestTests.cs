using Csrt.VmTests.Fixtures;
using Xunit;

namespace Csrt.VmTests;

/// <summary>The guest is the node the lane promises: systemd as PID 1, the unified hierarchy with the
/// controllers the tests need, the system bus, and the repository where the host has it.</summary>
[Collection(GuestCollection.Name)]
public sealed class GuestTests(GuestFixture guest)
{
    [Fact]
    public async Task Guest_RunsSystemdAsPid1_OnTheUnifiedHierarchy_WithTheSystemBus()
    {
        Assert.Equal("systemd", (await guest.OkAsync("cat /proc/1/comm")).Trim());
        Assert.Equal("cgroup2fs", (await guest.OkAsync("stat -f -c %T /sys/fs/cgroup")).Trim());
        var controllers = (await guest.OkAsync("cat /sys/fs/cgroup/cgroup.controllers")).Split(' ', StringSplitOptions.TrimEntries);
        foreach (var c in new[] { "cpuset", "cpu", "io", "memory", "hugetlb", "pids" })
            Assert.Contains(c, controllers);
        Assert.Equal("active", (await guest.OkAsync("systemctl is-active multi-user.target dbus.service | sort -u")).Trim());
    }

    [Fact]
    public async Task Repository_IsSharedReadOnly_AtTheHostsPath()
    {
        var hostCsrt = await File.ReadAllBytesAsync(guest.Csrt);
        var sum = (await guest.OkAsync($"sha256sum {guest.Csrt}")).Split(' ')[0];
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(hostCsrt)), sum);
        var write = await guest.RunAsync($"touch {guest.RepoRoot}/out/vm-write-probe", TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, write.ExitCode);
        Assert.Contains("Read-only file system", write.Stderr);
    }

    [Fact]
    public async Task SharedDir_IsWritableFromTheGuest_AndSeenByTheHost()
    {
        await guest.OkAsync($"echo from-guest > {guest.SharedDir}/probe");
        Assert.Equal("from-guest", (await File.ReadAllTextAsync(Path.Combine(guest.SharedDir, "probe"))).Trim());
        File.Delete(Path.Combine(guest.SharedDir, "probe"));
    }

    [Fact]
    public async Task RunAsync_ReturnsTheExitCode_Stdout_AndStderr_AndStopsACommandAtItsTimeout()
    {
        var r = await guest.RunAsync("echo out; echo err >&2; exit 7", TimeSpan.FromSeconds(30));
        Assert.Equal((7, "out\n", "err\n"), (r.ExitCode, r.Stdout, r.Stderr));

        var slow = await guest.RunAsync("sleep 100", TimeSpan.FromSeconds(2));
        Assert.Equal(124, slow.ExitCode);
    }
}
