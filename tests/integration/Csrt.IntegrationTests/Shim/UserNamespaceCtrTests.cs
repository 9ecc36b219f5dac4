using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// What containerd 1.6 itself can carry of a user-namespaced pod's container, through its own
/// client: <c>ctr run --uidmap/--gidmap</c> (a snapshot chowned to the mapping) with
/// <c>--with-ns user:&lt;pinned namespace&gt;</c> gives the spec containerd 2.x writes for pods, a user
/// namespace joined by path with its mappings repeated. What 1.6 cannot send (id-mapped mounts,
/// rootfs uidmap=) is in <see cref="UserNamespacedPodContractTests"/>.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class UserNamespaceCtrTests : IDisposable
{
    private readonly PrivateContainerd _containerd;
    private readonly HostDirectories _dirs = new();

    public UserNamespaceCtrTests(ContainerdFixture fixture) => _containerd = fixture.Containerd;

    public void Dispose() => _dirs.Dispose();

    private string PinnedUserNamespace(uint host) =>
        Fixtures.PinnedUserNamespace.Create(Path.Combine(_dirs.Create("pinned-userns"), "user"), host);

    private CommandResult CtrRun(string id, string pinned, uint specHost, params string[] command) =>
        _containerd.Ctr(new[]
        {
            "run", "--rm", "--runtime", PrivateContainerd.CsrtRuntime, "--uidmap", $"0:{specHost}:65536", "--gidmap", $"0:{specHost}:65536",
            "--with-ns", "user:" + pinned, TestImages.BusyboxImage, id,
        }.Concat(command).ToArray());

    [Fact]
    public void CtrRunJoiningAPinnedUserNamespaceWithItsMappings_RunsInThatNamespace()
    {
        var pinned = PinnedUserNamespace(480000);
        var id = TestBundle.NewId("ctr-userns");
        try
        {
            var r = CtrRun(id, pinned, 480000, "sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/user; id -u; stat -c %u /bin/busybox");

            Assert.True(r.Succeeded, r.ToString());
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal("0 480000 65536", string.Join(' ', lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
            Assert.Equal($"user:[{Csrt.Linux.Files.Stat(pinned).Inode}]", lines[1]);
            // The snapshot ctr chowned to the mapping shows its files as the container's root.
            Assert.Equal(["0", "0"], lines[2..4]);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    [Fact]
    public void CtrRunWithMappingsThatAreNotThePinnedNamespaces_FailsNamingBoth()
    {
        var pinned = PinnedUserNamespace(490000);
        var id = TestBundle.NewId("ctr-userns");
        try
        {
            var r = CtrRun(id, pinned, 500000, "true");

            Assert.False(r.Succeeded, r.ToString());
            Assert.Contains("$.linux.uidMappings", r.Stderr, StringComparison.Ordinal);
            Assert.Contains("0:490000:65536", r.Stderr, StringComparison.Ordinal);
            Assert.Contains("0:500000:65536", r.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }
}
