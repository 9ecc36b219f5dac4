using System.Text.Json.Nodes;
using Csrt.VmTests.Fixtures;
using Xunit;

namespace Csrt.VmTests.Systemd;

/// <summary>
/// `csrt --systemd-cgroup` on a node with systemd as PID 1 and the unified hierarchy: the container is a
/// transient scope whose limits systemd and the kernel both report, exec'd processes join it, pause,
/// update and delete work through it, and bad paths, taken scope names and a re-executed systemd give
/// clear errors and leave no unit behind.
/// </summary>
[Collection(GuestCollection.Name)]
public sealed class SystemdDriverTests(GuestFixture guest)
{
    private static readonly TimeSpan Short = TimeSpan.FromSeconds(60);

    private async Task<string> Show(string unit, string property) =>
        (await guest.OkAsync($"systemctl show -p {property} --value {unit}")).Trim();

    private async Task<string> Read(string dir, string file) => (await guest.OkAsync($"cat {dir}/{file}")).Trim();

    /// <summary>Names of loaded units matching <paramref name="pattern"/> (any state).</summary>
    private async Task<string> Units(string pattern) =>
        (await guest.OkAsync($"systemctl list-units --all --plain --no-legend {GuestFixture.Quote(pattern)} | awk '{{print $1}}'")).Trim();

    [Fact]
    public async Task Run_MakesATransientScope_WithTheLimitsInSystemdAndTheKernel_AndDeleteRemovesIt()
    {
        var id = GuestBundle.NewId("sd");
        var unit = $"csrt-test-{id}.scope";
        var config = GuestConfig.Default(["sleep", "1000"], cgroupsPath: $"system.slice:csrt-test:{id}");
        var r = config.Resources();
        r["memory"] = new JsonObject { ["limit"] = 64L << 20, ["reservation"] = 16L << 20 };
        r["cpu"] = new JsonObject { ["shares"] = 2048, ["quota"] = 50000, ["period"] = 100000, ["cpus"] = "0" };
        r["pids"] = new JsonObject { ["limit"] = 50 };
        await using var bundle = await GuestBundle.CreateAsync(guest, config, id);

        await bundle.RunDetachedAsync("--systemd-cgroup");

        var dir = await bundle.CgroupDirAsync();
        Assert.Equal($"/sys/fs/cgroup/system.slice/{unit}", dir);
        Assert.Equal("active", await Show(unit, "ActiveState"));
        Assert.Equal("yes", await Show(unit, "Delegate"));
        Assert.Equal("no", await Show(unit, "DefaultDependencies"));
        Assert.Equal((64L << 20).ToString(), await Show(unit, "MemoryMax"));
        Assert.Equal("50", await Show(unit, "TasksMax"));
        Assert.Equal("500ms", await Show(unit, "CPUQuotaPerSecUSec"));
        Assert.Equal("174", await Show(unit, "CPUWeight"));
        Assert.Equal("0", await Show(unit, "AllowedCPUs"));
        Assert.Equal("strict", await Show(unit, "DevicePolicy"));
        Assert.Equal((64L << 20).ToString(), await Read(dir, "memory.max"));
        Assert.Equal((16L << 20).ToString(), await Read(dir, "memory.low"));
        Assert.Equal("50", await Read(dir, "pids.max"));
        Assert.Equal("50000 100000", await Read(dir, "cpu.max"));
        Assert.Equal("174", await Read(dir, "cpu.weight"));
        Assert.Equal("0", await Read(dir, "cpuset.cpus"));

        // exec joins the scope (its cgroup namespace root), pause freezes it, update reaches both sides.
        Assert.Equal("0::/", (await guest.OkAsync($"{guest.Csrt} exec {id} cat /proc/self/cgroup")).Trim());
        await guest.OkAsync($"{guest.Csrt} pause {id}");
        Assert.Equal("1", await Read(dir, "cgroup.freeze"));
        await guest.OkAsync($"{guest.Csrt} resume {id}");
        Assert.Equal("0", await Read(dir, "cgroup.freeze"));
        await guest.OkAsync($"{guest.Csrt} update --memory 134217728 --pids-limit 60 {id}");
        Assert.Equal("134217728", await Show(unit, "MemoryMax"));
        Assert.Equal("60", await Show(unit, "TasksMax"));
        Assert.Equal("134217728", await Read(dir, "memory.max"));
        Assert.Equal("60", await Read(dir, "pids.max"));
        Assert.Contains("\"pids\"", await guest.OkAsync($"{guest.Csrt} events --stats {id}"));

        await guest.OkAsync($"{guest.Csrt} kill {id} KILL; for i in $(seq 100); do {guest.Csrt} state {id} | grep -q stopped && break; sleep 0.1; done; {guest.Csrt} delete {id}");

        Assert.Equal("", await Units(unit));
        Assert.NotEqual(0, (await guest.RunAsync($"test -e {dir}", Short)).ExitCode);
    }

    [Fact]
    public async Task AKubeletStylePodSlice_IsExpandedIntoNestedSlices_AndTheScopeLivesAtTheBottom()
    {
        var id = GuestBundle.NewId("sd");
        var pod = "kubepods-burstable-pod" + id.Replace("-", "_", StringComparison.Ordinal);
        await using var bundle = await GuestBundle.CreateAsync(guest,
            GuestConfig.Default(["sleep", "1000"], cgroupsPath: $"{pod}.slice:cri-containerd:{id}"), id);

        await bundle.RunDetachedAsync("--systemd-cgroup");

        Assert.Equal($"/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/{pod}.slice/cri-containerd-{id}.scope", await bundle.CgroupDirAsync());
        Assert.Equal($"{pod}.slice", await Show($"cri-containerd-{id}.scope", "Slice"));
        await guest.OkAsync($"{guest.Csrt} delete --force {id}");
        Assert.Equal("", await Units($"cri-containerd-{id}.scope"));
        await guest.RunAsync($"systemctl stop {pod}.slice", Short);
    }

    [Theory]
    [InlineData("system.slice:csrt", "\"slice:prefix:name\"")]
    [InlineData("system--bad.slice:csrt:x", "empty component")]
    [InlineData("system:csrt:x", "not a slice unit name")]
    public async Task ABadPath_IsRefusedNamingTheField_AndLeavesNothing(string cgroupsPath, string expected)
    {
        await using var bundle = await GuestBundle.CreateAsync(guest, GuestConfig.Default(["true"], cgroupsPath: cgroupsPath));

        var r = await guest.RunAsync($"{guest.Csrt} --systemd-cgroup run --detach --bundle {bundle.Dir} {bundle.Id} </dev/null", Short);

        Assert.Equal(1, r.ExitCode);
        Assert.Contains(expected, r.Stderr);
        Assert.Contains($"\"{cgroupsPath}\"", r.Stderr);
        Assert.NotEqual(0, (await guest.RunAsync($"{guest.Csrt} state {bundle.Id}", Short)).ExitCode);
        Assert.Equal("", await Units("csrt-*.scope"));
    }

    [Fact]
    public async Task AScopeNameInUse_IsRefusedNamingTheUnit_AndTheOtherScopeIsLeftAlone()
    {
        var id = GuestBundle.NewId("sd");
        var unit = $"csrt-test-{id}.scope";
        // A scope of that name from something else (or a container whose processes outlived it).
        await guest.OkAsync($"systemd-run --scope --unit={unit} --slice=system.slice sleep 1000 >/dev/null 2>&1 </dev/null & " +
                            $"for i in $(seq 100); do systemctl is-active -q {unit} && break; sleep 0.1; done; systemctl is-active {unit}");
        try
        {
            await using var bundle = await GuestBundle.CreateAsync(guest, GuestConfig.Default(["sleep", "1000"], cgroupsPath: $"system.slice:csrt-test:{id}"), id);

            var r = await guest.RunAsync($"{guest.Csrt} --systemd-cgroup run --detach --bundle {bundle.Dir} {id} </dev/null", Short);

            Assert.Equal(1, r.ExitCode);
            Assert.Contains($"systemd unit {unit} already exists", r.Stderr);
            Assert.Equal("active", await Show(unit, "ActiveState"));
            Assert.Equal("1", (await guest.OkAsync($"cat /sys/fs/cgroup/system.slice/{unit}/cgroup.procs | wc -l")).Trim());
            Assert.NotEqual(0, (await guest.RunAsync($"{guest.Csrt} state {id}", Short)).ExitCode);
        }
        finally
        {
            await guest.RunAsync($"systemctl stop {unit}", Short);
        }
    }

    [Fact]
    public async Task AContainer_SurvivesSystemdReexecuting_AndIsStillDeletedCleanly()
    {
        var id = GuestBundle.NewId("sd");
        var unit = $"csrt-test-{id}.scope";
        var config = GuestConfig.Default(["sleep", "1000"], cgroupsPath: $"system.slice:csrt-test:{id}");
        config.Resources()["pids"] = new JsonObject { ["limit"] = 40 };
        await using var bundle = await GuestBundle.CreateAsync(guest, config, id);
        await bundle.RunDetachedAsync("--systemd-cgroup");
        var dir = await bundle.CgroupDirAsync();

        await guest.OkAsync("systemctl daemon-reexec", TimeSpan.FromSeconds(120));

        Assert.Equal("active", await Show(unit, "ActiveState"));
        Assert.Equal("40", await Read(dir, "pids.max"));
        Assert.Equal(await bundle.PidAsync(), int.Parse(await Read(dir, "cgroup.procs")));
        await guest.OkAsync($"{guest.Csrt} update --pids-limit 41 {id}");
        Assert.Equal("41", await Show(unit, "TasksMax"));
        await guest.OkAsync($"{guest.Csrt} delete --force {id}");
        Assert.Equal("", await Units(unit));
    }

    [Fact]
    public async Task ASettingTheKernelRefusesAfterTheScopeStarted_FailsNamingTheFile_AndStopsTheScope()
    {
        var id = GuestBundle.NewId("sd");
        var unit = $"csrt-test-{id}.scope";
        var config = GuestConfig.Default(["sleep", "1000"], cgroupsPath: $"system.slice:csrt-test:{id}");
        // systemd takes AllowedCPUs=63 (and only logs what the kernel says); cpuset.cpus refuses a CPU the guest lacks.
        config.Resources()["cpu"] = new JsonObject { ["cpus"] = "63" };
        await using var bundle = await GuestBundle.CreateAsync(guest, config, id);

        var r = await guest.RunAsync($"{guest.Csrt} --systemd-cgroup run --detach --bundle {bundle.Dir} {id} </dev/null", Short);

        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"/sys/fs/cgroup/system.slice/{unit}", r.Stderr);
        Assert.Contains("cpuset", r.Stderr);
        Assert.NotEqual(0, (await guest.RunAsync($"{guest.Csrt} state {id}", Short)).ExitCode);
        Assert.Equal("", await Units(unit));
    }

    [Fact]
    public async Task WithoutTheSystemBus_TheErrorNamesTheAddress_AndNothingIsLeft()
    {
        var id = GuestBundle.NewId("sd");
        await using var bundle = await GuestBundle.CreateAsync(guest, GuestConfig.Default(["true"], cgroupsPath: $"system.slice:csrt-test:{id}"), id);

        var r = await guest.RunAsync(
            $"DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/csrt-no-such-bus {guest.Csrt} --systemd-cgroup run --detach --bundle {bundle.Dir} {id} </dev/null", Short);

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("unix:path=/run/csrt-no-such-bus", r.Stderr);
        Assert.NotEqual(0, (await guest.RunAsync($"{guest.Csrt} state {id}", Short)).ExitCode);
        Assert.Equal("", await Units($"csrt-test-{id}.scope"));
    }
}
