using System.Globalization;
using System.Text.Json.Nodes;
using Cri.V1;
using Csrt.TestSupport;
using Csrt.VmTests.Fixtures;
using Xunit;

namespace Csrt.VmTests.Systemd;

/// <summary>
/// A Kubernetes pod on a node with kubelet's systemd cgroup driver, through real CRI gRPC calls to containerd
/// in the guest (<see cref="GuestCriContainerd"/>): the pod's slice made as kubelet makes it (a transient
/// <c>kubepods-burstable-pod&lt;uid&gt;.slice</c> below kubepods.slice and kubepods-burstable.slice), the pod's
/// cgroup_parent naming it, and every container a <c>cri-containerd-&lt;id&gt;.scope</c> in it. Both handlers:
/// the csrt shim with <c>SystemdCgroup = true</c>, and containerd's runc shim driving csrt. Each test ends
/// with no scope of the pod's and, once the pod slice is stopped as kubelet stops it, no slice either.
/// </summary>
[Collection(GuestCollection.Name)]
public sealed class CriSystemdPodTests(GuestFixture guest) : IAsyncLifetime
{
    private const string KubepodsCgroup = "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice";
    private GuestCriContainerd? _ctd;

    private GuestCriContainerd Ctd => _ctd ?? throw new InvalidOperationException("containerd did not start");

    public async Task InitializeAsync() => _ctd = await GuestCriContainerd.StartAsync(guest);

    public async Task DisposeAsync()
    {
        if (_ctd is not null)
            await _ctd.DisposeAsync();
    }

    /// <summary>Names of loaded units matching <paramref name="pattern"/> (any state).</summary>
    private async Task<string> Units(string pattern) =>
        (await guest.OkAsync($"systemctl list-units --all --plain --no-legend {GuestFixture.Quote(pattern)} | awk '{{print $1}}'")).Trim();

    private async Task<string> Show(string unit, string property) =>
        (await guest.OkAsync($"systemctl show -p {property} --value {unit}")).Trim();

    private async Task<string> Read(string path) => (await guest.OkAsync($"cat {path}")).Trim();

    /// <summary>
    /// Makes <paramref name="slice"/> as kubelet's systemd cgroup manager (libcontainer's) does: a transient
    /// slice with Wants= its parent, no default dependencies, accounting on. An active one is kept.
    /// The pod slice carries <paramref name="extra"/> (its limit); the parents have none.
    /// </summary>
    private async Task StartSlice(string slice, string parent, string extra = "")
    {
        var properties = "Wants as 1 " + parent + " DefaultDependencies b false MemoryAccounting b true CPUAccounting b true IOAccounting b true TasksAccounting b true";
        var count = 6;
        if (extra.Length > 0)
        {
            properties += " " + extra;
            count++;
        }
        await guest.OkAsync(
            $"systemctl is-active --quiet {slice} || busctl -- call org.freedesktop.systemd1 /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager " +
            $"StartTransientUnit 'ssa(sv)a(sa(sv))' {slice} replace {count} {properties} 0 >/dev/null " +
            // systemd refuses a transient unit whose name is loaded already (a parent slice that an
            // earlier test's pod slice loaded implicitly): that one starts from its implicit definition.
            (extra.Length == 0 ? $"|| systemctl start {slice}; " : "; ") +
            $"for i in $(seq 100); do systemctl is-active --quiet {slice} && exit 0; sleep 0.1; done; systemctl status {slice} >&2; exit 1");
    }

    /// <summary>The pod slice (kubelet's name for a burstable pod of uid <paramref name="uid"/>) and its parents; returns the slice.</summary>
    private async Task<string> StartPodSlice(string uid)
    {
        var slice = $"kubepods-burstable-pod{uid.Replace("-", "_", StringComparison.Ordinal)}.slice";
        await StartSlice("kubepods.slice", "-.slice");
        await StartSlice("kubepods-burstable.slice", "kubepods.slice");
        await StartSlice(slice, "kubepods-burstable.slice", "MemoryMax t " + (512L << 20));
        return slice;
    }

    /// <summary>Kubelet's cgroup_parent for the pod slice with the systemd driver: the slice's expanded path.</summary>
    private static LinuxPodSandboxConfig PodLinux(string slice) => new() { CgroupParent = $"/kubepods.slice/kubepods-burstable.slice/{slice}" };

    /// <summary>The container's scope is active in the pod slice; returns the scope's cgroup directory.</summary>
    private async Task<string> AssertScopeInSlice(string id, string slice)
    {
        var scope = $"cri-containerd-{id}.scope";
        Assert.Equal("active", await Show(scope, "ActiveState"));
        Assert.Equal(slice, await Show(scope, "Slice"));
        Assert.Equal("yes", await Show(scope, "Delegate"));
        var dir = $"{KubepodsCgroup}/{slice}/{scope}";
        Assert.Equal(dir, "/sys/fs/cgroup" + await Show(scope, "ControlGroup"));
        Assert.NotEqual("", await Read($"{dir}/cgroup.procs"));
        return dir;
    }

    /// <summary>/proc/self/cgroup of an exec'd process: "/" in the container's cgroup namespace, else the scope's path.</summary>
    private static void AssertExecInScope(ExecSyncResponse exec, string id)
    {
        Assert.True(exec.ExitCode == 0, $"exec exited {exec.ExitCode}: {exec.Stderr.ToStringUtf8()}");
        var line = exec.Stdout.ToStringUtf8().Trim();
        Assert.True(line == "0::/" || line.EndsWith($"/cri-containerd-{id}.scope", StringComparison.Ordinal), $"exec'd process outside the container's scope: {line}");
    }

    /// <summary>After the pod is gone: none of its scopes is loaded, the slice holds no cgroup; then kubelet's StopUnit of the slice leaves nothing.</summary>
    private async Task AssertNothingLeft(string slice, IEnumerable<string> ids)
    {
        foreach (var id in ids)
            Assert.Equal("", await Units($"cri-containerd-{id}.scope"));
        Assert.Equal("", (await guest.OkAsync($"find {KubepodsCgroup}/{slice} -mindepth 1 -type d")).Trim());
        await guest.OkAsync($"systemctl stop {slice}");
        Assert.Equal("", await Units(slice));
        Assert.Equal("", (await guest.OkAsync($"ls -d {KubepodsCgroup}/{slice} 2>/dev/null; true")).Trim());
    }

    [Fact]
    public async Task CsrtShimHandler_RunsAKubeletStylePodInItsSlice_WithExecLogsStatsOomAndUpdate_AndLeavesNoScopeOrSlice()
    {
        var slice = await StartPodSlice(Guid.NewGuid().ToString());
        var ids = new List<string>();
        try
        {
            await using (var pod = await CriPod.StartAsync(Ctd, "sd-pod", GuestCriContainerd.CsrtHandler, PodLinux(slice)))
            {
                ids.Add(pod.Id);
                await AssertScopeInSlice(pod.Id, slice);

                // Container one: output for the log, 24 MiB of shared memory (charged to its cgroup, not reclaimable) for stats.
                var app = await pod.StartContainerAsync(CriPod.Busybox("app", "sh", "-c",
                    "echo hello from app; dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 2>/dev/null; echo filled; sleep 1000"));
                ids.Add(app);
                // Container two: limits set at create, then updated.
                var limitedConfig = CriPod.Busybox("limited", "sleep", "1000");
                limitedConfig.Linux.Resources = new LinuxContainerResources { MemoryLimitInBytes = 64 << 20, CpuPeriod = 100000, CpuQuota = 50000, CpuShares = 512 };
                var limited = await pod.StartContainerAsync(limitedConfig);
                ids.Add(limited);

                var appDir = await AssertScopeInSlice(app, slice);
                var limitedDir = await AssertScopeInSlice(limited, slice);
                Assert.Equal((64L << 20).ToString(), await Read($"{limitedDir}/memory.max"));
                Assert.Equal("50000 100000", await Read($"{limitedDir}/cpu.max"));
                // shares→weight as runc converts them: 10^((l² + 125 l) / 612 − 7/34), l = log2(shares), rounded up.
                Assert.Equal("59", await Read($"{limitedDir}/cpu.weight"));

                // exec joins the container's scope.
                AssertExecInScope(await pod.ExecSyncAsync(app, 60, "cat", "/proc/self/cgroup"), app);
                AssertExecInScope(await pod.ExecSyncAsync(limited, 60, "cat", "/proc/self/cgroup"), limited);

                // logs: CRI's log file, read back on the host through the share.
                var log = await pod.WaitForLogAsync("app", "filled", TimeSpan.FromSeconds(90));
                Assert.Contains(" stdout F hello from app\n", log, StringComparison.Ordinal);

                // stats: the shim's v2 metrics of the scope's cgroup, as the kernel counts them.
                var stats = (await pod.Call("ContainerStats", async () => await pod.Cri.ContainerStatsAsync(
                    new ContainerStatsRequest { ContainerId = app }, deadline: CriPod.Deadline))).Stats;
                Assert.Equal(app, stats.Attributes.Id);
                Assert.True(stats.Cpu.UsageCoreNanoSeconds.Value > 0, $"no CPU time in {stats}");
                Assert.True(stats.Memory.UsageBytes.Value >= 24 << 20, $"memory usage below the 24 MiB the container holds: {stats}");
                Assert.True(stats.Memory.WorkingSetBytes.Value >= 24 << 20, $"working set below the 24 MiB the container holds: {stats}");
                var shmem = (await guest.OkAsync($"awk '$1 == \"shmem\" {{print $2}}' {appDir}/memory.stat")).Trim();
                Assert.True(long.Parse(shmem, CultureInfo.InvariantCulture) >= 24 << 20, $"the kernel counts {shmem} bytes of shmem in {appDir}");

                // UpdateContainerResources: through systemd (the scope's properties) and cgroupfs.
                await pod.Call("UpdateContainerResources", async () => await pod.Cri.UpdateContainerResourcesAsync(new UpdateContainerResourcesRequest
                {
                    ContainerId = limited,
                    Linux = new LinuxContainerResources { MemoryLimitInBytes = 96 << 20, CpuPeriod = 100000, CpuQuota = 25000, CpuShares = 2048 },
                }, deadline: CriPod.Deadline));
                Assert.Equal((96L << 20).ToString(), await Read($"{limitedDir}/memory.max"));
                Assert.Equal("25000 100000", await Read($"{limitedDir}/cpu.max"));
                Assert.Equal("174", await Read($"{limitedDir}/cpu.weight"));
                Assert.Equal((96L << 20).ToString(), await Show($"cri-containerd-{limited}.scope", "MemoryMax"));
                Assert.Equal("174", await Show($"cri-containerd-{limited}.scope", "CPUWeight"));

                // OOM: a container over its memory limit is reported OOMKilled.
                var hogConfig = CriPod.Busybox("hog", "sh", "-c", "echo start; dd if=/dev/zero bs=1M count=200 | tail");
                hogConfig.Linux.Resources = new LinuxContainerResources { MemoryLimitInBytes = 32 << 20 };
                var hog = await pod.StartContainerAsync(hogConfig);
                ids.Add(hog);
                var hogStatus = await pod.WaitForStateAsync(hog, ContainerState.ContainerExited, TimeSpan.FromSeconds(120));
                Assert.Equal("OOMKilled", hogStatus.Reason);

                // stop and remove one container while the pod runs: its scope goes.
                await pod.Call("StopContainer", async () => await pod.Cri.StopContainerAsync(new StopContainerRequest { ContainerId = app, Timeout = 10 }, deadline: CriPod.Deadline));
                Assert.Equal(ContainerState.ContainerExited, (await pod.StatusAsync(app)).State);
                await pod.Call("RemoveContainer", async () => await pod.Cri.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = app }, deadline: CriPod.Deadline));
                Assert.Equal("", await Units($"cri-containerd-{app}.scope"));
                Assert.Equal("active", await Show($"cri-containerd-{limited}.scope", "ActiveState"));
            }
            // The pod stopped and removed (CriPod's dispose), the rest of its scopes are gone.
            await AssertNothingLeft(slice, ids);
        }
        finally
        {
            await guest.RunAsync($"systemctl stop {slice}", GuestFixture.DefaultTimeout);
        }
    }

    [Fact]
    public async Task RuncShimHandler_DrivingCsrtWithSystemdCgroup_RunsAPodInItsSlice_WithExecAndStats_AndLeavesNoScopeOrSlice()
    {
        var slice = await StartPodSlice(Guid.NewGuid().ToString());
        var ids = new List<string>();
        try
        {
            await using (var pod = await CriPod.StartAsync(Ctd, "sd-runc-pod", GuestCriContainerd.RuncShimHandler, PodLinux(slice)))
            {
                ids.Add(pod.Id);
                await AssertScopeInSlice(pod.Id, slice);
                var config = CriPod.Busybox("app", "sleep", "1000");
                config.Linux.Resources = new LinuxContainerResources { MemoryLimitInBytes = 48 << 20 };
                var app = await pod.StartContainerAsync(config);
                ids.Add(app);

                var dir = await AssertScopeInSlice(app, slice);
                Assert.Equal((48L << 20).ToString(), await Read($"{dir}/memory.max"));
                // The runc shim ran csrt (its state under the shim's root is csrt's), not runc.
                var state = JsonNode.Parse(await guest.OkAsync($"{guest.Csrt} --root /run/containerd/runc/k8s.io state {app}"))!;
                Assert.Equal("running", state["status"]!.GetValue<string>());
                AssertExecInScope(await pod.ExecSyncAsync(app, 60, "cat", "/proc/self/cgroup"), app);
                var stats = (await pod.Call("ContainerStats", async () => await pod.Cri.ContainerStatsAsync(
                    new ContainerStatsRequest { ContainerId = app }, deadline: CriPod.Deadline))).Stats;
                Assert.True(stats.Memory.UsageBytes.Value > 0, $"no memory usage in {stats}");
            }
            await AssertNothingLeft(slice, ids);
        }
        finally
        {
            await guest.RunAsync($"systemctl stop {slice}", GuestFixture.DefaultTimeout);
        }
    }
}
