using Csrt.Shim.Bootstrap;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Xunit;
using RuncOptions = Containerd.Runc.V1.Options;
using RuntimeOptions = Containerd.RuntimeOptions.V1.Options;

namespace Csrt.Shim.Tests.Bootstrap;

// The runtime options containerd sends (runc's Options, or CRI's runtimeoptions with the handler's
// [options] table as TOML) decoded into csrt's settings, and what is refused.
public sealed class ShimOptionsTests
{
    private const string Ns = "k8s.io";

    private static Any Runc(RuncOptions o) => new() { TypeUrl = "containerd.runc.v1.Options", Value = o.ToByteString() };

    private static Any Cri(string toml) => new()
    {
        TypeUrl = "runtimeoptions.v1.Options",
        Value = new RuntimeOptions { ConfigBody = ByteString.CopyFromUtf8(toml) }.ToByteString(),
    };

    private static ShimOptions Decode(Any any) => ShimOptions.Decode(any, "test");

    [Fact]
    public void RuncOptionsAndTheSameTomlGiveTheSameSettings()
    {
        var fromRunc = Decode(Runc(new RuncOptions
        {
            Root = "/var/run/csrt-alt", IoUid = 1000, IoGid = 1001, NoPivotRoot = true, NoNewKeyring = true, BinaryName = "runc",
        }));
        // go-toml v2 writes literal strings and sorts the keys.
        var fromToml = Decode(Cri("BinaryName = 'runc'\nIoGid = 1001\nIoUid = 1000\nNoNewKeyring = true\nNoPivotRoot = true\nRoot = '/var/run/csrt-alt'\n"));
        Assert.Equal(fromRunc, fromToml);
        Assert.Equal("/var/run/csrt-alt", fromToml.Root);
        Assert.Equal(1000u, fromToml.IoUid);
        Assert.Equal(1001u, fromToml.IoGid);
        Assert.True(fromToml.NoPivotRoot);
        Assert.True(fromToml.NoNewKeyring);
    }

    [Fact]
    public void TomlAcceptsBasicStringsCommentsQuotedKeysAndAnyKeyCase()
    {
        var o = Decode(Cri("# csrt\r\n\"root\" = \"/run/a\\\\b\" # the state root\r\n\r\nioUID = 1_000\nTypeUrl = ''\n"));
        Assert.Equal("/run/a\\b", o.Root);
        Assert.Equal(1000u, o.IoUid);
    }

    [Fact]
    public void TheStateRootIsTheRootJoinedWithTheNamespaceOrCsrtsDefault()
    {
        Assert.Equal("/var/run/csrt-alt/k8s.io", Decode(Cri("Root = '/var/run/csrt-alt'")).RuntimeRoot(Ns));
        Assert.Equal("/run/containerd/csrt/k8s.io", Decode(Cri("")).RuntimeRoot(Ns));
        Assert.Equal("/run/containerd/csrt/k8s.io", ShimOptions.Decode(null, "test").RuntimeRoot(Ns));
    }

    [Fact]
    public void ConfigPathIsReadWhenThereIsNoConfigBody()
    {
        var path = Path.Combine(Path.GetTempPath(), $"csrt-options-{Guid.NewGuid():N}.toml");
        File.WriteAllText(path, "IoUid = 7\nIoGid = 8\n");
        try
        {
            var any = new Any { TypeUrl = "runtimeoptions.v1.Options", Value = new RuntimeOptions { ConfigPath = path }.ToByteString() };
            var o = Decode(any);
            Assert.Equal(7u, o.IoUid);
            Assert.Equal(8u, o.IoGid);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AMissingConfigPathIsRefusedNamingThePath()
    {
        var any = new Any { TypeUrl = "runtimeoptions.v1.Options", Value = new RuntimeOptions { ConfigPath = "/nonexistent/csrt.toml" }.ToByteString() };
        var e = Assert.Throws<InvalidDataException>(() => Decode(any));
        Assert.Contains("config_path /nonexistent/csrt.toml", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SystemdCgroupIsReadFromEitherForm()
    {
        var runc = Decode(Runc(new RuncOptions { SystemdCgroup = true }));
        Assert.True(runc.SystemdCgroup);
        Assert.True(Decode(Cri("SystemdCgroup = true\n")).SystemdCgroup);
        Assert.False(Decode(Cri("SystemdCgroup = false\n")).SystemdCgroup);
    }

    [Theory]
    [InlineData("Rootless = true\n", "line 1: unknown option Rootless")]
    [InlineData("[options]\nRoot = '/x'\n", "line 1: expected key = value")]
    [InlineData("IoUid = -1\n", "line 1: IoUid must be an integer from 0 to 4294967295, got -1")]
    [InlineData("IoUid = 4294967296\n", "IoUid must be an integer")]
    [InlineData("NoPivotRoot = yes\n", "NoPivotRoot must be true or false, got yes")]
    [InlineData("Root = /x\n", "Root must be a string, got /x")]
    [InlineData("Root = '/x\n", "unterminated string")]
    [InlineData("\nRoot = '/x'\nroot = '/y'\n", "line 3: key root given twice")]
    [InlineData("Root = ['/x']\n", "Root must be a string")]
    public void TomlThatIsNotCsrtsSettingsIsRefusedNamingTheLineAndKey(string toml, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => Decode(Cri(toml)));
        Assert.Contains("test: runtimeoptions.v1.Options.config_body", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ARelativeRootIsRefused()
    {
        var e = Assert.Throws<InvalidDataException>(() => Decode(Cri("Root = 'relative'\n")));
        Assert.Equal("test: Root \"relative\" is not an absolute path", e.Message);
    }

    [Fact]
    public void UndecodableRuncOptionsAreRefusedNamingTheType()
    {
        var e = Assert.Throws<InvalidDataException>(() => Decode(new Any { TypeUrl = "containerd.runc.v1.Options", Value = ByteString.CopyFrom(0xff, 0xff) }));
        Assert.Contains("type containerd.runc.v1.Options does not decode", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OptionsOfOtherTypesOrWithoutTypeCarryNoSettings()
    {
        Assert.Same(ShimOptions.None, Decode(new Any { TypeUrl = "example.com/other.Options", Value = ByteString.CopyFrom(0xff) }));
        Assert.Same(ShimOptions.None, Decode(new Any()));
    }

    [Fact]
    public void SettingsWithoutEffectOnCsrtAreEachReportedAsIgnored_AndShimCgroupIsKept()
    {
        var o = Decode(Runc(new RuncOptions { BinaryName = "/usr/bin/runc", ShimCgroup = "/shims", CriuPath = "/usr/sbin/criu" }));
        var warnings = o.Ignored().ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("BinaryName \"/usr/bin/runc\" ignored", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("CriuPath", StringComparison.Ordinal));
        // ShimCgroup is applied by `start` (the daemon joins it), not ignored.
        Assert.Equal("/shims", o.ShimCgroup);
        Assert.DoesNotContain(warnings, w => w.Contains("ShimCgroup", StringComparison.Ordinal));
        Assert.Empty(Decode(Runc(new RuncOptions { Root = "/x", IoUid = 1 })).Ignored());
    }

    [Fact]
    public void ATaskWithoutOptionsKeepsTheShimsAndATaskWithOptionsUsesItsOwn()
    {
        var shim = Decode(Cri("Root = '/run/alt'\nIoUid = 5\n"));
        Assert.Same(shim, shim.ForTask(null, Ns));
        var task = shim.ForTask(Runc(new RuncOptions { Root = "/run/alt", IoUid = 6 }), Ns);
        Assert.Equal(6u, task.IoUid);
    }

    [Fact]
    public void ATaskNamingAnotherStateRootThanItsShimIsRefused()
    {
        var shim = Decode(Cri("Root = '/run/alt'\n"));
        var e = Assert.Throws<InvalidDataException>(() => shim.ForTask(Runc(new RuncOptions { Root = "/run/other" }), Ns));
        Assert.Contains("CreateTaskRequest.options: Root \"/run/other\" differs from the state root /run/alt/k8s.io", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AStateRootRecordedInTheBundleIsWhatDeleteFinds()
    {
        var bundle = Directory.CreateTempSubdirectory("csrt-bundle-").FullName;
        try
        {
            Assert.Equal("/run/containerd/csrt/k8s.io", ShimOptions.StateRootOf(bundle, Ns));
            ShimOptions.None.RecordStateRoot(bundle, Ns);
            Assert.False(File.Exists(Path.Combine(bundle, ShimOptions.StateRootFile)));
            Decode(Cri("Root = '/run/alt'\n")).RecordStateRoot(bundle, Ns);
            Assert.Equal("/run/alt/k8s.io", ShimOptions.StateRootOf(bundle, Ns));
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }
}
