using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Csrt.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// The csrt handler's runtime options as containerd sends them (runtimeoptions.v1.Options on `start`
/// stdin and in CreateTaskRequest.options; containerd 1.6 carries only ConfigPath, so the settings
/// are in that file) applied to the pod's containers; and the pause container's Wait resolving, which
/// StopPodSandbox depends on. Each test starts its own containerd: the options are in the
/// handler's configuration.
/// </summary>
public sealed class RuntimeOptionsTests
{
    private readonly ITestOutputHelper _log;

    public RuntimeOptionsTests(ITestOutputHelper log) => _log = log;

    /// <summary>Runs <paramref name="body"/> against a private containerd whose csrt handler has the
    /// options file <paramref name="toml"/> gives for a scratch directory (its `ConfigPath`, the one
    /// option containerd 1.6 carries); the directory goes afterwards.</summary>
    private static async Task WithHandlerOptions(Func<string, string> toml, Func<PrivateContainerd, string, Task> body)
    {
        var dir = Directory.CreateTempSubdirectory("csrt-runtime-options-").FullName;
        try
        {
            var config = Path.Combine(dir, "csrt.toml");
            File.WriteAllText(config, toml(dir));
            using var ctd = PrivateContainerd.Start(new PrivateContainerdOptions
            {
                ExtraToml = $"[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.csrt.options]\n  ConfigPath = \"{config}\"\n",
            });
            await body(ctd, dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task RootAndIoUidFromTheHandlersOptions_PutContainerStateUnderRoot_AndGiveTheFifosToThatUser()
    {
        await WithHandlerOptions(dir => $"Root = '{Path.Combine(dir, "state")}'\nIoUid = 4321\nIoGid = 4322\n", async (ctd, dir) =>
        {
            var root = Path.Combine(dir, "state");
            string id, podId;
            await using (var pod = await CriPod.StartAsync(ctd, "runtime-options"))
            {
                podId = pod.Id;
                id = await pod.StartContainerAsync(CriPod.Busybox("main", "sh", "-c", "echo hello from main; exec sleep 1000"));
                await pod.WaitForLogAsync("main", "hello from main");

                var ns = PrivateContainerd.CriNamespace;
                Assert.True(Directory.Exists(Path.Combine(root, ns, id)), $"no state for {id} under {root}/{ns}");
                Assert.True(Directory.Exists(Path.Combine(root, ns, podId)), $"no state for the pause container {podId} under {root}/{ns}");
                Assert.False(Directory.Exists(Path.Combine("/run/containerd/csrt", ns, id)));

                var fifos = Directory.GetFiles(Path.Combine(ctd.State, "io.containerd.grpc.v1.cri", "containers", id), id + "-std*", SearchOption.AllDirectories);
                _log.WriteLine(string.Join("\n", fifos));
                Assert.NotEmpty(fifos);
                foreach (var fifo in fifos)
                {
                    var st = Files.Stat(fifo);
                    Assert.Equal((4321u, 4322u), (st.Uid, st.Gid));
                }

                // The pause container's Wait resolves: StopPodSandbox returns and the pod is not ready.
                await pod.Cri.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId }, deadline: CriPod.Deadline);
                var status = await pod.Cri.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId }, deadline: CriPod.Deadline);
                Assert.Equal(PodSandboxState.SandboxNotready, status.Status.State);
            }
            Assert.False(Directory.Exists(Path.Combine(root, PrivateContainerd.CriNamespace, id)), "state left under Root after the pod was removed");
        });
    }

    [Fact]
    public async Task SystemdCgroupInTheHandlersOptions_SelectsTheSystemdDriver_WhichThisHybridHostRefusesClearly()
    {
        await WithHandlerOptions(_ => "SystemdCgroup = true\n", async (ctd, _) =>
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await using var pod = await CriPod.StartAsync(ctd, "systemd-cgroup");
            });
            _log.WriteLine(e.ToString());
            Assert.Contains("systemd cgroup driver", e.Message, StringComparison.Ordinal);
        });
    }

    /// <summary>The cgroup directories of an absolute path in every hierarchy of this host.</summary>
    private static List<string> CgroupDirectories(string path) =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(l => l.Split(" - ", 2))
            .Where(p => p.Length == 2 && (p[1].StartsWith("cgroup ", StringComparison.Ordinal) || p[1].StartsWith("cgroup2 ", StringComparison.Ordinal)))
            .Select(p => p[0].Split(' '))
            .Where(f => f[3] == "/" && f[4].StartsWith("/sys/fs/cgroup", StringComparison.Ordinal))
            .Select(f => f[4] + path)
            .Distinct(StringComparer.Ordinal)
            .ToList();

    /// <summary>The csrt shims this containerd started.</summary>
    private static List<int> CsrtShims(PrivateContainerd ctd) =>
        HostState.ProcessesWithArgument(ctd.Address)
            .Where(HostState.IsCsrtShim).ToList();

    [Fact]
    public async Task ShimCgroupFromTheHandlersOptions_PutsTheShimDaemonInThatCgroup_AsTheRuncShimDoes()
    {
        var cgroup = "/csrt-test-shimcg-" + Guid.NewGuid().ToString("N")[..8];
        var dirs = CgroupDirectories(cgroup);
        try
        {
            foreach (var d in dirs)
            {
                Directory.CreateDirectory(d);
                // A v1 cpuset cgroup takes no process until it has cpus and mems (set up as an
                // operator would: the parent's).
                foreach (var file in new[] { "cpuset.cpus", "cpuset.mems" })
                {
                    var parent = Path.Combine(Path.GetDirectoryName(d)!, file);
                    if (File.Exists(Path.Combine(d, file)) && File.Exists(parent))
                        File.WriteAllText(Path.Combine(d, file), File.ReadAllText(parent).Trim());
                }
            }
            await WithHandlerOptions(_ => $"ShimCgroup = '{cgroup}'\n", async (ctd, _) =>
            {
                await using var pod = await CriPod.StartAsync(ctd, "shim-cgroup");
                var shim = Assert.Single(CsrtShims(ctd));
                var lines = File.ReadAllLines($"/proc/{shim}/cgroup");
                _log.WriteLine(string.Join("\n", lines));
                // Every hierarchy line ("N:controllers:path") names the ShimCgroup path.
                Assert.All(lines, l => Assert.EndsWith(":" + cgroup, l, StringComparison.Ordinal));
            });
        }
        finally
        {
            // The shim leaves its cgroup when it exits, just after the pod's removal.
            foreach (var d in dirs.Where(Directory.Exists))
            {
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        Directory.Delete(d);
                        break;
                    }
                    catch (IOException) when (attempt < 20)
                    {
                        Thread.Sleep(100);
                    }
                }
            }
        }
    }

    [Fact]
    public async Task AShimCgroupThatDoesNotExist_FailsThePodsStart_NamingTheOption()
    {
        await WithHandlerOptions(_ => "ShimCgroup = '/csrt-test-no-such-cgroup'\n", async (ctd, _) =>
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await using var pod = await CriPod.StartAsync(ctd, "shim-cgroup-missing");
            });
            _log.WriteLine(e.ToString());
            Assert.Contains("ShimCgroup", e.Message, StringComparison.Ordinal);
            Assert.Contains("/csrt-test-no-such-cgroup", e.Message, StringComparison.Ordinal);
            Assert.Empty(CsrtShims(ctd));
        });
    }
}
