using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Rootless;
using Xunit;

namespace Csrt.IntegrationTests.Functions;

/// <summary>`csrt fn run` by a real unprivileged user (<see cref="UnprivilegedUser"/>): the
/// ResourceList function from an OCI archive and the contract, rootless.</summary>
[Collection(RootlessCollection.Name)]
public sealed class FnRootlessTests : IDisposable
{
    private readonly UnprivilegedUser _user;
    private readonly string _dir;
    private readonly string _fnArchive;
    private readonly string _busyboxArchive;

    public FnRootlessTests(UnprivilegedUser user)
    {
        _user = user;
        _dir = Path.Combine(user.WorkDir, "fn-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        user.Chown(_dir);
        // The user cannot be assumed to reach the build tree: its own copies of the images.
        _fnArchive = CopyForUser(Path.Combine(TestImages.Get().Dir, "fn-annotate.oci.tar"));
        _busyboxArchive = CopyForUser(TestImages.Get().BusyboxTarball);
    }

    private string CopyForUser(string file)
    {
        var copy = Path.Combine(_dir, Path.GetFileName(file));
        File.Copy(file, copy);
        _user.Chown(copy);
        return copy;
    }

    private string Cache => Path.Combine(_dir, "cache");

    private CommandResult Fn(string? stdin, params string[] args) =>
        _user.Run(_user.Csrt, new[] { "fn", "run", "--image-cache", Cache }.Concat(args), stdin: stdin);

    public void Dispose() => Commands.Run("rm", ["-rf", "--one-file-system", _dir], UnprivilegedUser.Timeout);

    [Fact]
    public void ResourceListFunction_AsAnUnprivilegedUser_AnnotatesEveryItem_AndFailsCleanlyOnMalformedInput()
    {
        var ok = Fn("kind: ResourceList\nitems:\n- kind: ConfigMap\n  metadata:\n    name: a\n", "--image", "oci-archive:" + _fnArchive);
        var bad = Fn("not a resource list\n", "--image", "oci-archive:" + _fnArchive);

        Assert.True(ok.Succeeded, ok.ToString());
        Assert.Equal("", ok.Stderr);
        Assert.Equal("kind: ResourceList\nitems:\n- kind: ConfigMap\n  metadata:\n    annotations:\n      fn.csrt.io/processed: \"true\"\n    name: a\n", ok.Stdout);
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("", bad.Stdout);
        Assert.Contains("malformed ResourceList", bad.Stderr, StringComparison.Ordinal);
        // No function container left in the user's state root (runc's default for a rootless caller).
        Assert.DoesNotContain(Directory.Exists(_user.CsrtStateRoot) ? Directory.EnumerateFileSystemEntries(_user.CsrtStateRoot) : [],
            e => Path.GetFileName(e).StartsWith("fn-", StringComparison.Ordinal));
    }

    [Fact]
    public void Rootless_TheCallerIsRootInTheUserNamespace_TheImagesFilesAreItsFiles_OnlyLo_ReadOnly_NoTmpdir()
    {
        var result = _user.Run(_user.Csrt,
            ["fn", "run", "--image-cache", Cache, "--image", "oci-archive:" + _busyboxArchive, "--", "sh", "-c",
                "id -u; stat -c %u /bin/busybox; head -n1 /proc/self/uid_map | tr -s ' '; ls /sys/class/net; " +
                "touch /etc/x 2>/dev/null; echo etc=$?; touch /tmp/x; echo tmp=$?; env | grep -c '^TMPDIR=' ; env | grep '^HOME='"],
            stdin: null);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Equal("0", lines[0]);
        Assert.Equal("0", lines[1]);
        Assert.Equal($" 0 {_user.Uid} 1", lines[2]);
        Assert.Equal("lo", lines[3]);
        Assert.Equal("etc=1", lines[4]);
        Assert.Equal("tmp=0", lines[5]);
        Assert.Equal("0", lines[6]);
        Assert.Equal("HOME=" + _user.Home, lines[7]);
        // The unpacked image belongs to the user on the host.
        var busybox = Directory.GetFiles(Path.Combine(Cache, "images"), "busybox", new EnumerationOptions { RecurseSubdirectories = true, MatchType = MatchType.Simple })
            .First(p => p.EndsWith("/rootfs/bin/busybox", StringComparison.Ordinal));
        Assert.Equal(_user.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), Commands.RunOk("stat", "-c", "%u", busybox).Trim());
    }
}
