using System.Text.Json.Nodes;
using Containerd;
using Csrt.Runtime.Features;
using Csrt.Shim.Bootstrap;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Xunit;

namespace Csrt.Shim.Tests.Bootstrap;

// The RuntimeInfo of `-info` (facts sheet §2.1); the binary's stdin/stdout are tested in
// tests/integration/.../Shim/ShimInfoTests.
public sealed class InfoCommandTests
{
    [Fact]
    public void WithoutOptionsItNamesTheRuntimeAndCarriesTheFeaturesAsJson()
    {
        var info = InfoCommand.Build([]);
        Assert.Equal("io.containerd.csrt.v2", info.Name);
        Assert.Equal(Csrt.Runtime.BuildInfo.Version, info.Version.Version);
        Assert.Null(info.Options);
        Assert.Equal("types.containerd.io/opencontainers/runtime-spec/1/features/Features", info.Features.TypeUrl);
        var features = JsonNode.Parse(info.Features.Value.ToStringUtf8())!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(FeaturesJson.Serialize(FeaturesDocument.Create())), features));
        Assert.NotNull(features["linux"]);
    }

    [Fact]
    public void OptionsAreEchoedByteForByte()
    {
        var options = new Any
        {
            TypeUrl = "runtimeoptions.v1.Options",
            Value = new Containerd.RuntimeOptions.V1.Options { ConfigBody = ByteString.CopyFromUtf8("SystemdCgroup = true\n") }.ToByteString(),
        };
        var info = InfoCommand.Build(options.ToByteArray());
        Assert.Equal(options.ToByteString(), info.Options.ToByteString());
    }

    [Fact]
    public void GarbageIsRefusedSayingWhatWasExpected()
    {
        var e = Assert.Throws<InvalidDataException>(() => InfoCommand.Build("garbage\n"u8));
        Assert.Contains("not a google.protobuf.Any of runtime options", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RuncOptionsThatDoNotDecodeAreRefused()
    {
        var bad = new Any { TypeUrl = "containerd.runc.v1.Options", Value = ByteString.CopyFrom(0xff, 0xff) };
        var e = Assert.Throws<InvalidDataException>(() => InfoCommand.Build(bad.ToByteArray()));
        Assert.Contains("containerd.runc.v1.Options does not decode", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FeaturesTypeUrlIsContainerdsRegisteredName() =>
        Assert.Equal("types.containerd.io/opencontainers/runtime-spec/1/features/Features", TypeUrls.OciFeatures);
}
