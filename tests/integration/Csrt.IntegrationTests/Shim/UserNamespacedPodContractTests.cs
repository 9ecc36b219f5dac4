using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Xunit;
using TaskV2 = Containerd.Task.V2;
using Types = Containerd.Types;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// What containerd 2.x sends the shim for a container of a user-namespaced pod (hostUsers:
/// false), which containerd 1.6 cannot send: this test plays containerd's part on the shim's
/// socket (a shim started by 1.6's ctr). The request as 2.x builds it: rootfs mounts from the
/// overlay snapshotter with uidmap=/gidmap= options, a spec joining the pod's pinned user
/// namespace by path with its mappings repeated, an id-mapped volume, and runc Options with
/// io_uid/io_gid (facts sheet §3.4, §8.1–8.3).
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class UserNamespacedPodContractTests : IDisposable
{
    private const uint PodHost = 460000;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);
    private readonly PrivateContainerd _containerd;
    private readonly HostDirectories _dirs = new();

    public UserNamespacedPodContractTests(ContainerdFixture fixture) => _containerd = fixture.Containerd;

    public void Dispose() => _dirs.Dispose();

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    private static string PinnedUserNamespace(string dir) => Fixtures.PinnedUserNamespace.Create(Path.Combine(dir, "user"), PodHost);

    private static JsonArray Range(uint container, uint host, uint size) =>
        new(new JsonObject { ["containerID"] = container, ["hostID"] = host, ["size"] = size });

    /// <summary>A bundle as containerd 2.x makes it: config.json and an empty rootfs directory.</summary>
    private static string Bundle(string dir, string pinned, string volume, string[] args, string volumeAt = "/mnt")
    {
        var config = JsonNode.Parse(TestBundle.DefaultConfigJson(args, namespaces: ["pid", "ipc", "uts", "mount", "network", "user"]))!.AsObject();
        config["ociVersion"] = "1.2.1";
        config["root"]!["readonly"] = false;
        foreach (var ns in config["linux"]!["namespaces"]!.AsArray())
        {
            if ((string?)ns!["type"] == "user")
                ns["path"] = pinned;
        }
        config["linux"]!["uidMappings"] = Range(0, PodHost, 65536);
        config["linux"]!["gidMappings"] = Range(0, PodHost, 65536);
        config["mounts"]!.AsArray().Add((JsonNode)new JsonObject
        {
            ["destination"] = volumeAt, ["type"] = "bind", ["source"] = volume,
            ["options"] = new JsonArray("rbind", "rprivate", "rw"),
            ["uidMappings"] = Range(0, PodHost, 65536), ["gidMappings"] = Range(0, PodHost, 65536),
        });
        var bundle = Path.Combine(dir, "bundle");
        Directory.CreateDirectory(Path.Combine(bundle, "rootfs"));
        File.WriteAllText(Path.Combine(bundle, "config.json"), config.ToJsonString());
        return bundle;
    }

    /// <summary>The overlay snapshotter's answer with remapped ids: its upper and work directories
    /// belong to the pod's root, and the options carry the mappings.</summary>
    private static Types.Mount Rootfs(string dir, string uidmap, string? gidmap)
    {
        var upper = Path.Combine(dir, "upper");
        var work = Path.Combine(dir, "work");
        Directory.CreateDirectory(upper);
        Directory.CreateDirectory(work);
        Commands.RunOk("chown", $"{PodHost}:{PodHost}", upper, work);
        var mount = new Types.Mount { Type = "overlay", Source = "overlay" };
        mount.Options.Add(["index=off", $"workdir={work}", $"upperdir={upper}", $"lowerdir={TestImages.Get().RootfsDir}", $"uidmap={uidmap}"]);
        if (gidmap is not null)
            mount.Options.Add($"gidmap={gidmap}");
        return mount;
    }

    private static Any RuncOptions(uint ioUid, uint ioGid) => new()
    {
        TypeUrl = "containerd.runc.v1.Options",
        Value = new global::Containerd.Runc.V1.Options { IoUid = ioUid, IoGid = ioGid }.ToByteString(),
    };

    [Fact]
    public async Task AContainerOfAUserNamespacedPod_RunsInThePinnedNamespace_OnAnIdMappedRootfsAndVolume_WithFifosOfTheMappedRoot()
    {
        var dir = _dirs.Create("userns-pod");
        var pinned = PinnedUserNamespace(dir);
        var volume = Directory.CreateDirectory(Path.Combine(dir, "volume")).FullName;
        File.WriteAllText(Path.Combine(volume, "byroot"), "r\n");
        var bundle = Bundle(dir, pinned, volume, ["sh", "-c",
            "cat /proc/self/uid_map; stat -c '%u %g' /bin/busybox /mnt/byroot; touch /mnt/by-pod /made-in-rootfs"]);
        var stdout = Path.Combine(dir, "stdout");
        Commands.RunOk("mkfifo", stdout);
        await using var shim = await ShimTtrpcTests.ShimUnderTest.StartAsync(_containerd);
        var id = TestBundle.NewId("userns");
        using var reader = Csrt.Linux.Files.Open(stdout, Csrt.Linux.OpenFlags.O_RDWR);
        var request = new TaskV2.CreateTaskRequest { Id = id, Bundle = bundle, Stdout = stdout, Options = RuncOptions(PodHost, PodHost) };
        request.Rootfs.Add(Rootfs(dir, $"0:{PodHost}:65536", $"0:{PodHost}:65536"));
        try
        {
            await shim.Client.CreateAsync(request, deadline: Deadline);
            var fifoOwner = Csrt.Linux.Files.Stat(stdout);
            await shim.Client.StartAsync(new TaskV2.StartRequest { Id = id }, deadline: Deadline);
            var exited = await shim.Client.WaitAsync(new TaskV2.WaitRequest { Id = id }, deadline: Deadline);
            var output = ReadAvailable(reader);

            Assert.Equal(0u, exited.ExitStatus);
            Assert.Equal((PodHost, PodHost), (fifoOwner.Uid, fifoOwner.Gid));
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal($"0 {PodHost} 65536", string.Join(' ', lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            // The image's root-owned files and the volume's appear as the pod's root, not as nobody.
            Assert.Equal(["0 0", "0 0"], lines[1..3]);
            Assert.Equal(0u, Csrt.Linux.Files.Stat(Path.Combine(volume, "by-pod")).Uid);
            Assert.Equal(PodHost, Csrt.Linux.Files.Stat(Path.Combine(dir, "upper", "made-in-rootfs")).Uid);
        }
        finally
        {
            await DeleteQuietly(shim, id);
        }
        Assert.Empty(HostState.MountsUnder(bundle));
        AssertNoScratchLeft();
    }

    [Fact]
    public async Task ASingleLayerBindRootfsWithUidmap_IsTheIdMappedLayer_ReadOnlyAsAsked()
    {
        var dir = _dirs.Create("userns-bind");
        var pinned = PinnedUserNamespace(dir);
        var bundle = Bundle(dir, pinned, Directory.CreateDirectory(Path.Combine(dir, "volume")).FullName,
            ["sh", "-c", "stat -c '%u %g' /bin/busybox; touch /bin/new 2>&1"], volumeAt: "/tmp");
        var stdout = Path.Combine(dir, "stdout");
        Commands.RunOk("mkfifo", stdout);
        await using var shim = await ShimTtrpcTests.ShimUnderTest.StartAsync(_containerd);
        var id = TestBundle.NewId("userns");
        using var reader = Csrt.Linux.Files.Open(stdout, Csrt.Linux.OpenFlags.O_RDWR);
        var request = new TaskV2.CreateTaskRequest { Id = id, Bundle = bundle, Stdout = stdout };
        var rootfs = new Types.Mount { Type = "bind", Source = TestImages.Get().RootfsDir };
        rootfs.Options.Add(["rbind", "ro", $"uidmap=0:{PodHost}:65536", $"gidmap=0:{PodHost}:65536"]);
        request.Rootfs.Add(rootfs);
        try
        {
            await shim.Client.CreateAsync(request, deadline: Deadline);
            await shim.Client.StartAsync(new TaskV2.StartRequest { Id = id }, deadline: Deadline);
            await shim.Client.WaitAsync(new TaskV2.WaitRequest { Id = id }, deadline: Deadline);
            var lines = ReadAvailable(reader).Split('\n', StringSplitOptions.RemoveEmptyEntries);

            Assert.Equal("0 0", lines[0]);
            Assert.Contains("Read-only file system", lines[1], StringComparison.Ordinal);
        }
        finally
        {
            await DeleteQuietly(shim, id);
        }
        Assert.Empty(HostState.MountsUnder(bundle));
    }

    [Theory]
    [InlineData("0:460000:65536", null, "uidmap= and gidmap= come together")]
    [InlineData("0:x:65536", "0:460000:65536", "uidmap=: expected containerID:hostID:size")]
    [InlineData("0:460000:65536,5:1:10", "0:460000:65536", "do not make a user namespace")]
    public async Task RootfsMappingsThatCannotBeApplied_AreRefusedNamingTheOption_AndNothingIsMounted(string uidmap, string? gidmap, string words)
    {
        var dir = _dirs.Create("userns-bad");
        var pinned = PinnedUserNamespace(dir);
        var bundle = Bundle(dir, pinned, Directory.CreateDirectory(Path.Combine(dir, "volume")).FullName, ["true"]);
        await using var shim = await ShimTtrpcTests.ShimUnderTest.StartAsync(_containerd);
        var id = TestBundle.NewId("userns");
        var request = new TaskV2.CreateTaskRequest { Id = id, Bundle = bundle };
        request.Rootfs.Add(Rootfs(dir, uidmap, gidmap));

        var e = await Assert.ThrowsAsync<RpcException>(async () => await shim.Client.CreateAsync(request, deadline: Deadline));

        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("rootfs mount overlay", e.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(words, e.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(HostState.MountsUnder(bundle));
        AssertNoScratchLeft();
    }

    /// <summary>The id-mapped layers are attached in a scratch directory only while the overlay is mounted.</summary>
    private static void AssertNoScratchLeft()
    {
        var left = Directory.GetDirectories("/run", "csrt-idmap-*");
        Assert.True(left.Length == 0, $"id-mapped layer directories left: {string.Join(", ", left)}");
    }

    private static string ReadAvailable(Csrt.Linux.FileDescriptor reader)
    {
        var text = new System.Text.StringBuilder();
        var buffer = new byte[4096];
        while (Csrt.Linux.Polling.WaitReadable(reader, TimeSpan.FromSeconds(2)))
        {
            var n = Csrt.Linux.Files.Read(reader, buffer);
            if (n <= 0)
                break;
            text.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, n));
        }
        return text.ToString();
    }

    private static async Task DeleteQuietly(ShimTtrpcTests.ShimUnderTest shim, string id)
    {
        try
        {
            await shim.Client.KillAsync(new TaskV2.KillRequest { Id = id, Signal = 9, All = true }, deadline: Deadline);
        }
        catch (RpcException)
        {
        }
        try
        {
            await shim.Client.WaitAsync(new TaskV2.WaitRequest { Id = id }, deadline: Deadline);
            await shim.Client.DeleteAsync(new TaskV2.DeleteRequest { Id = id }, deadline: Deadline);
        }
        catch (RpcException)
        {
        }
    }
}
