using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
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

    [Fact]
    public async Task RootAndIoUidFromTheHandlersOptions_PutContainerStateUnderRoot_AndGiveTheFifosToThatUser()
    {
        var dir = Directory.CreateTempSubdirectory("csrt-runtime-options-").FullName;
        try
        {
            var root = Path.Combine(dir, "state");
            var config = Path.Combine(dir, "csrt.toml");
            File.WriteAllText(config, $"Root = '{root}'\nIoUid = 4321\nIoGid = 4322\n");
            using var ctd = PrivateContainerd.Start(new PrivateContainerdOptions
            {
                ExtraToml = $"[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.csrt.options]\n  ConfigPath = \"{config}\"\n",
            });
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
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task SystemdCgroupInTheHandlersOptions_SelectsTheSystemdDriver_WhichThisHybridHostRefusesClearly()
    {
        var dir = Directory.CreateTempSubdirectory("csrt-runtime-options-").FullName;
        try
        {
            var config = Path.Combine(dir, "csrt.toml");
            File.WriteAllText(config, "SystemdCgroup = true\n");
            using var ctd = PrivateContainerd.Start(new PrivateContainerdOptions
            {
                ExtraToml = $"[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.csrt.options]\n  ConfigPath = \"{config}\"\n",
            });
            var e = await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await using var pod = await CriPod.StartAsync(ctd, "systemd-cgroup");
            });
            _log.WriteLine(e.ToString());
            Assert.Contains("systemd cgroup driver", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
