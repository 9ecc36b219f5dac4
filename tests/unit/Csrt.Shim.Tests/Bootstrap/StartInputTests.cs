using Containerd.Runtime.Bootstrap.V1;
using Csrt.Shim.Bootstrap;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Xunit;
using Extension = Containerd.Runtime.Bootstrap.V1.Extension;
using RuntimeOptions = Containerd.RuntimeOptions.V1.Options;

namespace Csrt.Shim.Tests.Bootstrap;

// The stdin of `start` in its three forms (facts sheet §1.3) and the BootstrapParams values a
// shim cannot use.
public sealed class StartInputTests
{
    private const string Id = "pod1";
    private const string Ns = "k8s.io";

    private static Any CriOptions() => new()
    {
        TypeUrl = "runtimeoptions.v1.Options",
        Value = new RuntimeOptions { ConfigBody = ByteString.CopyFromUtf8("Root = '/run/csrt-options-test'\n") }.ToByteString(),
    };

    private static BootstrapParams Params23() => new()
    {
        InstanceId = Id,
        Namespace = Ns,
        LogLevel = LogLevel.Info,
        ContainerdVersion = "2.3.4",
        ContainerdTtrpcAddress = "/run/containerd/containerd.sock.ttrpc",
        ContainerdGrpcAddress = "/run/containerd/containerd.sock",
        ContainerdBinary = "/usr/bin/containerd",
    };

    private static InvalidDataException Refused(IMessage message) =>
        Assert.Throws<InvalidDataException>(() => StartInput.Parse(message.ToByteArray(), Id, Ns));

    [Fact]
    public void EmptyStdinMeansNoOptionsAndTheDefaultSocketDirectory()
    {
        var input = StartInput.Parse([], Id, Ns);
        Assert.Null(input.Params);
        Assert.Null(input.Options);
        Assert.Equal("/run/containerd/s", input.SocketDirectory);
    }

    [Fact]
    public void LegacyOptionsAnyIsTakenAsTheOptions()
    {
        var input = StartInput.Parse(CriOptions().ToByteArray(), Id, Ns);
        Assert.Null(input.Params);
        Assert.Equal(CriOptions(), input.Options);
        Assert.Equal("/run/containerd/s", input.SocketDirectory);
    }

    [Fact]
    public void BootstrapParamsForThisShimGiveTheSocketDirectoryAndTheOptionsExtension()
    {
        var p = Params23();
        p.SocketDir = "/run/ctd/s";
        p.Extensions.Add(new Extension { Value = new Any { TypeUrl = "containerd.io/nri.v1.PluginConfig", Value = ByteString.CopyFromUtf8("x") } });
        p.Extensions.Add(new Extension { Value = CriOptions() });
        var input = StartInput.Parse(p.ToByteArray(), Id, Ns);
        Assert.Equal(p, input.Params);
        Assert.Equal(CriOptions(), input.Options);
        Assert.Equal("/run/ctd/s", input.SocketDirectory);
        Assert.False(input.Debug);
    }

    [Fact]
    public void BootstrapParamsWithoutSocketDirUseTheDefaultDirectory() =>
        Assert.Equal("/run/containerd/s", StartInput.Parse(Params23().ToByteArray(), Id, Ns).SocketDirectory);

    [Theory]
    [InlineData(LogLevel.Debug, true)]
    [InlineData(LogLevel.Trace, true)]
    [InlineData(LogLevel.Warn, false)]
    public void DebugAndTraceLogLevelsTurnDebugOn(LogLevel level, bool debug)
    {
        var p = Params23();
        p.LogLevel = level;
        Assert.Equal(debug, StartInput.Parse(p.ToByteArray(), Id, Ns).Debug);
    }

    // A legacy Any parses as a BootstrapParams too (type_url in field 1, value in field 2): it
    // must not be mistaken for one, nor refused.
    [Fact]
    public void AnAnyThatParsesAsBootstrapParamsStaysTheLegacyOptions()
    {
        var any = new Any { TypeUrl = "containerd.runc.v1.Options", Value = new Containerd.Runc.V1.Options { NoNewKeyring = true }.ToByteString() };
        Assert.Equal("containerd.runc.v1.Options", BootstrapParams.Parser.ParseFrom(any.ToByteArray()).InstanceId);
        var input = StartInput.Parse(any.ToByteArray(), Id, Ns);
        Assert.Null(input.Params);
        Assert.Equal(any, input.Options);
    }

    [Fact]
    public void BytesThatAreNotProtobufAreRefusedNamingBothForms()
    {
        var e = Assert.Throws<InvalidDataException>(() => StartInput.Parse("not protobuf at all\n"u8, Id, Ns));
        Assert.Contains("BootstrapParams", e.Message, StringComparison.Ordinal);
        Assert.Contains("google.protobuf.Any", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NamespaceOtherThanTheCommandLinesIsRefused()
    {
        var p = Params23();
        p.Namespace = "default";
        Assert.Contains("BootstrapParams.namespace \"default\"", Refused(p).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BootstrapParamsForAnotherInstanceAreRefused()
    {
        var p = Params23();
        p.InstanceId = "other";
        Assert.Contains("BootstrapParams.instance_id \"other\"", Refused(p).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run/ctd/s", "is not an absolute path")]
    [InlineData("/run/a-socket-directory-much-too-long-for-sun-path", "longer than 42 bytes")]
    public void UnusableSocketDirIsRefused(string dir, string reason)
    {
        var p = Params23();
        p.SocketDir = dir;
        var message = Refused(p).Message;
        Assert.Contains("BootstrapParams.socket_dir", message, StringComparison.Ordinal);
        Assert.Contains(reason, message, StringComparison.Ordinal);
    }

    [Fact]
    public void SocketDirOfFortyTwoBytesFitsSunPath()
    {
        var p = Params23();
        p.SocketDir = "/" + new string('d', 41);
        var input = StartInput.Parse(p.ToByteArray(), Id, Ns);
        Assert.Equal(107, ShimPaths.SocketAddress(input.SocketDirectory, "/run/containerd/containerd.sock", Ns, Id).Length - "unix://".Length);
    }

    [Fact]
    public void OptionsExtensionThatDoesNotDecodeIsRefusedNamingTheExtension()
    {
        var p = Params23();
        p.Extensions.Add(new Extension { Value = new Any { TypeUrl = "containerd.runc.v1.Options", Value = ByteString.CopyFrom(0xff, 0xff) } });
        Assert.Contains("BootstrapParams.extensions[0].value", Refused(p).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExtensionWithoutValueIsRefused()
    {
        var p = Params23();
        p.Extensions.Add(new Extension());
        Assert.Contains("BootstrapParams.extensions[0] has no value", Refused(p).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownLogLevelIsRefused()
    {
        var p = Params23();
        p.LogLevel = (LogLevel)3;
        Assert.Contains("BootstrapParams.log_level 3", Refused(p).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShimSocketAddressesAreRecognisedInAnyDirectory()
    {
        Assert.True(ShimPaths.IsShimSocketAddress(ShimPaths.SocketAddress("/run/ctd/s", "/a.sock", Ns, Id)));
        Assert.True(ShimPaths.IsShimSocketAddress(ShimPaths.SocketAddress("/a.sock", Ns, Id)));
        Assert.False(ShimPaths.IsShimSocketAddress("unix:///run/containerd/containerd.sock"));
        Assert.False(ShimPaths.IsShimSocketAddress("/run/containerd/s/" + new string('a', 64)));
    }
}
