using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// Masked and read-only paths when the image's /dev/null (what a runtime binds over masked files)
/// is a symlink to a host file, by absolute path or climbing with ../, and the spec mounts no
/// tmpfs over /dev to hide it. Masking must not follow the symlink out of the rootfs: the masked
/// files read empty (never the host file), the read-only paths refuse writes, and the host file
/// is neither changed nor mounted anywhere. runc is the reference, and its run of the same
/// payload without masking shows the files' contents, so the payload does read them.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class MaskedPathAttackTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private const string Secret = "HOST SECRET";
    private const string Payload =
        "echo \"passwd=[$(cat /etc/passwd)]\"; echo \"timer=[$(head -c 16 /proc/timer_list | tr -d '\\n')]\"; echo \"group=[$(ls /etc/masked-dir)]\"; "
        + "echo x > /etc/ro-dir/file 2>/dev/null && echo ro-dir-written; echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo proc-sys-written; "
        + "echo \"null=[$(head -c 16 /dev/null)]\"; true";

    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    /// <summary>A bundle whose /dev is the image's own, with masked /etc/passwd and /etc/masked-dir
    /// and read-only /etc/ro-dir; <paramref name="symlink"/> (if any) replaces the image's /dev/null.</summary>
    private static Fixtures.TestBundle Bundle(AttackTarget target, bool mask, string? symlink)
    {
        var bundle = target.Bundle(["sh", "-c", Payload], c =>
        {
            var mounts = c["mounts"]!.AsArray();
            foreach (var m in mounts.Where(m => ((string)m!["destination"]!).StartsWith("/dev", StringComparison.Ordinal)).ToList())
                mounts.Remove(m);
            var linux = c["linux"]!.AsObject();
            if (mask)
            {
                linux["maskedPaths"]!.AsArray().Add((JsonNode)"/etc/passwd");
                linux["maskedPaths"]!.AsArray().Add((JsonNode)"/etc/masked-dir");
                linux["readonlyPaths"]!.AsArray().Add((JsonNode)"/etc/ro-dir");
            }
            else
            {
                linux["maskedPaths"] = new JsonArray();
                linux["readonlyPaths"] = new JsonArray();
            }
        }, readonlyRoot: false);
        Directory.CreateDirectory(Path.Combine(bundle.RootfsDir, "etc", "masked-dir"));
        File.WriteAllText(Path.Combine(bundle.RootfsDir, "etc", "masked-dir", "hidden"), "");
        Directory.CreateDirectory(Path.Combine(bundle.RootfsDir, "etc", "ro-dir"));
        if (symlink is not null)
            File.CreateSymbolicLink(Path.Combine(bundle.RootfsDir, "dev", "null"), symlink);
        return bundle;
    }

    [Theory]
    [InlineData(Via.Cli, false)]
    [InlineData(Via.Cli, true)]
    [InlineData(Via.Shim, false)]
    [InlineData(Via.Shim, true)]
    [InlineData(Via.Runc, false)]
    [InlineData(Via.Runc, true)]
    public void MaskingDoesNotFollowADevNullSymlinkOutOfTheRootfs_MaskedPathsReadEmpty_ReadOnlyPathsRefuseWrites(Via via, bool relative)
    {
        using var target = new AttackTarget(via, _containerd, "masked");
        var hostDir = target.HostDir("host-file");
        var hostFile = Path.Combine(hostDir, "shadow");
        File.WriteAllText(hostFile, Secret + "\n");
        var bundle = Bundle(target, mask: true, relative ? "../../../../../../../.." + hostFile : hostFile);

        var result = target.Run(bundle);

        _log.WriteLine(result.ToString());
        Assert.Equal(Secret + "\n", File.ReadAllText(hostFile));
        Assert.Empty(HostState.MountsUnder(hostDir));
        Assert.DoesNotContain(Secret, result.Stdout + result.Stderr, StringComparison.Ordinal);
        if (result.Succeeded)
        {
            var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains("passwd=[]", lines);
            Assert.Contains("timer=[]", lines);
            Assert.Contains("group=[]", lines);
            Assert.DoesNotContain("ro-dir-written", lines);
            Assert.DoesNotContain("proc-sys-written", lines);
        }
        else
        {
            // Refusing the rootfs is a safe answer too; it must say why.
            Assert.NotEqual("", result.Stderr);
        }
    }

    [Fact]
    public void PositiveControl_UnderRunc_WithoutMasking_ThePayloadReadsAndWritesThosePaths()
    {
        using var target = new AttackTarget(Via.Runc, _containerd, "masked-control");
        var bundle = Bundle(target, mask: false, symlink: null);

        var result = target.Run(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("passwd=[root:", StringComparison.Ordinal));
        Assert.Contains("group=[hidden]", lines);
        Assert.Contains(lines, l => l.StartsWith("timer=[", StringComparison.Ordinal) && l != "timer=[]");
        Assert.Contains("ro-dir-written", lines);
    }
}
