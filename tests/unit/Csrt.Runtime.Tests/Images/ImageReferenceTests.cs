using Csrt.Runtime.Errors;
using Csrt.Runtime.Images;
using Xunit;

namespace Csrt.Runtime.Tests.Images;

public sealed class ImageReferenceTests
{
    [Fact]
    public void Transports_PathAndTag_AreSplitAtTheLastColon()
    {
        Assert.Equal(new ImageReference(false, "/layouts/app", "v1"), ImageReference.Parse("oci:/layouts/app:v1"));
        Assert.Equal(new ImageReference(true, "/images/app.tar", null), ImageReference.Parse("oci-archive:/images/app.tar"));
        Assert.Equal(new ImageReference(true, "/images/a:b.tar", "latest"), ImageReference.Parse("oci-archive:/images/a:b.tar:latest"));
    }

    [Fact]
    public void AnExistingPathWithAColon_IsThePath_NotAPathAndATag()
    {
        var dir = Path.Combine(Path.GetTempPath(), "csrt-ref-" + Guid.NewGuid().ToString("N") + ":x");
        Directory.CreateDirectory(dir);
        try
        {
            Assert.Equal(new ImageReference(false, dir, null), ImageReference.Parse("oci:" + dir));
        }
        finally
        {
            Directory.Delete(dir);
        }
    }

    [Theory]
    [InlineData("docker://busybox")]
    [InlineData("busybox:latest")]
    [InlineData("oci:")]
    [InlineData("oci-archive:/x.tar:")]
    public void OtherForms_AreRefused_NamingTheExpectedOnes(string text)
    {
        var e = Assert.ThrowsAny<CsrtException>(() => ImageReference.Parse(text));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains(text, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true)]
    [InlineData("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", false)]
    [InlineData("sha256:../../../../etc/passwd", false)]
    [InlineData("md5:0123456789abcdef0123456789abcdef", false)]
    [InlineData("sha256:0123", false)]
    public void Digests_AreCheckedBeforeTheyNameAFile(string text, bool valid)
    {
        if (valid)
            Assert.Equal(text, Digest.Parse(text, "blob").ToString());
        else
            Assert.Contains("is not a sha256 digest", Assert.ThrowsAny<CsrtException>(() => Digest.Parse(text, "blob")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Sha512Digests_AreRefusedByName()
    {
        var e = Assert.ThrowsAny<CsrtException>(() => Digest.Parse("sha512:" + new string('a', 128), "blob"));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("sha512 digests are not supported", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a/b", "a/b")]
    [InlineData("./a/./b/", "a/b")]
    [InlineData("/abs/path", "abs/path")]
    [InlineData("a/../b", "b")]
    [InlineData("./", "")]
    public void LayerEntryNames_AreCleanedToPathsUnderTheRoot(string name, string expected) =>
        Assert.Equal(expected, LayerUnpacker.CleanPath(name, "sha256:x"));

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("/../etc/passwd")]
    public void LayerEntryNamesClimbingAboveTheRoot_AreRefused(string name)
    {
        var e = Assert.ThrowsAny<CsrtException>(() => LayerUnpacker.CleanPath(name, "sha256:x"));
        Assert.Contains("escapes the root directory", e.Message, StringComparison.Ordinal);
        Assert.Contains("sha256:x", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("application/vnd.oci.image.layer.v1.tar+gzip", true)]
    [InlineData("application/vnd.docker.image.rootfs.diff.tar.gzip", true)]
    [InlineData("application/vnd.oci.image.layer.v1.tar", false)]
    public void LayerMediaTypes_GzipOrPlainTar(string type, bool gzip) => Assert.Equal(gzip, MediaTypes.LayerIsGzip(type, "sha256:x"));

    [Fact]
    public void OtherLayerMediaTypes_AreUnsupported_NamingTheType()
    {
        var e = Assert.ThrowsAny<CsrtException>(() => MediaTypes.LayerIsGzip("application/vnd.oci.image.layer.v1.tar+zstd", "sha256:x"));
        Assert.Equal(ErrorKind.Unsupported, e.Kind);
        Assert.Contains("application/vnd.oci.image.layer.v1.tar+zstd", e.Message, StringComparison.Ordinal);
    }
}
