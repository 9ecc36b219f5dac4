using Csrt.VmTests.Fixtures;
using Xunit;

namespace Csrt.VmTests.Systemd;

/// <summary>
/// containerd in the guest with the systemd cgroup driver: the csrt shim with `SystemdCgroup = true`
/// (from its ConfigPath file, as containerd 1.6 passes it) running a task under a kubelet-style pod
/// slice, and containerd's runc shim driving csrt as its runc binary with SystemdCgroup set. Each
/// test leaves no scope behind. A private containerd runs as a transient service of the guest.
/// </summary>
[Collection(GuestCollection.Name)]
public sealed class ContainerdSystemdTests(GuestFixture guest) : IAsyncLifetime
{
    private const string Dir = "/run/csrt-vm-ctd";
    private const string Service = "csrt-vm-containerd.service";
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(120);

    private string Ctr => $"ctr --address {Dir}/containerd.sock --namespace csrt-vm";

    public async Task InitializeAsync()
    {
        var config = $"""
            version = 2
            root = "/var/lib/csrt-vm/containerd"
            state = "{Dir}/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri"]
            [grpc]
              address = "{Dir}/containerd.sock"
            """;
        await guest.OkAsync(
            $"set -e; mkdir -p {Dir}; echo {GuestFixture.Quote(config)} > {Dir}/config.toml; echo 'SystemdCgroup = true' > {Dir}/csrt-shim.toml; " +
            $"systemctl stop {Service} 2>/dev/null || true; systemctl reset-failed {Service} 2>/dev/null || true; " +
            // The csrt shim and csrt on containerd's PATH.
            $"systemd-run --unit={Service} --setenv=PATH={guest.RepoRoot}/out/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin containerd --config {Dir}/config.toml; " +
            $"for i in $(seq 300); do {Ctr} version >/dev/null 2>&1 && exit 0; sleep 0.2; done; journalctl -u {Service} --no-pager | tail -20 >&2; exit 1",
            Long);
    }

    public async Task DisposeAsync()
    {
        await guest.RunAsync($"systemctl stop {Service}; systemctl reset-failed {Service} 2>/dev/null; true", Long);
    }

    private async Task<string> Units(string pattern) =>
        (await guest.OkAsync($"systemctl list-units --all --plain --no-legend {GuestFixture.Quote(pattern)} | awk '{{print $1}}'")).Trim();

    private async Task<string> Run(string id, string runtimeArgs, string cgroup) =>
        await guest.OkAsync(
            $"cp -a {GuestFixture.Quote(guest.BusyboxRootfs)} {Dir}/{id}-rootfs && " +
            $"{Ctr} run -d {runtimeArgs} --cgroup {cgroup} --rootfs {Dir}/{id}-rootfs {id} sleep 1000 </dev/null >/dev/null 2>{Dir}/{id}.err " +
            $"|| {{ s=$?; cat {Dir}/{id}.err >&2; exit $s; }}",
            Long);

    private async Task RemoveTask(string id)
    {
        await guest.RunAsync($"{Ctr} task kill -s KILL {id}; for i in $(seq 100); do {Ctr} task ls | grep -q \"^{id} .*STOPPED\" && break; sleep 0.1; done; " +
                             $"{Ctr} task delete {id}; {Ctr} container delete {id}; rm -rf {Dir}/{id}-rootfs", Long);
    }

    /// <summary>/proc/self/cgroup of an exec'd process: the scope's path, or "/" inside the container's own cgroup namespace.</summary>
    private static void AssertInScope(string procSelfCgroup, string scope)
    {
        var line = procSelfCgroup.Trim();
        Assert.True(line == "0::/" || line.EndsWith("/" + scope, StringComparison.Ordinal), $"exec'd process outside {scope}: {line}");
    }

    [Fact]
    public async Task TheCsrtShim_WithSystemdCgroup_RunsATaskInAPodSliceScope_WithExecAndMetrics_AndLeavesNoScope()
    {
        var id = GuestBundle.NewId("ctd");
        var pod = "kubepods-burstable-pod" + id.Replace("-", "_", StringComparison.Ordinal);
        var scope = $"cri-containerd-{id}.scope";
        try
        {
            await Run(id, $"--runtime io.containerd.csrt.v2 --runtime-config-path {Dir}/csrt-shim.toml", $"{pod}.slice:cri-containerd:{id}");

            var pid = (await guest.OkAsync($"{Ctr} task ls | awk '$1 == \"{id}\" {{print $2}}'")).Trim();
            Assert.Equal($"0::/kubepods.slice/kubepods-burstable.slice/{pod}.slice/{scope}", (await guest.OkAsync($"cat /proc/{pid}/cgroup")).Trim());
            Assert.Equal("active", (await guest.OkAsync($"systemctl show -p ActiveState --value {scope}")).Trim());
            // An exec'd process joins the same scope.
            AssertInScope(await guest.OkAsync($"{Ctr} task exec --exec-id e1 {id} cat /proc/self/cgroup", Long), scope);
            Assert.Contains("pids", (await guest.OkAsync($"{Ctr} task metrics {id}", Long)).ToLowerInvariant());
        }
        finally
        {
            await RemoveTask(id);
            await guest.RunAsync($"systemctl stop {pod}.slice", Long);
        }
        Assert.Equal("", await Units(scope));
    }

    [Fact]
    public async Task TheRuncShim_DrivingCsrtWithSystemdCgroup_RunsTheTaskInAScope_AndLeavesNoScope()
    {
        var id = GuestBundle.NewId("ctd");
        var scope = $"csrt-runc-{id}.scope";
        try
        {
            await Run(id, $"--runtime io.containerd.runc.v2 --runc-binary {guest.Csrt} --runc-systemd-cgroup", $"system.slice:csrt-runc:{id}");

            var pid = (await guest.OkAsync($"{Ctr} task ls | awk '$1 == \"{id}\" {{print $2}}'")).Trim();
            Assert.Equal($"0::/system.slice/{scope}", (await guest.OkAsync($"cat /proc/{pid}/cgroup")).Trim());
            Assert.Equal("yes", (await guest.OkAsync($"systemctl show -p Delegate --value {scope}")).Trim());
            AssertInScope(await guest.OkAsync($"{Ctr} task exec --exec-id e1 {id} cat /proc/self/cgroup", Long), scope);
        }
        finally
        {
            await RemoveTask(id);
        }
        Assert.Equal("", await Units(scope));
    }
}
