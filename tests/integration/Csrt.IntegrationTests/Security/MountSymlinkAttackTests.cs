using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// Mount destinations that are symlinks out of the rootfs: the image holds /etc/evil-abs pointing
/// at a host directory by its absolute path and /etc/evil-rel climbing to it with ../, and the
/// spec mounts a tmpfs on each, into which the container writes. Both mounts must land inside the
/// rootfs (at the host path re-rooted there), and the host directory must stay empty and
/// unmounted. runc does the same, which also proves the setup follows the symlinks.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class MountSymlinkAttackTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    [InlineData(Via.Runc)]
    public void MountsOnSymlinksOutOfTheRootfs_LandInsideIt_AndTheHostTargetIsUntouched(Via via)
    {
        using var target = new AttackTarget(via, _containerd, "mount-symlink");
        var host = target.HostDir("host-target");
        var abs = Path.Combine(host, "abs");
        var rel = Path.Combine(host, "rel");
        Directory.CreateDirectory(abs);
        Directory.CreateDirectory(rel);
        var bundle = target.Bundle(["sh", "-c", "echo a > /etc/evil-abs/written && echo b > /etc/evil-rel/written; cut -d' ' -f2,3 /proc/mounts | grep tmpfs"], c =>
        {
            AttackTarget.AddMount(c, "/etc/evil-abs", "tmpfs", "tmpfs", "size=1m");
            AttackTarget.AddMount(c, "/etc/evil-rel", "tmpfs", "tmpfs", "size=1m");
        }, readonlyRoot: false);
        File.CreateSymbolicLink(Path.Combine(bundle.RootfsDir, "etc", "evil-abs"), abs);
        File.CreateSymbolicLink(Path.Combine(bundle.RootfsDir, "etc", "evil-rel"), "../../../../../../../.." + rel);

        var result = target.Run(bundle);

        _log.WriteLine(result.ToString());
        Assert.Empty(Directory.GetFileSystemEntries(abs));
        Assert.Empty(Directory.GetFileSystemEntries(rel));
        Assert.Empty(HostState.MountsUnder(host));
        Assert.True(result.Succeeded, result.ToString());
        // The container's mount table: both tmpfs at the host path re-rooted inside the rootfs.
        var mounts = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(abs + " tmpfs", mounts);
        Assert.Contains(rel + " tmpfs", mounts);
        Assert.True(Directory.Exists(Path.Combine(bundle.UpperDir, abs.TrimStart('/'))), "the mount point was not made inside the rootfs");
    }
}
