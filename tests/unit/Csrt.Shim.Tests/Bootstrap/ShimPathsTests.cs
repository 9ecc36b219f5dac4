using System.Security.Cryptography;
using System.Text;
using Csrt.Shim.Bootstrap;
using Xunit;

namespace Csrt.Shim.Tests.Bootstrap;

/// <summary>
/// The shim socket address, computed as the runc shim does (runtime/v2/shim/util_unix.go
/// SocketAddress): unix:///run/containerd/s/ + hex sha256 of filepath.Join(address, ns, id).
/// </summary>
public sealed class ShimPathsTests
{
    /// <summary>Expected hashes computed outside .NET: printf '%s' '&lt;text&gt;' | sha256sum.</summary>
    [Theory]
    [InlineData("/run/containerd/containerd.sock", "k8s.io", "3f1b2c", "b302abb758e8d53a14f997e23568378b1b35d545e788404166a288f05d812e1e")]
    [InlineData("/run/containerd/containerd.sock", "default", "ctr-task", "699427766ac5e0c5a14b52bcb38f4ec95ffdf517aa2d1f150e39d87e49d12478")]
    public void SocketAddress_IsTheSha256OfAddressNamespaceAndGroup_AsTheRuncShimComputesIt(string address, string ns, string group, string sha256)
    {
        Assert.Equal("unix:///run/containerd/s/" + sha256, ShimPaths.SocketAddress(address, ns, group));
    }

    [Fact]
    public void SocketAddress_OfAPodId_MatchesAnIndependentSha256()
    {
        var pod = new string('a', 64);
        Assert.Equal("unix:///run/containerd/s/61dd9e019377734ec010e66fde246706565c3b3bf18dcf2bed4dcf006ab0b583",
            ShimPaths.SocketAddress("/run/csrt-test/ctd0/c.sock", "k8s.io", pod));
        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("/run/csrt-test/ctd0/c.sock/k8s.io/" + pod)));
        Assert.Equal("unix:///run/containerd/s/" + expected, ShimPaths.SocketAddress("/run/csrt-test/ctd0/c.sock", "k8s.io", pod));
    }

    [Fact]
    public void SocketAddress_HashesLongInputs()
    {
        Assert.Equal("unix:///run/containerd/s/a2a936a5b30c2071777d92264dbaeaafe590a482028bf3c966db6a0e86fc13a7",
            ShimPaths.SocketAddress("/run/containerd/containerd.sock", "k8s.io", new string('x', 1000)));
    }

    [Fact]
    public void SocketAddress_JoinsLikeGoFilepathJoin_ATrailingSlashOnTheAddressAddsNoSecondOne()
    {
        Assert.Equal(ShimPaths.SocketAddress("/run/containerd/containerd.sock", "k8s.io", "3f1b2c"),
            ShimPaths.SocketAddress("/run/containerd/containerd.sock/", "k8s.io", "3f1b2c"));
    }

    [Fact]
    public void SocketAddress_FitsInSunPath()
    {
        var path = ShimPaths.SocketAddress("/run/containerd/containerd.sock", "k8s.io", new string('f', 64))["unix://".Length..];
        Assert.Equal(82, path.Length);
    }

    [Fact]
    public void RuntimeRoot_IsPerNamespaceUnderRunContainerdCsrt()
    {
        Assert.Equal("/run/containerd/csrt/k8s.io", ShimPaths.RuntimeRoot("k8s.io"));
        Assert.Equal("/run/containerd/csrt/default", ShimPaths.RuntimeRoot("default"));
    }

    [Theory]
    [InlineData("unix:///run/containerd/s/699427766ac5e0c5a14b52bcb38f4ec95ffdf517aa2d1f150e39d87e49d12478\n", "/run/containerd/s/699427766ac5e0c5a14b52bcb38f4ec95ffdf517aa2d1f150e39d87e49d12478")]
    [InlineData("unix:///var/lib/sockets/699427766ac5e0c5a14b52bcb38f4ec95ffdf517aa2d1f150e39d87e49d12478", "/var/lib/sockets/699427766ac5e0c5a14b52bcb38f4ec95ffdf517aa2d1f150e39d87e49d12478")]
    [InlineData("unix:///etc/passwd", null)]
    [InlineData("/run/containerd/s/699427766ac5e0c5a14b52bcb38f4ec95ffdf517aa2d1f150e39d87e49d12478", null)]
    public void SocketNamedIn_GivesOnlyAShimSocketPath(string content, string? expected)
    {
        var dir = Directory.CreateTempSubdirectory("csrt-address-");
        try
        {
            var file = Path.Combine(dir.FullName, "address");
            Assert.Null(ShimPaths.SocketNamedIn(file));
            File.WriteAllText(file, content);
            Assert.Equal(expected, ShimPaths.SocketNamedIn(file));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
