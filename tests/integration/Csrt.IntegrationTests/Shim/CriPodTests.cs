using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.TestSupport;
using Google.Protobuf;
using Xunit;
using Xunit.Abstractions;
using TaskV2 = Containerd.Task.V2;

namespace Csrt.IntegrationTests.Shim;

/// <summary>Pods on csrt through containerd's CRI plugin (runtime handler "csrt"): one shim per pod.</summary>
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

    private string AddressOf(string taskId) =>
        File.ReadAllText(Path.Combine(_containerd.BundleDir(taskId, PrivateContainerd.CriNamespace), "address")).Trim();

    /// <summary>Pids of csrt shims started for this containerd instance.</summary>
    private List<int> Shims() =>
        HostState.ProcessesWithArgument(_containerd.Address).Where(HostState.IsCsrtShim).ToList();

    [Fact]
    public async Task APodWithTwoContainersRunsOnCsrtAndTheyShareTheSandboxNamespaces()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "csrt-pod");
        var ids = new List<string>();
        foreach (var name in new[] { "one", "two" })
            ids.Add(await pod.StartContainerAsync(CriPod.Busybox(name, "sh", "-c", $"echo started {name}; sleep 1000")));
        const string probe = "hostname; for n in net ipc uts; do readlink /proc/self/ns/$n; done";
        var a = await pod.ExecSyncAsync(ids[0], 30, "sh", "-c", probe);
        var b = await pod.ExecSyncAsync(ids[1], 30, "sh", "-c", probe);
        _log.WriteLine(a.Stdout.ToStringUtf8() + a.Stderr.ToStringUtf8());
        Assert.Equal(0, a.ExitCode);
        Assert.Equal(0, b.ExitCode);
        Assert.StartsWith("csrt-pod\n", a.Stdout.ToStringUtf8(), StringComparison.Ordinal);
        Assert.Equal(a.Stdout.ToStringUtf8(), b.Stdout.ToStringUtf8());
        // Without namespace options the pid mode is POD: both share the sandbox's pid namespace and
        // see each other's processes; a container asking for CONTAINER mode gets its own.
        var pidA = await pod.ExecSyncAsync(ids[0], 30, "readlink", "/proc/self/ns/pid");
        var pidB = await pod.ExecSyncAsync(ids[1], 30, "readlink", "/proc/self/ns/pid");
        Assert.Equal(pidA.Stdout.ToStringUtf8(), pidB.Stdout.ToStringUtf8());
        var ps = (await pod.ExecSyncAsync(ids[0], 30, "ps", "-o", "args")).Stdout.ToStringUtf8();
        _log.WriteLine(ps);
        Assert.Contains("/pause", ps, StringComparison.Ordinal);
        Assert.Equal(2, ps.Split('\n').Count(l => l.Contains("sleep 1000", StringComparison.Ordinal)));
        var own = CriPod.Busybox("own", "sleep", "1000");
        own.Linux.SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Container } };
        var ownId = await pod.StartContainerAsync(own);
        var pidOwn = await pod.ExecSyncAsync(ownId, 30, "sh", "-c", "readlink /proc/self/ns/pid; ps -o pid,args");
        _log.WriteLine(pidOwn.Stdout.ToStringUtf8());
        Assert.NotEqual(pidA.Stdout.ToStringUtf8(), pidOwn.Stdout.ToStringUtf8().Split('\n')[0] + "\n");
        Assert.DoesNotContain("/pause", pidOwn.Stdout.ToStringUtf8(), StringComparison.Ordinal);
        Assert.Contains("    1 sleep 1000", pidOwn.Stdout.ToStringUtf8(), StringComparison.Ordinal);
        var log = await pod.WaitForLogAsync("one", "started one");
        Assert.Contains("stdout F started one", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OneShimServesTheWholePod_RemovingOneContainerLeavesTheOthers_AndTheShimExitsWithThePod()
    {
        var shimsBefore = Shims();
        string address;
        int shim;
        var ids = new List<string>();
        await using (var pod = await CriPod.StartAsync(_containerd, "one-shim"))
        {
            foreach (var name in new[] { "first", "second" })
                ids.Add(await pod.StartContainerAsync(CriPod.Busybox(name, "sleep", "1000")));
            address = AddressOf(pod.Id);
            Assert.All(ids, id => Assert.Equal(address, AddressOf(id)));
            var started = Shims().Except(shimsBefore).ToList();
            shim = Assert.Single(started);
            Assert.True(File.Exists(address["unix://".Length..]));

            // containerd's Delete → Shutdown → `delete` binary for "first" must not disturb the pod's shim.
            await pod.Cri.StopContainerAsync(new StopContainerRequest { ContainerId = ids[0], Timeout = 0 }, deadline: CriPod.Deadline);
            await pod.Cri.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = ids[0] }, deadline: CriPod.Deadline);
            Assert.True(HostState.IsAlive(shim), "the pod's shim exited when one container was removed");
            Assert.True(File.Exists(address["unix://".Length..]), "the live shim's socket was removed");
            var exec = await pod.ExecSyncAsync(ids[1], 30, "echo", "still here");
            Assert.Equal("still here\n", exec.Stdout.ToStringUtf8());
            Assert.False(Directory.Exists(Path.Combine("/run/containerd/csrt", PrivateContainerd.CriNamespace, ids[0])));
        }
        // The pod is gone: its last Shutdown finds no container and the shim exits, removing its socket.
        Assert.True(HostState.WaitGone([shim], TimeSpan.FromSeconds(30)), "the shim outlived its pod");
        Assert.False(File.Exists(address["unix://".Length..]), "the shim's socket outlived it");
        Assert.All(ids, id => Assert.False(Directory.Exists(Path.Combine("/run/containerd/csrt", PrivateContainerd.CriNamespace, id))));
    }

    [Fact]
    public void TheDeleteCommand_WritesARawDeleteResponse_EvenForAContainerThatIsAlreadyGone()
    {
        var bundle = Path.Combine(_containerd.Dir, "delete-" + TestBundle.NewId("b"));
        Directory.CreateDirectory(bundle);
        var id = Path.GetFileName(bundle);
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var psi = new System.Diagnostics.ProcessStartInfo(RepoPaths.RequireBinary(RepoPaths.ShimBinary))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = bundle,
        };
        foreach (var a in new[] { "-namespace", "default", "-address", _containerd.Address, "-publish-binary", PrivateContainerd.ContainerdBinary, "-id", id, "-bundle", bundle, "delete" })
            psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        using var stdout = new MemoryStream();
        p.StandardOutput.BaseStream.CopyTo(stdout);
        var stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(30_000));
        _log.WriteLine(stderr);
        Assert.Equal(0, p.ExitCode);
        var response = TaskV2.DeleteResponse.Parser.ParseFrom(stdout.ToArray());
        Assert.Equal(137u, response.ExitStatus);
        Assert.Equal(0u, response.Pid);
        Assert.InRange(response.ExitedAt.ToDateTimeOffset(), before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal(response.ToByteArray(), stdout.ToArray());
        Directory.Delete(bundle, recursive: true);
    }
}
