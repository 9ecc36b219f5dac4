using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Containerd;

/// <summary>
/// The private containerd's CRI setup works with the stock runc handler (sandbox image, CNI
/// bridge, restrict_oom_score_adj), and its disposal removes what a pod leaves on the host.
/// </summary>
public sealed class PrivateContainerdCriTests
{
    [Fact]
    public async Task CriPod_WithTheRuncHandler_GetsAnAddressRunsExecSync_AndDisposeRemovesItsNetworkNamespace()
    {
        var ctd = PrivateContainerd.Start();
        string netns;
        string podId;
        try
        {
            using var channel = ctd.OpenGrpcChannel();
            var cri = new RuntimeService.RuntimeServiceClient(channel);
            var sandbox = new PodSandboxConfig
            {
                Metadata = new PodSandboxMetadata { Name = "fixture-pod", Namespace = "default", Uid = TestBundle.NewId("uid"), Attempt = 1 },
                Hostname = "fixture-pod",
                LogDirectory = Path.Combine(ctd.Dir, "pod-logs"),
                Linux = new LinuxPodSandboxConfig(),
            };
            podId = (await cri.RunPodSandboxAsync(new RunPodSandboxRequest { Config = sandbox, RuntimeHandler = "runc" })).PodSandboxId;
            var status = await cri.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId });
            Assert.StartsWith($"10.231.{ctd.Slot}.", status.Status.Network.Ip, StringComparison.Ordinal);

            var container = (await cri.CreateContainerAsync(new CreateContainerRequest
            {
                PodSandboxId = podId,
                SandboxConfig = sandbox,
                Config = new ContainerConfig
                {
                    Metadata = new ContainerMetadata { Name = "sleeper" },
                    Image = new ImageSpec { Image = TestImages.BusyboxImage },
                    Command = { "sleep", "1000" },
                    LogPath = "sleeper.log",
                    Linux = new LinuxContainerConfig(),
                },
            })).ContainerId;
            await cri.StartContainerAsync(new StartContainerRequest { ContainerId = container });
            var exec = await cri.ExecSyncAsync(new ExecSyncRequest { ContainerId = container, Cmd = { "sh", "-c", "hostname; ip -4 -o addr show eth0" }, Timeout = 30 });
            Assert.Equal(0, exec.ExitCode);
            Assert.Contains($"fixture-pod\n", exec.Stdout.ToStringUtf8(), StringComparison.Ordinal);
            Assert.Contains(status.Status.Network.Ip, exec.Stdout.ToStringUtf8(), StringComparison.Ordinal);

            netns = Assert.Single(Directory.GetFiles("/run/netns"), f => HostState.MountsUnder(f).Count > 0 && PodUsesNetns(ctd, podId, f));
            Assert.True(HostState.LinkExists(ctd.BridgeName), $"CNI did not create bridge {ctd.BridgeName}");
        }
        finally
        {
            // The pod is left running on purpose: Dispose has to remove it.
            ctd.Dispose();
        }

        Assert.False(File.Exists(netns), $"the pod's network namespace {netns} is still there");
        Assert.Empty(HostState.MountsUnder(netns));
        Assert.False(HostState.LinkExists(ctd.BridgeName), $"bridge {ctd.BridgeName} is still there");
        Assert.Empty(Directory.Exists("/var/lib/cni/results") ? Directory.GetFiles("/var/lib/cni/results", $"*{podId}*") : []);
        Assert.Empty(HostState.ProcessesWithArgument(ctd.Address));
        Assert.False(Directory.Exists(ctd.Dir), $"{ctd.Dir} still exists");
        Assert.False(Directory.Exists(ctd.VarDir), $"{ctd.VarDir} still exists");
    }

    /// <summary>Whether the pod's pause task runs in the network namespace bind-mounted at <paramref name="netnsFile"/>.</summary>
    private static bool PodUsesNetns(PrivateContainerd ctd, string podId, string netnsFile)
    {
        var line = ctd.CtrOk("-n", PrivateContainerd.CriNamespace, "tasks", "ls").Split('\n').Single(l => l.StartsWith(podId + " ", StringComparison.Ordinal));
        var pausePid = line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var inode = Commands.RunOk("stat", "-L", "-c", "%i", netnsFile).Trim();
        return Commands.RunOk("stat", "-L", "-c", "%i", $"/proc/{pausePid}/ns/net").Trim() == inode;
    }
}
