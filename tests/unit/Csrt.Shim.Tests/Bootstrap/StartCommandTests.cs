using System.Security.Cryptography;
using System.Text;
using Csrt.Shim.Bootstrap;
using Xunit;

namespace Csrt.Shim.Tests.Bootstrap;

// `start` avoids OpenSSL and the spec model: csrt's own SHA-256 names the socket and a JSON scan
// finds the grouping annotations. Both must agree with what they replace.
public sealed class StartCommandTests
{
    [Fact]
    public void SocketAddressIsTheRuncShimsHashOfAddressNamespaceAndGroup()
    {
        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("/run/containerd/containerd.sock/k8s.io/pod1")));
        Assert.Equal("unix:///run/containerd/s/" + expected, ShimPaths.SocketAddress("/run/containerd/containerd.sock", "k8s.io", "pod1"));
    }

    [Fact]
    public void GroupAnnotationPrefersTheExplicitGroupOverTheSandboxId()
    {
        var json = """
            {"ociVersion":"1.0.2","process":{"args":["sh"],"env":["A=1"]},"root":{"path":"rootfs"},
             "annotations":{"io.kubernetes.cri.sandbox-id":"sandbox1","io.containerd.csrt.v2.group":"group1"},
             "linux":{"namespaces":[{"type":"pid"}]}}
            """u8;
        Assert.Equal("group1", StartCommand.GroupAnnotation(json));
    }

    [Fact]
    public void GroupAnnotationFindsTheSandboxIdAfterNestedObjectsAndBom()
    {
        var json = Encoding.UTF8.GetPreamble().Concat("""
            {"process":{"user":{"uid":0},"annotations":{"io.kubernetes.cri.sandbox-id":"not-this"}},
             "mounts":[{"destination":"/proc","options":["a","b"]}],
             "annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"pod-abc","n":1}}
            """u8.ToArray()).ToArray();
        Assert.Equal("pod-abc", StartCommand.GroupAnnotation(json));
    }

    [Theory]
    [InlineData("""{"annotations":{"io.kubernetes.cri.sandbox-id":""}}""")]
    [InlineData("""{"annotations":{}}""")]
    [InlineData("""{"process":{}}""")]
    [InlineData("""{"annotations":{"io.kubernetes.cri.sandbox-id":"x" """)]
    [InlineData("[]")]
    [InlineData("")]
    public void GroupAnnotationIsNullOrEmptyWithoutAUsableAnnotation(string json) =>
        Assert.True(string.IsNullOrEmpty(StartCommand.GroupAnnotation(Encoding.UTF8.GetBytes(json))));
}
