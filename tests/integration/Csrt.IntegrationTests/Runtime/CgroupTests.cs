using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>The container's cgroups through the CLI: resources read back from the host's cgroup
/// files, update, pause/resume, ps, events (stats and streaming), the cgroup mount inside.</summary>
public sealed class CgroupTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("cgroups");
    private readonly RuntimeRoot _runc = RuntimeRoot.Runc("cgroups");

    public void Dispose()
    {
        try
        {
            _csrt.Dispose();
        }
        finally
        {
            _runc.Dispose();
        }
    }

    private static string Read(string controller, string id, string file) =>
        File.ReadAllText(Path.Combine("/sys/fs/cgroup", controller, "csrt-test", id, file)).Trim();

    private static void Limits(JsonObject c)
    {
        c["linux"]!["resources"]!["memory"] = new JsonObject { ["limit"] = 64L << 20, ["reservation"] = 32L << 20 };
        c["linux"]!["resources"]!["cpu"] = new JsonObject { ["shares"] = 512, ["quota"] = 50_000, ["period"] = 100_000, ["cpus"] = "0" };
        c["linux"]!["resources"]!["pids"] = new JsonObject { ["limit"] = 42 };
    }

    [Fact]
    public void Resources_AreWrittenToTheContainersCgroups()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"], Limits);

        _csrt.RunDetached(bundle);

        var id = bundle.Id;
        Assert.Equal((64L << 20).ToString(), Read("memory", id, "memory.limit_in_bytes"));
        Assert.Equal((32L << 20).ToString(), Read("memory", id, "memory.soft_limit_in_bytes"));
        Assert.Equal("512", Read("cpu", id, "cpu.shares"));
        Assert.Equal("50000", Read("cpu", id, "cpu.cfs_quota_us"));
        Assert.Equal("100000", Read("cpu", id, "cpu.cfs_period_us"));
        Assert.Equal("0", Read("cpuset", id, "cpuset.cpus"));
        Assert.Equal("42", Read("pids", id, "pids.max"));
        var init = _csrt.Pid(id).ToString();
        foreach (var controller in new[] { "memory", "cpu", "cpuacct", "cpuset", "pids", "freezer", "devices", "blkio", "systemd" })
            Assert.Contains(init, Read(controller, id, "cgroup.procs").Split('\n'));
    }

    [Fact]
    public void BlockIoThrottles_AndHugetlbLimits_AreWrittenToTheirControllers()
    {
        // The first virtio disk of this kind of machine; any block device the kernel knows will do.
        var (major, minor) = FirstBlockDevice();
        var bundle = _csrt.Bundle(["sleep", "1000"], c =>
        {
            c["linux"]!["resources"]!["blockIO"] = new JsonObject
            {
                ["throttleReadBpsDevice"] = new JsonArray(new JsonObject { ["major"] = major, ["minor"] = minor, ["rate"] = 1048576 }),
                ["throttleWriteIOPSDevice"] = new JsonArray(new JsonObject { ["major"] = major, ["minor"] = minor, ["rate"] = 100 }),
            };
            c["linux"]!["resources"]!["hugepageLimits"] = new JsonArray(new JsonObject { ["pageSize"] = "2MB", ["limit"] = 4L << 20 });
        });

        _csrt.RunDetached(bundle);

        var id = bundle.Id;
        Assert.Contains($"{major}:{minor} 1048576", Read("blkio", id, "blkio.throttle.read_bps_device"));
        Assert.Contains($"{major}:{minor} 100", Read("blkio", id, "blkio.throttle.write_iops_device"));
        // hugetlb is a v1 hierarchy on some hosts and a controller of the cgroup2 mount on others
        // (this kind of machine: /sys/fs/cgroup/unified lists only hugetlb).
        var v1 = Path.Combine("/sys/fs/cgroup/hugetlb/csrt-test", id, "hugetlb.2MB.limit_in_bytes");
        var v2 = Path.Combine("/sys/fs/cgroup/unified/csrt-test", id, "hugetlb.2MB.max");
        var file = File.Exists(v1) ? v1 : v2;
        Assert.True(File.Exists(file), $"neither {v1} nor {v2} exists");
        Assert.Equal((4L << 20).ToString(), File.ReadAllText(file).Trim());
    }

    private static (int Major, int Minor) FirstBlockDevice()
    {
        foreach (var dev in Directory.GetDirectories("/sys/block").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dev);
            if (name.StartsWith("loop", StringComparison.Ordinal) || name.StartsWith("zram", StringComparison.Ordinal) || name.StartsWith("ram", StringComparison.Ordinal))
                continue;
            var parts = File.ReadAllText(Path.Combine(dev, "dev")).Trim().Split(':');
            return (int.Parse(parts[0]), int.Parse(parts[1]));
        }
        throw new InvalidOperationException("no disk in /sys/block");
    }

    [Fact]
    public void Update_ChangesResources_FromFlagsAndFromJson()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"], Limits);
        _csrt.RunDetached(bundle);

        _csrt.Ok("update", "--memory", "128m", "--cpu-quota", "20000", "--pids-limit", "60", "--cpu-share", "256", bundle.Id);

        Assert.Equal((128L << 20).ToString(), Read("memory", bundle.Id, "memory.limit_in_bytes"));
        Assert.Equal("20000", Read("cpu", bundle.Id, "cpu.cfs_quota_us"));
        Assert.Equal("60", Read("pids", bundle.Id, "pids.max"));
        Assert.Equal("256", Read("cpu", bundle.Id, "cpu.shares"));

        var json = Path.Combine(bundle.Dir, "resources.json");
        File.WriteAllText(json, """{"pids":{"limit":70},"memory":{"limit":100663296}}""");
        _csrt.Ok("update", "-r", json, bundle.Id);
        Assert.Equal("70", Read("pids", bundle.Id, "pids.max"));
        Assert.Equal("100663296", Read("memory", bundle.Id, "memory.limit_in_bytes"));

        var stdin = _csrt.Run("""{"pids":{"limit":80}}""", RuntimeRoot.Timeout, "update", "-r", "-", bundle.Id);
        Assert.True(stdin.Succeeded, stdin.ToString());
        Assert.Equal("80", Read("pids", bundle.Id, "pids.max"));
    }

    [Fact]
    public void PauseAndResume_FreezeAndThawTheContainer()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);

        _csrt.Ok("pause", bundle.Id);

        Assert.Equal("paused", _csrt.Status(bundle.Id));
        Assert.Equal("FROZEN", Read("freezer", bundle.Id, "freezer.state"));

        _csrt.Ok("resume", bundle.Id);

        Assert.Equal("running", _csrt.Status(bundle.Id));
        Assert.Equal("THAWED", Read("freezer", bundle.Id, "freezer.state"));
    }

    [Fact]
    public void KillWithSigkill_OfAPausedContainer_EndsItWithoutAResume()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);
        _csrt.Ok("pause", bundle.Id);

        _csrt.Ok("kill", bundle.Id, "KILL");

        _csrt.WaitForStatus(bundle.Id, "stopped");
    }

    [Fact]
    public void DeleteForce_OfAPausedContainer_RemovesEverything()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);
        _csrt.Ok("pause", bundle.Id);

        _csrt.Ok("delete", "--force", bundle.Id);

        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void Ps_ListsTheContainersProcesses()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "sleep 1000 & sleep 1001"]);
        _csrt.RunDetached(bundle);
        var init = _csrt.Pid(bundle.Id);
        var deadline = DateTime.UtcNow + RuntimeRoot.Timeout;
        JsonArray pids;
        while ((pids = JsonNode.Parse(_csrt.Ok("ps", "--format", "json", bundle.Id))!.AsArray()).Count < 2 && DateTime.UtcNow < deadline)
            Thread.Sleep(20);

        Assert.Equal(RuntimeRoot.ProcessesOf(bundle.Id).Order(), pids.Select(p => p!.GetValue<int>()).Order());
        Assert.Contains(init, pids.Select(p => p!.GetValue<int>()));
        var table = _csrt.Ok("ps", bundle.Id).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("PID", table[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(pids.Count + 1, table.Length);
        var custom = _csrt.Ok("ps", bundle.Id, "-o", "pid,args").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(custom, l => l.Contains("sleep 1001", StringComparison.Ordinal));
    }

    [Fact]
    public void EventsStats_PrintsRuncsJson_WithCpuUserAndKernelTime()
    {
        const string burn = "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; touch /tmp/done; sleep 1000";
        var bundle = _csrt.Bundle(["sh", "-c", burn], readonlyRoot: false);
        var reference = _runc.Bundle(["sh", "-c", burn], readonlyRoot: false);
        _csrt.RunDetached(bundle);
        _runc.RunDetached(reference);
        var deadline = DateTime.UtcNow + RuntimeRoot.Timeout;
        while (!(File.Exists(Path.Combine(bundle.UpperDir, "tmp", "done")) && File.Exists(Path.Combine(reference.UpperDir, "tmp", "done"))) && DateTime.UtcNow < deadline)
            Thread.Sleep(20);

        var ours = JsonNode.Parse(_csrt.Ok("events", "--stats", bundle.Id))!.AsObject();
        var runcs = JsonNode.Parse(_runc.Ok("events", "--stats", reference.Id))!.AsObject();

        Assert.Equal("stats", ours["type"]!.GetValue<string>());
        Assert.Equal(bundle.Id, ours["id"]!.GetValue<string>());
        var data = ours["data"]!.AsObject();
        foreach (var key in runcs["data"]!.AsObject().Select(p => p.Key))
            Assert.True(data.ContainsKey(key), $"events --stats has no data.{key} (runc has)");
        var usage = data["cpu"]!["usage"]!;
        foreach (var key in runcs["data"]!["cpu"]!["usage"]!.AsObject().Select(p => p.Key))
            Assert.NotNull(usage[key]);
        var total = usage["total"]!.GetValue<ulong>();
        var user = usage["user"]!.GetValue<ulong>();
        var kernel = usage["kernel"]!.GetValue<ulong>();
        Assert.True(total > 0, "no cpu usage");
        Assert.True(user + kernel > 0, $"user and kernel time are both 0 with total {total}");
        // user/kernel come from tick sampling, the total from exact accounting: close, not equal.
        Assert.True(user + kernel <= 2 * total + 20_000_000, $"user {user} + kernel {kernel} are far above the total {total}");
        Assert.True(data["memory"]!["usage"]!["usage"]!.GetValue<ulong>() > 0);
        Assert.True(data["pids"]!["current"]!.GetValue<ulong>() >= 1);
        // runc writes cpuset lists as numbers: "0-1" is [0,1].
        Assert.Equal(runcs["data"]!["cpuset"]!["cpus"]!.ToJsonString(), data["cpuset"]!["cpus"]!.ToJsonString());
        Assert.Equal(runcs["data"]!["cpuset"]!["mems"]!.ToJsonString(), data["cpuset"]!["mems"]!.ToJsonString());
    }

    [Fact]
    public void Events_StreamsStatsUntilTheContainerStops()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "sleep 2"]);
        _csrt.RunDetached(bundle);

        var result = _csrt.Run("events", "--interval", "200ms", bundle.Id);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Equal("stats", JsonNode.Parse(l)!["type"]!.GetValue<string>()));
    }

    [Fact]
    public void CgroupMount_InsideTheContainer_ShowsItsOwnCgroupReadOnly()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; echo 1 > /sys/fs/cgroup/pids/pids.max 2>&1; ls /sys/fs/cgroup"], Limits);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal((64L << 20).ToString(), lines[0]);
        Assert.Equal("42", lines[1]);
        Assert.Contains("Read-only file system", result.Stdout + result.Stderr, StringComparison.Ordinal);
        foreach (var hierarchy in new[] { "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio" })
            Assert.Contains(hierarchy, lines);
    }

    [Fact]
    public void DeviceRules_DenyByDefault_ButAllowTheStandardDevices()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c && mknod /tmp/sda b 8 0 && head -c 1 /tmp/sda 2>&1; echo end"], c =>
        {
            foreach (var set in new[] { "bounding", "effective", "permitted" })
                c["process"]!["capabilities"]![set]!.AsArray().Add((JsonNode)"CAP_MKNOD");
        }, readonlyRoot: false);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("4", lines[0].Trim());
        Assert.Contains("Operation not permitted", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("end", lines[^1]);
    }
}
