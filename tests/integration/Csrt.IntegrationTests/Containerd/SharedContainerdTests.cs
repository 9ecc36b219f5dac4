using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Containerd;

/// <summary>The shared private containerd of the "containerd" collection, with the stock runc shim.</summary>
[Collection(ContainerdCollection.Name)]
public sealed class SharedContainerdTests(ContainerdFixture fixture)
{
    private readonly PrivateContainerd ctd = fixture.Containerd;

    [Theory]
    [InlineData(PrivateContainerd.DefaultNamespace)]
    [InlineData(PrivateContainerd.CriNamespace)]
    public void ImportedImages_AreListedUnderTheirNames(string ns)
    {
        var names = ctd.CtrOk("-n", ns, "images", "ls", "-q").Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Contains(TestImages.BusyboxImage, names);
        Assert.Contains(TestImages.PauseImage, names);
    }

    [Fact]
    public void CtrRun_WithTheStockRuncShim_PrintsTheContainersOutput()
    {
        var id = TestBundle.NewId("run");
        try
        {
            var result = ctd.Ctr("run", "--rm", "--runtime", PrivateContainerd.RuncRuntime, TestImages.BusyboxImage, id,
                "sh", "-c", "echo hello from busybox; id -u; ls /bin | wc -l");

            Assert.True(result.Succeeded, result.ToString());
            var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal("hello from busybox", lines[0]);
            Assert.Equal("0", lines[1]);
            Assert.True(int.Parse(lines[2]) > 250, $"expected the image's hard-linked applets in /bin, found {lines[2]}");
            Assert.DoesNotContain(id, ctd.CtrOk("containers", "ls", "-q").Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            ctd.Ctr("tasks", "delete", "-f", id);
            ctd.Ctr("containers", "delete", id);
        }
    }

    [Fact]
    public void CriPlugin_IsLoaded_WithTheCsrtAndRuncRuntimeHandlers()
    {
        var plugins = ctd.CtrOk("plugins", "ls").Split('\n');
        var cri = Assert.Single(plugins, l => l.StartsWith("io.containerd.grpc.v1 ", StringComparison.Ordinal) && l.Contains(" cri ", StringComparison.Ordinal));
        Assert.EndsWith("ok", cri.TrimEnd(), StringComparison.Ordinal);

        // CRI logs its parsed config once at start-up.
        var log = ctd.ReadLog();
        Assert.Contains($"csrt:{{Type:{PrivateContainerd.CsrtRuntime}", log, StringComparison.Ordinal);
        Assert.Contains($"runc:{{Type:{PrivateContainerd.RuncRuntime}", log, StringComparison.Ordinal);
        Assert.Contains($"SandboxImage:{TestImages.PauseImage}", log, StringComparison.Ordinal);
        Assert.Contains("RestrictOOMScoreAdj:true", log, StringComparison.Ordinal);
        Assert.DoesNotContain("failed to load cni", log, StringComparison.Ordinal);
    }

    [Fact]
    public void CniBridgeOfTheConflist_GivesANetworkNamespaceAnAddressInTheInstanceSubnet()
    {
        var conflist = JsonNode.Parse(File.ReadAllText(Path.Combine(ctd.CniConfDir, "10-csrt.conflist")))!;
        var bridge = conflist["plugins"]![0]!.DeepClone().AsObject();
        bridge["cniVersion"] = conflist["cniVersion"]!.GetValue<string>();
        bridge["name"] = conflist["name"]!.GetValue<string>();
        var netns = TestBundle.NewId("cni");
        var env = new Dictionary<string, string>
        {
            ["CNI_CONTAINERID"] = netns,
            ["CNI_NETNS"] = $"/var/run/netns/{netns}",
            ["CNI_IFNAME"] = "eth0",
            ["CNI_PATH"] = PrivateContainerd.CniBinDir,
        };
        Commands.RunOk("ip", "netns", "add", netns);
        try
        {
            env["CNI_COMMAND"] = "ADD";
            var add = Commands.Run(Path.Combine(PrivateContainerd.CniBinDir, "bridge"), [], TimeSpan.FromSeconds(30), stdin: bridge.ToJsonString(), environment: env);
            Assert.True(add.Succeeded, add.ToString());

            var address = Commands.RunOk("ip", "netns", "exec", netns, "ip", "-4", "-o", "addr", "show", "eth0");
            Assert.Contains($"inet 10.231.{ctd.Slot}.", address, StringComparison.Ordinal);
            Assert.True(HostState.LinkExists(ctd.BridgeName), $"bridge {ctd.BridgeName} was not created");
        }
        finally
        {
            env["CNI_COMMAND"] = "DEL";
            Commands.Run(Path.Combine(PrivateContainerd.CniBinDir, "bridge"), [], TimeSpan.FromSeconds(30), stdin: bridge.ToJsonString(), environment: env);
            Commands.Run("ip", "netns", "delete", netns);
        }
    }
}
