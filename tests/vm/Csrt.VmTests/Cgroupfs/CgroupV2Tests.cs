using System.Text.Json.Nodes;
using Csrt.VmTests.Fixtures;
using Xunit;

namespace Csrt.VmTests.Cgroupfs;

/// <summary>
/// csrt's cgroupfs driver on a unified cgroup v2 host with systemd as PID 1 (the guest): every
/// resource of linux.resources read back from the kernel's files in the container's cgroup, devices
/// as an eBPF program, freezing through cgroup.freeze, cgroup.kill, OOM counting from memory.events,
/// the container's own view through its cgroup namespace, and no cgroup left after delete.
/// </summary>
[Collection(GuestCollection.Name)]
public sealed class CgroupV2Tests(GuestFixture guest)
{
    private static readonly TimeSpan Timeout = GuestFixture.DefaultTimeout;

    /// <summary>Absolute, so the cgroup's place does not depend on the ssh session's own cgroup.</summary>
    private static string CgroupsPath(string id) => $"/csrt-vm/{id}";

    private static string CgroupDir(string id) => "/sys/fs/cgroup" + CgroupsPath(id);

    private async Task<string> ReadAsync(string id, string file) =>
        (await guest.OkAsync($"cat {CgroupDir(id)}/{file}")).Trim();

    private async Task<GuestBundle> StartAsync(IReadOnlyList<string> args, Action<JsonObject>? configure = null)
    {
        var id = GuestBundle.NewId();
        var config = GuestConfig.Default(args, CgroupsPath(id));
        configure?.Invoke(config);
        var bundle = await GuestBundle.CreateAsync(guest, config, id);
        try
        {
            await bundle.RunDetachedAsync();
            return bundle;
        }
        catch
        {
            await bundle.DisposeAsync();
            throw;
        }
    }

    private Task<string> CsrtAsync(string args) => guest.OkAsync($"{guest.Csrt} {args}", Timeout);

    [Fact]
    public async Task Memory_MaxLowHighAndSwap_AreWritten_WithRuncsSwapArithmetic()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
        {
            c.Resources()["memory"] = new JsonObject { ["limit"] = 64L << 20, ["reservation"] = 32L << 20, ["swap"] = 96L << 20 };
            c.Resources()["unified"] = new JsonObject { ["memory.high"] = (48L << 20).ToString() };
        });

        Assert.Equal((64L << 20).ToString(), await ReadAsync(b.Id, "memory.max"));
        Assert.Equal((32L << 20).ToString(), await ReadAsync(b.Id, "memory.low"));
        Assert.Equal((48L << 20).ToString(), await ReadAsync(b.Id, "memory.high"));
        // OCI swap is memory+swap; v2's memory.swap.max is the swap alone: 96M − 64M.
        Assert.Equal((32L << 20).ToString(), await ReadAsync(b.Id, "memory.swap.max"));
    }

    [Fact]
    public async Task Memory_SwapMinusOne_MeansUnlimitedSwap_AndSwapEqualToLimit_MeansNone()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["memory"] = new JsonObject { ["limit"] = 64L << 20, ["swap"] = -1 });
        Assert.Equal("max", await ReadAsync(b.Id, "memory.swap.max"));

        await CsrtAsync($"update --memory 32m --memory-swap 32m {b.Id}");

        Assert.Equal((32L << 20).ToString(), await ReadAsync(b.Id, "memory.max"));
        Assert.Equal("0", await ReadAsync(b.Id, "memory.swap.max"));
    }

    [Fact]
    public async Task Cpu_WeightFromShares_MaxQuotaAndPeriod_AndBurst_AreWritten()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["cpu"] = new JsonObject { ["shares"] = 1024, ["quota"] = 50_000, ["period"] = 200_000, ["burst"] = 10_000 });

        // 1024 shares (the v1 default) is weight 100 (the v2 default).
        Assert.Equal("100", await ReadAsync(b.Id, "cpu.weight"));
        Assert.Equal("50000 200000", await ReadAsync(b.Id, "cpu.max"));
        Assert.Equal("10000", await ReadAsync(b.Id, "cpu.max.burst"));
    }

    [Fact]
    public async Task Cpu_Idle_IsWritten()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["cpu"] = new JsonObject { ["idle"] = 1 });

        Assert.Equal("1", await ReadAsync(b.Id, "cpu.idle"));
    }

    [Fact]
    public async Task Update_ChangesCpuMaxMemoryMaxAndPidsMax_OnTheRunningContainer()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
        {
            c.Resources()["cpu"] = new JsonObject { ["quota"] = 50_000, ["period"] = 100_000 };
            c.Resources()["memory"] = new JsonObject { ["limit"] = 64L << 20 };
            c.Resources()["pids"] = new JsonObject { ["limit"] = 42 };
        });

        await CsrtAsync($"update --cpu-quota 20000 --memory 128m --pids-limit 60 {b.Id}");

        Assert.Equal("20000 100000", await ReadAsync(b.Id, "cpu.max"));
        Assert.Equal((128L << 20).ToString(), await ReadAsync(b.Id, "memory.max"));
        Assert.Equal("60", await ReadAsync(b.Id, "pids.max"));
    }

    [Fact]
    public async Task Cpuset_CpusAndMems_AreWritten()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["cpu"] = new JsonObject { ["cpus"] = "1", ["mems"] = "0" });

        Assert.Equal("1", await ReadAsync(b.Id, "cpuset.cpus"));
        Assert.Equal("0", await ReadAsync(b.Id, "cpuset.mems"));
        Assert.Equal("1", await ReadAsync(b.Id, "cpuset.cpus.effective"));
    }

    [Fact]
    public async Task Pids_Max_IsWritten_AndEnforced()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["pids"] = new JsonObject { ["limit"] = 3 });

        Assert.Equal("3", await ReadAsync(b.Id, "pids.max"));
        // init is one task and the exec'd sh another: of three background sleeps only one can fork.
        // Their stdio is not the exec's, so the exec ends when sh gives up.
        var r = await guest.RunAsync(
            $"{guest.Csrt} exec {b.Id} sh -c 'for i in 1 2 3; do sleep 30 </dev/null >/dev/null 2>&1 & done'", Timeout);
        Assert.Contains("Resource temporarily unavailable", r.Stdout + r.Stderr);
        Assert.NotEqual("0", (await ReadAsync(b.Id, "pids.events")).Split(' ')[1]);
    }

    [Fact]
    public async Task Io_WeightAndMax_AreWrittenForTheGuestsDisk()
    {
        // Without BFQ the weight goes to io.weight (the guest's kernel has iocost).
        await guest.OkAsync("modprobe -r bfq; test ! -e /sys/fs/cgroup/system.slice/io.bfq.weight");
        var (major, minor) = await DiskAsync();
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["blockIO"] = new JsonObject
            {
                ["weight"] = 500,
                ["throttleReadBpsDevice"] = new JsonArray(new JsonObject { ["major"] = major, ["minor"] = minor, ["rate"] = 1048576 }),
                ["throttleWriteIOPSDevice"] = new JsonArray(new JsonObject { ["major"] = major, ["minor"] = minor, ["rate"] = 100 }),
            });

        Assert.Equal("default 4950", await ReadAsync(b.Id, "io.weight")); // runc: 1 + (500 − 10) × 9999 / 990
        Assert.Equal($"{major}:{minor} rbps=1048576 wbps=max riops=max wiops=100", await ReadAsync(b.Id, "io.max"));
    }

    [Fact]
    public async Task Io_WithBfqLoaded_WeightAndPerDeviceWeight_GoToIoBfqWeight()
    {
        var (major, minor) = await DiskAsync();
        // Per-device weights take effect (and are accepted) only where BFQ schedules the device.
        var scheduler = (await guest.OkAsync("cat /sys/block/vda/queue/scheduler")).Trim().Split(' ').Single(s => s.StartsWith('['))[1..^1];
        await guest.OkAsync("modprobe bfq && echo bfq > /sys/block/vda/queue/scheduler");
        try
        {
            await using var b = await StartAsync(["sleep", "1000"], c =>
                c.Resources()["blockIO"] = new JsonObject
                {
                    ["weight"] = 500,
                    ["weightDevice"] = new JsonArray(new JsonObject { ["major"] = major, ["minor"] = minor, ["weight"] = 200 }),
                });

            var lines = (await ReadAsync(b.Id, "io.bfq.weight")).Split('\n', StringSplitOptions.TrimEntries);
            Assert.Equal(["default 500", $"{major}:{minor} 200"], lines);
            Assert.Equal("default 100", await ReadAsync(b.Id, "io.weight"));
        }
        finally
        {
            await guest.RunAsync($"echo {scheduler} > /sys/block/vda/queue/scheduler; modprobe -r bfq", Timeout);
        }
    }

    private async Task<(int Major, int Minor)> DiskAsync()
    {
        var dev = (await guest.OkAsync("cat /sys/block/vda/dev")).Trim().Split(':');
        return (int.Parse(dev[0]), int.Parse(dev[1]));
    }

    [Fact]
    public async Task Hugetlb_Max_IsWritten()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["hugepageLimits"] = new JsonArray(new JsonObject { ["pageSize"] = "2MB", ["limit"] = 4L << 20 }));

        Assert.Equal((4L << 20).ToString(), await ReadAsync(b.Id, "hugetlb.2MB.max"));
        // The guest's kernel has reservation accounting; runc sets it to the same limit.
        Assert.Equal((4L << 20).ToString(), await ReadAsync(b.Id, "hugetlb.2MB.rsvd.max"));
    }

    [Fact]
    public async Task Unified_KeyValues_AreWrittenAsIs()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["unified"] = new JsonObject { ["memory.oom.group"] = "1", ["pids.max"] = "17", ["cpu.weight.nice"] = "5" });

        Assert.Equal("1", await ReadAsync(b.Id, "memory.oom.group"));
        Assert.Equal("17", await ReadAsync(b.Id, "pids.max"));
        Assert.Equal("5", await ReadAsync(b.Id, "cpu.weight.nice"));
    }

    [Fact]
    public async Task Devices_AreEnforcedByEbpf_AnUnlistedDeviceIsDenied_AndAnAllowedOneReadable()
    {
        var (major, minor) = await DiskAsync();
        JsonObject Disk() => new() { ["path"] = "/dev/disk0", ["type"] = "b", ["major"] = major, ["minor"] = minor };
        const string read = "head -c 512 /dev/disk0 | wc -c; head -c 1 /dev/zero | wc -c";

        var denied = await RunForegroundAsync(["sh", "-c", read], c => c["linux"]!["devices"] = new JsonArray(Disk()));
        var allowed = await RunForegroundAsync(["sh", "-c", read], c =>
        {
            c["linux"]!["devices"] = new JsonArray(Disk());
            c.Resources()["devices"]!.AsArray().Add((JsonNode)new JsonObject
            {
                ["allow"] = true, ["type"] = "b", ["major"] = major, ["minor"] = minor, ["access"] = "r",
            });
        });

        // The node exists in both (linux.devices); only the cgroup's program decides the open.
        Assert.Contains("Operation not permitted", denied.Stdout + denied.Stderr);
        Assert.Equal(["0", "1"], denied.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.Equal(["512", "1"], allowed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        // No v1 devices files on v2: the rules can only be the attached program.
        Assert.Equal("no devices.list", (await guest.OkAsync("ls /sys/fs/cgroup/csrt-vm/*/devices.list 2>/dev/null || echo no devices.list")).Trim());
    }

    private async Task<GuestResult> RunForegroundAsync(IReadOnlyList<string> args, Action<JsonObject> configure)
    {
        var id = GuestBundle.NewId();
        var config = GuestConfig.Default(args, CgroupsPath(id));
        configure(config);
        await using var bundle = await GuestBundle.CreateAsync(guest, config, id);
        return await guest.RunAsync($"{guest.Csrt} run --bundle {bundle.Dir} {id} </dev/null", Timeout);
    }

    [Fact]
    public async Task PauseAndResume_UseCgroupFreeze()
    {
        await using var b = await StartAsync(["sleep", "1000"]);

        await CsrtAsync($"pause {b.Id}");

        Assert.Equal("1", await ReadAsync(b.Id, "cgroup.freeze"));
        Assert.Contains("frozen 1", await ReadAsync(b.Id, "cgroup.events"));
        Assert.Equal("paused", await StatusAsync(b.Id));

        await CsrtAsync($"resume {b.Id}");

        Assert.Equal("0", await ReadAsync(b.Id, "cgroup.freeze"));
        Assert.Contains("frozen 0", await ReadAsync(b.Id, "cgroup.events"));
        Assert.Equal("running", await StatusAsync(b.Id));
    }

    private async Task<string> StatusAsync(string id) =>
        JsonNode.Parse(await CsrtAsync($"state {id}"))!["status"]!.GetValue<string>();

    [Fact]
    public async Task KillAll_OfAFrozenContainer_EndsEveryProcess_ThroughCgroupKill()
    {
        await using var b = await StartAsync(["sh", "-c", "sleep 1000 & sleep 1001 & wait"]);
        await guest.OkAsync($"for i in $(seq 100); do [ $(wc -l < {CgroupDir(b.Id)}/cgroup.procs) -ge 3 ] && exit 0; sleep 0.1; done; exit 1");
        Assert.Equal("present", (await guest.OkAsync($"test -e {CgroupDir(b.Id)}/cgroup.kill && echo present || echo absent")).Trim());
        await CsrtAsync($"pause {b.Id}");

        // A frozen task cannot run a signal handler; cgroup.kill ends it anyway, without a thaw.
        await CsrtAsync($"kill --all {b.Id} KILL");

        await guest.OkAsync($"for i in $(seq 100); do [ -z \"$(cat {CgroupDir(b.Id)}/cgroup.procs)\" ] && exit 0; sleep 0.1; done; cat {CgroupDir(b.Id)}/cgroup.procs; exit 1");
        Assert.Contains("populated 0", await ReadAsync(b.Id, "cgroup.events"));
    }

    [Fact]
    public async Task Oom_IsCountedFromMemoryEvents_InEventsStats_AndStreamedAsAnOomEvent()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["memory"] = new JsonObject { ["limit"] = 16L << 20, ["swap"] = 16L << 20 });
        var log = $"{b.Dir}/events.log";

        // The stream first, so its watch on memory.events is in place before the OOM.
        var r = await guest.RunAsync(
            $"{guest.Csrt} events --interval 1s {b.Id} > {log} 2>&1 & ev=$!; " +
            $"for i in $(seq 300); do [ -s {log} ] && break; sleep 0.1; done; " +
            $"{guest.Csrt} exec {b.Id} dd if=/dev/zero of=/dev/null bs=64M count=1; echo exec=$?; " +
            $"for i in $(seq 300); do grep -q '\"type\":\"oom\"' {log} && break; sleep 0.1; done; kill $ev; cat {log}",
            Timeout);

        Assert.Contains("exec=137", r.Stdout);
        Assert.Contains($"{{\"type\":\"oom\",\"id\":\"{b.Id}\"}}", r.Stdout);
        var events = await ReadAsync(b.Id, "memory.events");
        Assert.Contains("oom_kill 1", events);
        var stats = JsonNode.Parse(await CsrtAsync($"events --stats {b.Id}"))!["data"]!["memory"]!;
        Assert.Equal(16L << 20, stats["usage"]!["limit"]!.GetValue<long>());
        Assert.True(stats["usage"]!["failcnt"]!.GetValue<long>() > 0, stats.ToJsonString());
    }

    [Fact]
    public async Task CgroupNamespace_ShowsTheContainerItsOwnSubtree_AsTheRoot()
    {
        var r = await RunForegroundAsync(
            ["sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/pids.max"],
            c =>
            {
                c.Resources()["memory"] = new JsonObject { ["limit"] = 64L << 20 };
                c.Resources()["pids"] = new JsonObject { ["limit"] = 42 };
            });

        Assert.True(r.Succeeded, r.ToString());
        Assert.Equal(["0::/", (64L << 20).ToString(), "42"],
            r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public async Task Delete_RemovesTheContainersCgroup()
    {
        var b = await StartAsync(["sleep", "1000"], c => c.Resources()["pids"] = new JsonObject { ["limit"] = 42 });
        await using (b)
        {
            Assert.Equal("42", await ReadAsync(b.Id, "pids.max"));
            await CsrtAsync($"kill {b.Id} KILL");
            await guest.OkAsync($"for i in $(seq 300); do {guest.Csrt} state {b.Id} | grep -q '\"stopped\"' && exit 0; sleep 0.1; done; exit 1", Timeout);

            await CsrtAsync($"delete {b.Id}");

            Assert.Equal("gone", (await guest.OkAsync($"test -e {CgroupDir(b.Id)} && echo present || echo gone")).Trim());
        }
    }

    [Fact]
    public async Task DefaultCgroupsPath_IsBesideTheCallersCgroup_AndRemovedByDelete()
    {
        var id = GuestBundle.NewId();
        await using var b = await GuestBundle.CreateAsync(guest, GuestConfig.Default(["sleep", "1000"]), id);
        await b.RunDetachedAsync();

        // runc's fs2 rule: a relative path lives under the parent of the caller's cgroup (the ssh session's scope).
        var own = (await guest.OkAsync("cat /proc/self/cgroup")).Trim()[3..];
        var expected = "/sys/fs/cgroup" + own[..own.LastIndexOf('/')] + "/" + id;
        Assert.Equal(expected, await b.CgroupDirAsync());

        await CsrtAsync($"delete --force {id}");

        Assert.Equal("gone", (await guest.OkAsync($"test -e {expected} && echo present || echo gone")).Trim());
    }
    [Fact]
    public async Task Exec_JoinsTheContainersCgroup_AndSeesItAsTheRoot()
    {
        await using var b = await StartAsync(["sleep", "1000"]);

        var inside = await CsrtAsync($"exec {b.Id} cat /proc/self/cgroup");
        // Detached, with stdio off ssh's pipes so the guest command ends.
        await CsrtAsync($"exec --detach {b.Id} sleep 1001 </dev/null >/dev/null 2>&1");

        // "/" in the container's cgroup namespace is the container's cgroup itself.
        Assert.Equal("0::/", inside.Trim());
        await guest.OkAsync($"for i in $(seq 100); do [ $(wc -l < {CgroupDir(b.Id)}/cgroup.procs) -eq 2 ] && exit 0; sleep 0.1; done; cat {CgroupDir(b.Id)}/cgroup.procs; exit 1");
    }

    [Fact]
    public async Task KillAll_WithSigterm_SignalsEveryProcess_AndLeavesTheCgroupThawed()
    {
        await using var b = await StartAsync(["sh", "-c", "sleep 1000 & sleep 1001 & wait"]);
        await guest.OkAsync($"for i in $(seq 100); do [ $(wc -l < {CgroupDir(b.Id)}/cgroup.procs) -ge 3 ] && exit 0; sleep 0.1; done; exit 1");

        // Not SIGKILL, so not cgroup.kill: freeze, signal each process, thaw.
        await CsrtAsync($"kill --all {b.Id} TERM");

        await guest.OkAsync($"for i in $(seq 100); do [ -z \"$(cat {CgroupDir(b.Id)}/cgroup.procs)\" ] && exit 0; sleep 0.1; done; cat {CgroupDir(b.Id)}/cgroup.procs; exit 1");
        Assert.Equal("0", await ReadAsync(b.Id, "cgroup.freeze"));
    }

    [Fact]
    public async Task EventsStats_ReadTheV2Files_CpuMemoryPidsCpusetAndHugetlb()
    {
        // Busy first (CPU time to report), then exactly two processes: a sleep and the shell exec'd into another.
        await using var b = await StartAsync(["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 1000 & exec sleep 1001"], c =>
        {
            c.Resources()["memory"] = new JsonObject { ["limit"] = 64L << 20 };
            c.Resources()["pids"] = new JsonObject { ["limit"] = 42 };
            c.Resources()["cpu"] = new JsonObject { ["cpus"] = "0-1" };
        });
        await guest.OkAsync($"for i in $(seq 300); do [ $(wc -l < {CgroupDir(b.Id)}/cgroup.procs) -ge 2 ] && exit 0; sleep 0.1; done; exit 1");

        var stats = JsonNode.Parse(await CsrtAsync($"events --stats {b.Id}"))!;

        Assert.Equal("stats", stats["type"]!.GetValue<string>());
        var data = stats["data"]!;
        Assert.True(data["cpu"]!["usage"]!["total"]!.GetValue<ulong>() > 0, data["cpu"]!.ToJsonString());
        Assert.Equal(64L << 20, data["memory"]!["usage"]!["limit"]!.GetValue<long>());
        Assert.True(data["memory"]!["usage"]!["usage"]!.GetValue<ulong>() > 0);
        Assert.Equal(42, data["pids"]!["limit"]!.GetValue<int>());
        Assert.Equal(2, data["pids"]!["current"]!.GetValue<int>());
        Assert.True(data["memory"]!["raw"]!.AsObject().ContainsKey("anon"), "memory.stat keys in raw");
        Assert.Equal([0, 1], data["cpuset"]!["cpus"]!.AsArray().Select(n => n!.GetValue<int>()));
        Assert.True(data["hugetlb"]!.AsObject().ContainsKey("2MB"), data["hugetlb"]!.ToJsonString());
    }

    [Fact]
    public async Task NestedCgroupsPath_EnablesControllersInEveryNewParent_AndDeleteRemovesTheLeaf()
    {
        var id = GuestBundle.NewId();
        var path = $"/csrt-vm/nest-{id}/pod/{id}";
        await using var b = await GuestBundle.CreateAsync(guest, GuestConfig.Default(["sleep", "1000"], path).Also(c =>
            c.Resources()["memory"] = new JsonObject { ["limit"] = 64L << 20 }), id);
        try
        {
            await b.RunDetachedAsync();

            Assert.Equal((64L << 20).ToString(), (await guest.OkAsync($"cat /sys/fs/cgroup{path}/memory.max")).Trim());
            var parent = (await guest.OkAsync($"cat /sys/fs/cgroup/csrt-vm/nest-{id}/pod/cgroup.subtree_control")).Split(' ', StringSplitOptions.TrimEntries);
            Assert.Contains("memory", parent);
            Assert.Contains("pids", parent);

            await CsrtAsync($"delete --force {id}");

            Assert.Equal("gone", (await guest.OkAsync($"test -e /sys/fs/cgroup{path} && echo present || echo gone")).Trim());
        }
        finally
        {
            await guest.RunAsync($"rmdir /sys/fs/cgroup/csrt-vm/nest-{id}/pod /sys/fs/cgroup/csrt-vm/nest-{id}", Timeout);
        }
    }

    [Fact]
    public async Task UnifiedKey_ThatTheKernelLacks_IsRefusedNamingTheFile_AndLeavesNothing()
    {
        var id = GuestBundle.NewId();
        var config = GuestConfig.Default(["sleep", "1000"], CgroupsPath(id));
        config.Resources()["unified"] = new JsonObject { ["memory.no_such_file"] = "1" };
        await using var b = await GuestBundle.CreateAsync(guest, config, id);

        var r = await guest.RunAsync($"{guest.Csrt} run --detach --bundle {b.Dir} {id} </dev/null", Timeout);

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("memory.no_such_file", r.Stderr);
        Assert.Equal("gone", (await guest.OkAsync($"test -e {CgroupDir(id)} && echo present || echo gone")).Trim());
        Assert.DoesNotContain(id, await CsrtAsync("list -q"));
    }

    [Fact]
    public async Task Update_CpuSharesAndPeriodAlone_KeepTheOtherHalfOfCpuMax()
    {
        await using var b = await StartAsync(["sleep", "1000"], c =>
            c.Resources()["cpu"] = new JsonObject { ["quota"] = 30_000, ["period"] = 100_000 });

        await CsrtAsync($"update --cpu-share 2048 --cpu-period 50000 {b.Id}");

        Assert.Equal("30000 50000", await ReadAsync(b.Id, "cpu.max"));
        Assert.Equal(Conversions(2048), await ReadAsync(b.Id, "cpu.weight"));
    }

    /// <summary>runc's shares → weight formula (the one crun uses): 10^((log2(s)^2 + 125·log2(s)) / 612 − 7/34), rounded up.</summary>
    private static string Conversions(ulong shares)
    {
        var l = Math.Log2(shares);
        return ((ulong)Math.Ceiling(Math.Pow(10, (l * l + 125 * l) / 612.0 - 7.0 / 34.0))).ToString();
    }
}
