using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Images;

/// <summary>The OCI bundle fixture: overlay rootfs, default config, cleanup. runc is the reference runtime.</summary>
public sealed class TestBundleTests
{
    [Fact]
    public void Bundle_RootfsIsAWritableOverlay_ThatLeavesTheCachedRootfsUntouched()
    {
        using var bundle = TestBundle.Create(TestBundle.DefaultConfigJson(["sh"]));
        var marker = Path.Combine(bundle.RootfsDir, "etc", "written-by-test");

        File.WriteAllText(marker, "x");

        Assert.True(File.Exists(Path.Combine(bundle.UpperDir, "etc", "written-by-test")), "the write did not land in the bundle's upper dir");
        Assert.False(File.Exists(Path.Combine(TestImages.Get().RootfsDir, "etc", "written-by-test")), "the write reached the cached rootfs");
        Assert.Equal("ok\n", Commands.RunOk("chroot", bundle.RootfsDir, "/bin/sh", "-c", "echo ok"));
        var args = JsonNode.Parse(File.ReadAllText(bundle.ConfigPath))!["process"]!["args"]!.AsArray();
        Assert.Equal("sh", Assert.Single(args)!.GetValue<string>());
    }

    [Fact]
    public void Bundle_Dispose_UnmountsTheRootfsAndDeletesEveryDirectory()
    {
        var bundle = TestBundle.Create(TestBundle.DefaultConfigJson(["true"]));
        var dir = bundle.Dir;
        var upper = bundle.UpperDir;
        Assert.Single(HostState.MountsUnder(dir));

        bundle.Dispose();

        Assert.Empty(HostState.MountsUnder(dir));
        Assert.False(Directory.Exists(dir), $"{dir} still exists");
        Assert.False(Directory.Exists(Path.GetDirectoryName(upper)), $"{upper} still exists");
    }

    [Theory]
    [InlineData("pid,network,ipc,uts,mount")]
    [InlineData("pid,mount,uts")]
    public void Bundle_DefaultConfig_RunsUnderRunc(string namespaces)
    {
        using var bundle = TestBundle.Create(TestBundle.DefaultConfigJson(
            ["sh", "-c", "echo hello from $(hostname); echo pid $$"], namespaces: namespaces.Split(','), hostname: "bundle-test"));
        var runcRoot = Path.Combine(RepoPaths.RunDir, "runc-" + bundle.Id);
        try
        {
            var result = Commands.Run("runc", ["--root", runcRoot, "run", "--bundle", bundle.Dir, bundle.Id], TimeSpan.FromSeconds(60));

            Assert.True(result.Succeeded, result.ToString());
            Assert.Equal("hello from bundle-test\npid 1\n", result.Stdout);
        }
        finally
        {
            Commands.Run("runc", ["--root", runcRoot, "delete", "--force", bundle.Id], TimeSpan.FromSeconds(30));
            if (Directory.Exists(runcRoot))
                Directory.Delete(runcRoot, recursive: true);
        }
    }
}
