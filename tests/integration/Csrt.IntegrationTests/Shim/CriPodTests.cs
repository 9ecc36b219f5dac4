using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>Pods on csrt through containerd's CRI plugin (runtime handler "csrt").</summary>
[Collection(ContainerdCollection.Name)]
public sealed class CriPodTests
{
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public CriPodTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    [Fact]
    public async Task APodWithTwoContainersRunsOnCsrtAndTheyShareTheSandboxNamespaces()
    {
        using var channel = _containerd.OpenGrpcChannel();
        var cri = new RuntimeService.RuntimeServiceClient(channel);
        var sandbox = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = "csrt-pod", Namespace = "default", Uid = TestBundle.NewId("uid"), Attempt = 1 },
            Hostname = "csrt-pod",
            LogDirectory = Path.Combine(_containerd.Dir, "pod-logs-" + TestBundle.NewId("p")),
            Linux = new LinuxPodSandboxConfig(),
        };
        string? podId = null;
        try
        {
            podId = (await cri.RunPodSandboxAsync(new RunPodSandboxRequest { Config = sandbox, RuntimeHandler = "csrt" })).PodSandboxId;
            var ids = new List<string>();
            foreach (var name in new[] { "one", "two" })
            {
                var id = (await cri.CreateContainerAsync(new CreateContainerRequest
                {
                    PodSandboxId = podId,
                    SandboxConfig = sandbox,
                    Config = new ContainerConfig
                    {
                        Metadata = new ContainerMetadata { Name = name },
                        Image = new ImageSpec { Image = TestImages.BusyboxImage },
                        Command = { "sh", "-c", $"echo started {name}; sleep 1000" },
                        LogPath = name + ".log",
                        Linux = new LinuxContainerConfig(),
                    },
                })).ContainerId;
                await cri.StartContainerAsync(new StartContainerRequest { ContainerId = id });
                ids.Add(id);
            }
            var a = await cri.ExecSyncAsync(new ExecSyncRequest { ContainerId = ids[0], Cmd = { "sh", "-c", "hostname; for n in net ipc uts; do readlink /proc/self/ns/$n; done" }, Timeout = 30 });
            var b = await cri.ExecSyncAsync(new ExecSyncRequest { ContainerId = ids[1], Cmd = { "sh", "-c", "hostname; for n in net ipc uts; do readlink /proc/self/ns/$n; done" }, Timeout = 30 });
            _log.WriteLine(a.Stdout.ToStringUtf8() + a.Stderr.ToStringUtf8());
            Assert.Equal(0, a.ExitCode);
            Assert.Equal(0, b.ExitCode);
            Assert.StartsWith("csrt-pod\n", a.Stdout.ToStringUtf8(), StringComparison.Ordinal);
            Assert.Equal(a.Stdout.ToStringUtf8(), b.Stdout.ToStringUtf8());
            var log = File.ReadAllText(Path.Combine(sandbox.LogDirectory, "one.log"));
            Assert.Contains("stdout F started one", log, StringComparison.Ordinal);
        }
        finally
        {
            if (podId is not null)
            {
                await cri.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId });
                await cri.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId });
            }
        }
    }
}
