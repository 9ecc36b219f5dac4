using System.Text.RegularExpressions;
using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Csrt.TestSupport;
using Grpc.Core;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// The shim outlives containerd (a restart reconnects through the bundle's `address` and nothing
/// is lost), and a shim killed with SIGKILL is cleaned up by containerd through
/// `containerd-shim-csrt-v2 … delete` without leaving processes, mounts, cgroups or state behind.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed partial class ShimSurvivalTests
{
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public ShimSurvivalTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    [GeneratedRegex(@" stdout F tick (\d+)$", RegexOptions.Multiline)]
    private static partial Regex Tick();

    /// <summary>The pid of the csrt shim listening on <paramref name="address"/>.</summary>
    private static int ShimPidFor(string address)
    {
        var socket = address["unix://".Length..];
        var pids = HostState.AllPids().Where(p => HostState.IsCsrtShim(p)
            && Directory.Exists($"/proc/{p}/fd") && HasSocketNamed(p, socket)).ToList();
        return Assert.Single(pids);
    }

    /// <summary>Whether the process holds the listening socket bound to <paramref name="path"/> (by inode, from /proc/net/unix).</summary>
    private static bool HasSocketNamed(int pid, string path)
    {
        var inodes = File.ReadAllLines("/proc/net/unix").Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 8 && f[^1] == path).Select(f => "socket:[" + f[6] + "]").ToHashSet();
        try
        {
            return Directory.GetFiles($"/proc/{pid}/fd").Any(fd => new FileInfo(fd).LinkTarget is { } t && inodes.Contains(t));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private string AddressOf(string taskId) =>
        File.ReadAllText(Path.Combine(_containerd.BundleDir(taskId, PrivateContainerd.CriNamespace), "address")).Trim();

    [Fact]
    public async Task AfterAContainerdRestart_CriStillSeesThePodRunning_ExecWorks_LogsContinueWithoutGaps_AndStopRemoveWork()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "restart");
        var id = await pod.StartContainerAsync(CriPod.Busybox("ticker", "sh", "-c", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.2; done"));
        await pod.WaitForLogAsync("ticker", "tick 3");
        var shimPid = ShimPidFor(AddressOf(id));
        Assert.Equal(ShimPidFor(AddressOf(pod.Id)), shimPid);

        await _containerd.StopAsync();
        // The container keeps writing while containerd is away; the shim's own read handle on the
        // stdout FIFO keeps it from EPIPE, the output waits in the pipe.
        await Task.Delay(2000);
        Assert.True(HostState.IsAlive(shimPid), "the shim exited with containerd");
        await _containerd.RestartAsync();

        var status = await pod.WaitForStateAsync(id, ContainerState.ContainerRunning);
        Assert.Equal(ContainerState.ContainerRunning, status.State);
        var podStatus = await pod.Cri.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = pod.Id }, deadline: CriPod.Deadline);
        Assert.Equal(PodSandboxState.SandboxReady, podStatus.Status.State);
        var listed = await pod.Cri.ListContainersAsync(new ListContainersRequest { Filter = new ContainerFilter { PodSandboxId = pod.Id } }, deadline: CriPod.Deadline);
        Assert.Equal(ContainerState.ContainerRunning, Assert.Single(listed.Containers).State);

        var exec = await pod.ExecSyncAsync(id, 30, "sh", "-c", "echo exec after restart");
        Assert.Equal(0, exec.ExitCode);
        Assert.Equal("exec after restart\n", exec.Stdout.ToStringUtf8());

        // Ticks written before, during and after the restart are all in the log, in order.
        var beforeCount = Tick().Matches(pod.ReadLog("ticker")).Count;
        await pod.WaitForLogAsync("ticker", $"tick {beforeCount + 10}");
        var ticks = Tick().Matches(pod.ReadLog("ticker")).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(0, ticks.Count), ticks);
        Assert.Equal(shimPid, ShimPidFor(AddressOf(id)));

        await pod.Cri.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 2 }, deadline: CriPod.Deadline);
        Assert.Equal(ContainerState.ContainerExited, (await pod.StatusAsync(id)).State);
        await pod.Cri.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id }, deadline: CriPod.Deadline);
        Assert.False(Directory.Exists(Path.Combine("/run/containerd/csrt", PrivateContainerd.CriNamespace, id)), "csrt state of the removed container is still there");
        Assert.True(HostState.IsAlive(shimPid), "the pod's shim exited while its pause container still runs");
    }

    [Fact]
    public async Task AShimKilledWithSigkill_IsCleanedUpByContainerdThroughDelete_LeavingNoProcessMountCgroupOrState_AndCriReportsTheContainerExited()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "shim-kill");
        var id = await pod.StartContainerAsync(CriPod.Busybox("victim", "sh", "-c", "sleep 1000 & sleep 1000 & echo ready; wait"));
        await pod.WaitForLogAsync("victim", "ready");
        var socket = AddressOf(id)["unix://".Length..];
        var shimPid = ShimPidFor(AddressOf(id));
        var pids = new List<int> { await CriContainerTests.InitPidAsync(pod, id) };
        pids.AddRange(HostState.Descendants(pids[0]));
        Assert.Equal(3, pids.Count);
        var cgroups = File.ReadAllLines($"/proc/{pids[0]}/cgroup").Select(l => l.Split(':', 3))
            .Where(f => f[1].Length > 0 && !f[1].StartsWith("name=", StringComparison.Ordinal))
            .Select(f => Path.Combine(Directory.GetDirectories("/sys/fs/cgroup").First(d => Path.GetFileName(d).Split(',').Contains(f[1].Split(',')[0])) + f[2]))
            .Distinct().ToList();
        Assert.All(cgroups, c => Assert.True(Directory.Exists(c), $"{c} does not exist"));
        var tasks = new[] { id, pod.Id };
        var rootfs = tasks.Select(t => Path.Combine(_containerd.BundleDir(t, PrivateContainerd.CriNamespace), "rootfs")).ToList();
        Assert.All(rootfs, r => Assert.NotEmpty(HostState.MountsUnder(r)));
        var states = tasks.Select(t => Path.Combine("/run/containerd/csrt", PrivateContainerd.CriNamespace, t)).ToList();
        Assert.All(states, s => Assert.True(Directory.Exists(s), $"{s} does not exist"));
        var pausePid = HostState.Descendants(shimPid).Single(p => HostState.CommandLine(p).FirstOrDefault() == "/pause");

        Signals.Send(shimPid, Signals.SIGKILL);

        var status = await pod.WaitForStateAsync(id, ContainerState.ContainerExited, TimeSpan.FromSeconds(60));
        _log.WriteLine(status.ToString());
        Assert.True(HostState.WaitGone(pids.Append(pausePid), TimeSpan.FromSeconds(30)), "container processes survived the shim's cleanup");
        Assert.False(HostState.IsAlive(shimPid), "the shim is still alive");
        // containerd runs `delete` and then removes the bundles; wait for that to finish.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(30) && (states.Any(Directory.Exists) || rootfs.Any(r => HostState.MountsUnder(r).Count > 0) || cgroups.Any(Directory.Exists)))
            await Task.Delay(100);
        Assert.All(states, s => Assert.False(Directory.Exists(s), $"csrt state {s} is still there"));
        Assert.All(rootfs, r => Assert.Empty(HostState.MountsUnder(r)));
        Assert.All(cgroups, c => Assert.False(Directory.Exists(c), $"cgroup {c} is still there"));
        Assert.False(File.Exists(socket), $"the dead shim's socket {socket} is still there");

        // CRI can still stop and remove everything.
        await pod.Cri.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id }, deadline: CriPod.Deadline);
        await Assert.ThrowsAsync<RpcException>(() => pod.StatusAsync(id));
    }
}
