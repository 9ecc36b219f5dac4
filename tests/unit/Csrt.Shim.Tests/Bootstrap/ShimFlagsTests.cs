using Csrt.Shim.Bootstrap;
using Xunit;

namespace Csrt.Shim.Tests.Bootstrap;

/// <summary>The shim's command line as containerd builds it (protocol doc §1.3, §1.5, §1.6), parsed with Go's flag rules.</summary>
public sealed class ShimFlagsTests
{
    [Fact]
    public void TheStartCommandLineOfContainerd16_GivesEveryValueAndTheStartAction()
    {
        var f = ShimFlags.Parse(["-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", "3f1b2c", "start"]);
        Assert.Equal("k8s.io", f.Namespace);
        Assert.Equal("/run/containerd/containerd.sock", f.Address);
        Assert.Equal("/usr/bin/containerd", f.PublishBinary);
        Assert.Equal("3f1b2c", f.Id);
        Assert.Equal("start", f.Action);
        Assert.False(f.Debug);
        Assert.False(f.Version);
    }

    [Fact]
    public void TheDeleteCommandLineWithDebug_GivesTheBundleAndTheDeleteAction()
    {
        var f = ShimFlags.Parse(["-namespace", "default", "-address", "/a.sock", "-publish-binary", "/usr/bin/containerd", "-id", "c1", "-bundle", "/run/b/c1", "-debug", "delete"]);
        Assert.Equal("/run/b/c1", f.Bundle);
        Assert.True(f.Debug);
        Assert.Equal("delete", f.Action);
    }

    [Fact]
    public void NoActionWord_MeansServe()
    {
        var f = ShimFlags.Parse(["-namespace", "default", "-id", "c1", "-address", "/a.sock", "-debug"]);
        Assert.Equal("", f.Action);
        Assert.True(f.Debug);
    }

    [Fact]
    public void OneOrTwoDashes_AndValuesAfterAnEqualsSign_AreAccepted()
    {
        var f = ShimFlags.Parse(["--namespace=ns1", "-id=x", "--address", "/a.sock", "-socket=unix:///run/s.sock", "--debug-socket", "/d.sock"]);
        Assert.Equal("ns1", f.Namespace);
        Assert.Equal("x", f.Id);
        Assert.Equal("/a.sock", f.Address);
        Assert.Equal("unix:///run/s.sock", f.Socket);
        Assert.Equal("/d.sock", f.DebugSocket);
    }

    [Fact]
    public void AnEmptyValueAfterEquals_IsAnEmptyValue()
    {
        Assert.Equal("", ShimFlags.Parse(["-namespace=", "start"]).Namespace);
    }

    [Fact]
    public void AValueMayStartWithADash_WhenItIsTheNextArgument()
    {
        Assert.Equal("-odd", ShimFlags.Parse(["-id", "-odd", "start"]).Id);
    }

    [Theory]
    [InlineData("-debug=true", true)]
    [InlineData("-debug=1", true)]
    [InlineData("-debug=t", true)]
    [InlineData("-debug=TRUE", true)]
    [InlineData("-debug=false", false)]
    [InlineData("-debug=0", false)]
    [InlineData("-debug=F", false)]
    [InlineData("--debug", true)]
    public void BooleansTakeNoValue_OrAGoBooleanAfterEquals(string arg, bool expected)
    {
        var f = ShimFlags.Parse([arg, "start"]);
        Assert.Equal(expected, f.Debug);
        Assert.Equal("start", f.Action);
    }

    [Fact]
    public void ABooleanNeverConsumesTheNextArgument()
    {
        var f = ShimFlags.Parse(["-debug", "false"]);
        Assert.True(f.Debug);
        Assert.Equal("false", f.Action);
    }

    [Fact]
    public void AnInvalidBooleanValue_IsAnError()
    {
        var e = Assert.Throws<ArgumentException>(() => ShimFlags.Parse(["-debug=maybe", "start"]));
        Assert.Contains("invalid boolean value \"maybe\" for -debug", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-v")]
    [InlineData("--v")]
    [InlineData("-version")]
    public void VersionFlags_SetVersion(string arg) => Assert.True(ShimFlags.Parse([arg]).Version);

    [Fact]
    public void InfoFlag_OfContainerd2_IsUnderstood() => Assert.True(ShimFlags.Parse(["-info"]).Info);

    [Fact]
    public void AFlagWithoutItsValue_IsAnError()
    {
        var e = Assert.Throws<ArgumentException>(() => ShimFlags.Parse(["-namespace", "ns", "-id"]));
        Assert.Equal("flag needs an argument: -id", e.Message);
    }

    [Fact]
    public void AnUnknownFlag_IsAnError()
    {
        var e = Assert.Throws<ArgumentException>(() => ShimFlags.Parse(["-namespace", "ns", "-frobnicate", "1", "start"]));
        Assert.Equal("flag provided but not defined: -frobnicate", e.Message);
    }

    [Theory]
    [InlineData("---id")]
    [InlineData("-=x")]
    [InlineData("--=x")]
    public void BadFlagSyntax_IsAnError(string arg)
    {
        var e = Assert.Throws<ArgumentException>(() => ShimFlags.Parse([arg, "start"]));
        Assert.StartsWith("bad flag syntax: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DoubleDash_EndsTheFlags_TheNextArgumentIsTheAction()
    {
        var f = ShimFlags.Parse(["-namespace", "ns", "--", "-delete"]);
        Assert.Equal("ns", f.Namespace);
        Assert.Equal("-delete", f.Action);
    }

    [Fact]
    public void ASingleDash_IsAnArgumentNotAFlag()
    {
        Assert.Equal("-", ShimFlags.Parse(["-namespace", "ns", "-"]).Action);
    }

    [Fact]
    public void FlagsAfterTheAction_AreNotParsed()
    {
        var f = ShimFlags.Parse(["-namespace", "ns", "start", "-id", "late"]);
        Assert.Equal("start", f.Action);
        Assert.Equal("", f.Id);
    }

    [Fact]
    public void TheLastOccurrenceOfAFlag_Wins()
    {
        Assert.Equal("b", ShimFlags.Parse(["-id", "a", "-id", "b"]).Id);
    }
}
