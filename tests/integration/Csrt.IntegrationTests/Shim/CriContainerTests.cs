using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.TestSupport;
using Grpc.Core;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// One container's life on csrt as kubelet drives it through CRI: ExecSync, logs in CRI format,
/// stats, the OOM killer, resource updates, Stop (stop signal, grace period, SIGKILL) and Remove.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed partial class CriContainerTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    [Fact]
    public async Task ExecSync_ReturnsStdoutStderrAndTheExitCode_AndATimeoutKillsTheProcess()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "execsync");
        var id = await pod.StartContainerAsync(CriPod.Busybox("main", "sleep", "1000"));

        var r = await pod.ExecSyncAsync(id, 30, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 42");
        Assert.Equal(42, r.ExitCode);
        Assert.Equal("to-stdout\n", r.Stdout.ToStringUtf8());
        Assert.Equal("to-stderr\n", r.Stderr.ToStringUtf8());

        var ok = await pod.ExecSyncAsync(id, 30, "true");
        Assert.Equal(0, ok.ExitCode);

        var missing = await Assert.ThrowsAsync<RpcException>(() => pod.ExecSyncAsync(id, 30, "/no/such/binary"));
        _log.WriteLine($"missing binary: {missing.Status}");

        var clock = Stopwatch.StartNew();
        var timeout = await Assert.ThrowsAsync<RpcException>(() => pod.ExecSyncAsync(id, 2, "sh", "-c", "echo $$ > /tmp/exec.pid; exec sleep 600"));
        _log.WriteLine($"timeout after {clock.Elapsed.TotalSeconds:0.0} s: {timeout.Status}");
        Assert.Contains("timeout", timeout.Status.Detail, StringComparison.OrdinalIgnoreCase);
        var check = await pod.ExecSyncAsync(id, 30, "sh", "-c", "kill -0 $(cat /tmp/exec.pid) 2>/dev/null && echo alive || echo gone; ps");
        _log.WriteLine(check.Stdout.ToStringUtf8());
        Assert.StartsWith("gone", check.Stdout.ToStringUtf8(), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^(?<time>\S+) (?<stream>stdout|stderr) (?<tag>[PF]) (?<text>.*)$")]
    private static partial Regex CriLogLine();

    [Fact]
    public async Task ContainerLogs_AreCriFormattedLinesWithTimestampsStreamsAndPartialTags()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "logs");
        var before = DateTimeOffset.UtcNow.AddSeconds(-5);
        var id = await pod.StartContainerAsync(CriPod.Busybox("logger", "sh", "-c",
            "echo first line; echo an error >&2; head -c 20000 /dev/zero | tr '\\0' x; echo; echo last line; sleep 1000"));
        var log = await pod.WaitForLogAsync("logger", "last line");
        var lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => CriLogLine().Match(l)).ToList();
        Assert.All(lines, m => Assert.True(m.Success, $"not a CRI log line: {m.Value}"));
        foreach (var m in lines)
        {
            var time = DateTimeOffset.Parse(m.Groups["time"].Value, CultureInfo.InvariantCulture);
            Assert.InRange(time, before, DateTimeOffset.UtcNow.AddSeconds(5));
        }
        Assert.Contains(lines, m => m.Groups["stream"].Value == "stdout" && m.Groups["tag"].Value == "F" && m.Groups["text"].Value == "first line");
        Assert.Contains(lines, m => m.Groups["stream"].Value == "stderr" && m.Groups["tag"].Value == "F" && m.Groups["text"].Value == "an error");
        // The 20000-byte line is longer than CRI's 16 KiB maximum: a partial piece, then the rest as full.
        var longParts = lines.Where(m => m.Groups["text"].Value.StartsWith('x')).ToList();
        Assert.True(longParts.Count >= 2, $"expected the long line in parts, got {longParts.Count}");
        Assert.All(longParts.SkipLast(1), m => Assert.Equal("P", m.Groups["tag"].Value));
        Assert.Equal("F", longParts[^1].Groups["tag"].Value);
        Assert.Equal(20000, longParts.Sum(m => m.Groups["text"].Value.Length));
        Assert.Equal(ContainerState.ContainerRunning, (await pod.StatusAsync(id)).State);
    }

    [Fact]
    public async Task ContainerStats_AndListContainerStats_ReportCpuAndMemoryFromTheShim()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "stats");
        var id = await pod.StartContainerAsync(CriPod.Busybox("busy", "sh", "-c", "x=$(head -c 4000000 /dev/zero | tr '\\0' a); dd if=/dev/zero of=/dev/null bs=64k count=20000; echo done; sleep 1000"));
        await pod.WaitForLogAsync("busy", "done");
        var stats = (await pod.Cri.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = id }, deadline: CriPod.Deadline)).Stats;
        _log.WriteLine(stats.ToString());
        Assert.Equal(id, stats.Attributes.Id);
        Assert.NotNull(stats.Cpu.UsageCoreNanoSeconds);
        Assert.True(stats.Cpu.UsageCoreNanoSeconds.Value > 0, "cpu usage is 0");
        Assert.True(stats.Cpu.Timestamp > 0);
        Assert.NotNull(stats.Memory.WorkingSetBytes);
        Assert.NotNull(stats.Memory.UsageBytes);
        Assert.True(stats.Memory.UsageBytes.Value > 0, "memory usage is 0");
        Assert.NotNull(stats.Memory.RssBytes);
        Assert.NotNull(stats.Memory.PageFaults);
        Assert.True(stats.Memory.PageFaults.Value > 0, "no page faults counted");

        var list = await pod.Cri.ListContainerStatsAsync(new ListContainerStatsRequest { Filter = new ContainerStatsFilter { PodSandboxId = pod.Id } }, deadline: CriPod.Deadline);
        var mine = Assert.Single(list.Stats);
        Assert.Equal(id, mine.Attributes.Id);
        Assert.True(mine.Cpu.UsageCoreNanoSeconds.Value > 0);
        Assert.True(mine.Memory.UsageBytes.Value > 0);
    }

    [Fact]
    public async Task AMemoryLimitedContainerKilledByTheOomKiller_IsReportedOomKilled()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "oom");
        var config = CriPod.Busybox("hog", "sh", "-c", "echo start; dd if=/dev/zero bs=1M count=200 | tail");
        config.Linux.Resources = new LinuxContainerResources { MemoryLimitInBytes = 32 << 20 };
        var id = await pod.StartContainerAsync(config);
        var status = await pod.WaitForStateAsync(id, ContainerState.ContainerExited, TimeSpan.FromSeconds(90));
        _log.WriteLine(status.ToString());
        _log.WriteLine(pod.ReadLog("hog"));
        Assert.Equal("OOMKilled", status.Reason);
        // tail (the pipeline's last command, holding the 200 MiB) was the victim: sh exits with its status.
        Assert.Equal(137, status.ExitCode);
    }

    [Fact]
    public async Task StopContainer_SendsTheStopSignal_ThenSigkillAfterTheGracePeriod_AndRemoveForgetsTheContainer()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "stop");
        // A shell that exits on SIGTERM ...
        var polite = await pod.StartContainerAsync(CriPod.Busybox("polite", "sh", "-c", "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.2; done"));
        // ... and one that ignores it (pid 1 without a handler).
        var stubborn = await pod.StartContainerAsync(CriPod.Busybox("stubborn", "sh", "-c", "trap '' TERM; echo ready; sleep 1000"));
        await pod.WaitForLogAsync("polite", "ready");
        await pod.WaitForLogAsync("stubborn", "ready");

        var clock = Stopwatch.StartNew();
        await pod.Cri.StopContainerAsync(new StopContainerRequest { ContainerId = polite, Timeout = 30 }, deadline: CriPod.Deadline);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"stopping a container that exits on SIGTERM took {clock.Elapsed}");
        var s1 = await pod.StatusAsync(polite);
        Assert.Equal(ContainerState.ContainerExited, s1.State);
        Assert.Equal(0, s1.ExitCode);
        await pod.WaitForLogAsync("polite", "got TERM");

        clock.Restart();
        await pod.Cri.StopContainerAsync(new StopContainerRequest { ContainerId = stubborn, Timeout = 2 }, deadline: CriPod.Deadline);
        _log.WriteLine($"stubborn stopped after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.9), $"SIGKILL came before the 2 s grace period ended ({clock.Elapsed})");
        var s2 = await pod.StatusAsync(stubborn);
        Assert.Equal(ContainerState.ContainerExited, s2.State);
        Assert.Equal(137, s2.ExitCode);

        foreach (var id in new[] { polite, stubborn })
        {
            await pod.Cri.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id }, deadline: CriPod.Deadline);
            var gone = await Assert.ThrowsAsync<RpcException>(() => pod.StatusAsync(id));
            Assert.Equal(StatusCode.NotFound, gone.StatusCode);
            Assert.False(Directory.Exists(Path.Combine("/run/containerd/csrt", PrivateContainerd.CriNamespace, id)), $"csrt state of {id} is still there");
            Assert.False(Directory.Exists(_containerd.BundleDir(id, PrivateContainerd.CriNamespace)), $"bundle of {id} is still there");
        }
    }

    [Fact]
    public async Task UpdateContainerResources_ChangesTheLimitsOfTheRunningContainersCgroup()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "update");
        var config = CriPod.Busybox("main", "sleep", "1000");
        config.Linux.Resources = new LinuxContainerResources { MemoryLimitInBytes = 64 << 20, CpuPeriod = 100000, CpuQuota = 50000 };
        var id = await pod.StartContainerAsync(config);
        var pid = await InitPidAsync(pod, id);
        Assert.Equal(64L << 20, CgroupValue(pid, "memory", "memory.limit_in_bytes"));
        Assert.Equal(50000, CgroupValue(pid, "cpu", "cpu.cfs_quota_us"));

        await pod.Cri.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest
        {
            ContainerId = id,
            Linux = new LinuxContainerResources { MemoryLimitInBytes = 96 << 20, CpuPeriod = 100000, CpuQuota = 20000, CpuShares = 512 },
        }, deadline: CriPod.Deadline);

        Assert.Equal(96L << 20, CgroupValue(pid, "memory", "memory.limit_in_bytes"));
        Assert.Equal(20000, CgroupValue(pid, "cpu", "cpu.cfs_quota_us"));
        Assert.Equal(512, CgroupValue(pid, "cpu", "cpu.shares"));
        var status = await pod.StatusAsync(id);
        Assert.Equal(96L << 20, status.Resources.Linux.MemoryLimitInBytes);
        Assert.Equal(ContainerState.ContainerRunning, status.State);
    }

    /// <summary>The container's init pid on the host, from ContainerStatus's verbose info.</summary>
    internal static async Task<int> InitPidAsync(CriPod pod, string id)
    {
        var r = await pod.Cri.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id, Verbose = true }, deadline: CriPod.Deadline);
        using var info = JsonDocument.Parse(r.Info["info"]);
        return info.RootElement.GetProperty("pid").GetInt32();
    }

    /// <summary>A cgroup v1 value of the process's cgroup in <paramref name="controller"/>, read on the host.</summary>
    private static long CgroupValue(int pid, string controller, string file)
    {
        var line = File.ReadAllLines($"/proc/{pid}/cgroup").Single(l => l.Split(':')[1].Split(',').Contains(controller));
        var path = line.Split(':', 3)[2];
        var mount = Directory.GetDirectories("/sys/fs/cgroup").First(d => Path.GetFileName(d).Split(',').Contains(controller));
        return long.Parse(File.ReadAllText(Path.Combine(mount + path, file)).Trim(), CultureInfo.InvariantCulture);
    }
}
