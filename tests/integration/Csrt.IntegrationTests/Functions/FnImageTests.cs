using System.Formats.Tar;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Functions;

/// <summary>`csrt fn run --image`: layer unpacking (whiteouts, hard links, hostile paths), the
/// content-addressed cache, and every kind of bad image, each a clear error that leaves the cache
/// without a half-written entry.</summary>
public sealed class FnImageTests : IDisposable
{
    private readonly FnHarness _fn = new("image");

    public void Dispose() => _fn.Dispose();

    private string CacheEntry(OciLayout layout) => Path.Combine(_fn.Cache, "images", layout.ManifestDigest.Replace(':', '-'));

    /// <summary>The cache holds no entry for the image, and no temporary directory either.</summary>
    private void AssertNotCached(OciLayout layout)
    {
        Assert.False(Directory.Exists(CacheEntry(layout)), $"{CacheEntry(layout)} exists after a failed unpack");
        Assert.False(Directory.Exists(CacheEntry(layout) + ".tmp"), "the temporary unpack directory was left");
    }

    [Fact]
    public void Whiteouts_RemoveLowerFiles_OpaqueDirectoriesHideLowerContent_HardLinksStayLinked()
    {
        var layout = _fn.Layout("layers").BusyboxLayer()
            .Layer(w =>
            {
                OciLayout.AddDir(w, "a/");
                OciLayout.AddFile(w, "a/gone", "1");
                OciLayout.AddFile(w, "a/kept", "2");
                OciLayout.AddDir(w, "b/");
                OciLayout.AddFile(w, "b/lower", "3");
                OciLayout.AddFile(w, "h1", "linked");
            })
            .Layer(w =>
            {
                OciLayout.AddFile(w, "a/.wh.gone", "");
                OciLayout.AddDir(w, "b/");
                OciLayout.AddFile(w, "b/upper", "4");
                OciLayout.AddFile(w, "b/.wh..wh..opq", "");
                w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "h2") { LinkName = "h1" });
            }, gzip: false)
            .Write(new JsonObject { ["Cmd"] = new JsonArray("sh", "-c", "ls /a; ls /b; stat -c '%i %h' /h1 /h2") });

        var result = _fn.Run("--image", "oci:" + layout.Dir);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Equal("kept", lines[0]);
        Assert.Equal("upper", lines[1]);
        Assert.Equal(lines[2], lines[3]);
        Assert.EndsWith(" 2", lines[2], StringComparison.Ordinal);
    }

    [Fact]
    public void SymlinksInTheImage_NeverLeadWritesOutsideTheRoot()
    {
        var outside = Path.Combine(_fn.Work, "outside");
        Directory.CreateDirectory(outside);
        var layout = _fn.Layout("symlink").BusyboxLayer()
            .Layer(w =>
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "escape") { LinkName = outside });
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "up") { LinkName = "../../../../../../.." + outside });
            })
            .Layer(w =>
            {
                OciLayout.AddFile(w, "escape/pwned", "x");
                OciLayout.AddFile(w, "up/pwned2", "x");
            })
            .Write(new JsonObject { ["Cmd"] = new JsonArray("true") });

        var result = _fn.Run("--image", "oci:" + layout.Dir);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        // The writes landed inside the rootfs, where the links resolve when the rootfs is "/".
        Assert.True(File.Exists(Path.Combine(CacheEntry(layout), "rootfs", outside.TrimStart('/'), "pwned")));
        Assert.True(File.Exists(Path.Combine(CacheEntry(layout), "rootfs", outside.TrimStart('/'), "pwned2")));
    }

    [Fact]
    public void AsRoot_TheLayersOwnersAndSetIdBits_AreKept_InsideAndOnTheHost()
    {
        var layout = _fn.Layout("owners").BusyboxLayer().OwnersLayer().Write(new JsonObject { ["Cmd"] = OciLayout.StatOwnersCommand() });

        var result = _fn.Run("--image", "oci:" + layout.Dir);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(OciLayout.Owners, result.Stdout.TrimEnd('\n').Split('\n'));
        // Root's cache keeps the image's own ids on the host: no user namespace in between.
        var rootfs = Path.Combine(CacheEntry(layout), "rootfs");
        foreach (var owner in OciLayout.Owners)
        {
            var path = owner.Split(' ')[0];
            Assert.Equal(path + owner[path.Length..], path + " " + Commands.RunOk("stat", "-c", "%u %g %a", rootfs + path).Trim());
        }
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void LayerWithAPathEscapingTheRoot_IsRefused_AndNothingIsCached()
    {
        var layout = _fn.Layout("dotdot").BusyboxLayer()
            .Layer(w => OciLayout.AddFile(w, "../../escaped", "x"))
            .Write();

        var result = _fn.Run("--image", "oci:" + layout.Dir, "--", "true");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("\"../../escaped\" escapes the root directory", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_fn.Cache, "escaped")));
        AssertNotCached(layout);
    }

    [Fact]
    public void CorruptLayer_DigestMismatchIsNamed_AndNothingIsCached()
    {
        var layout = _fn.Layout("corrupt").BusyboxLayer()
            .Write(damage: (_, blob) =>
            {
                var copy = (byte[])blob.Clone();
                copy[copy.Length / 2] ^= 0xff;
                return copy;
            });

        var result = _fn.Run("--image", "oci:" + layout.Dir, "--", "true");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("digest mismatch", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("layer sha256:", result.Stderr, StringComparison.Ordinal);
        AssertNotCached(layout);
    }

    [Fact]
    public void TruncatedLayer_IsDetected_AndNothingIsCached()
    {
        var layout = _fn.Layout("truncated").BusyboxLayer()
            .Write(damage: (_, blob) => blob[..(blob.Length / 3)]);

        var result = _fn.Run("--image", "oci:" + layout.Dir, "--", "true");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("layer sha256:", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("digest mismatch", result.Stderr, StringComparison.Ordinal);
        AssertNotCached(layout);
    }

    [Fact]
    public void UnknownLayerMediaType_IsNamedInTheError()
    {
        var layout = _fn.Layout("zstd").BusyboxLayer()
            .Layer(w => OciLayout.AddFile(w, "x", "x"), mediaType: "application/vnd.oci.image.layer.v1.tar+zstd")
            .Write();

        var result = _fn.Run("--image", "oci:" + layout.Dir, "--", "true");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("media type \"application/vnd.oci.image.layer.v1.tar+zstd\" is not supported", result.Stderr, StringComparison.Ordinal);
        AssertNotCached(layout);
    }

    [Fact]
    public void ImageUserNotInPasswd_IsAClearError()
    {
        var layout = _fn.Layout("ghost").BusyboxLayer().Write(new JsonObject { ["User"] = "ghost", ["Cmd"] = new JsonArray("true") });

        var result = _fn.Run("--image", "oci:" + layout.Dir);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no user \"ghost\" in the image's /etc/passwd", result.Stderr, StringComparison.Ordinal);
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void ReferenceNamingNoImage_AndMissingRootfs_AreClearErrors()
    {
        var noTag = _fn.Run("--image", _fn.BusyboxImage + ":no-such-tag", "--", "true");
        var noLayout = _fn.Run("--image", "oci:" + Path.Combine(_fn.Work, "nothing-here"), "--", "true");
        var noArchive = _fn.Run("--image", "oci-archive:" + Path.Combine(_fn.Work, "nothing.tar"), "--", "true");
        var noRootfs = _fn.Run("--rootfs", Path.Combine(_fn.Work, "no-rootfs"), "--", "true");
        var badTransport = _fn.Run("--image", "docker://busybox", "--", "true");

        Assert.Equal(1, noTag.ExitCode);
        Assert.Contains("no image tagged \"no-such-tag\"", noTag.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, noLayout.ExitCode);
        Assert.Contains("no such directory", noLayout.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, noArchive.ExitCode);
        Assert.Contains("no such file", noArchive.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, noRootfs.ExitCode);
        Assert.Contains("no-rootfs: no such directory", noRootfs.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, badTransport.ExitCode);
        Assert.Contains("expected oci:DIR[:TAG] or oci-archive:FILE[:TAG]", badTransport.Stderr, StringComparison.Ordinal);
        _fn.AssertNothingLeft();
    }

    [Fact]
    public void ConcurrentRunsOfOneImage_AllSucceed_AndShareOneCacheEntry()
    {
        var runs = Enumerable.Range(0, 4)
            .Select(i => Task.Run(() => _fn.Run("--image", _fn.BusyboxImage, "--", "echo", "run" + i)))
            .ToArray();
        Task.WaitAll(runs, FnHarness.Timeout * 2);

        for (var i = 0; i < runs.Length; i++)
        {
            Assert.True(runs[i].Result.Succeeded, runs[i].Result.ToString());
            Assert.Equal($"run{i}\n", runs[i].Result.Stdout);
        }
        var entries = Directory.GetDirectories(Path.Combine(_fn.Cache, "images"));
        Assert.Single(entries);
        Assert.False(entries[0].EndsWith(".tmp", StringComparison.Ordinal));
        _fn.AssertNothingLeft();
    }
}
