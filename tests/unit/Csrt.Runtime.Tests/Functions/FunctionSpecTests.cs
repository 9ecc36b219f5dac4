using Csrt.Runtime.Errors;
using Csrt.Runtime.Functions;
using Csrt.Runtime.Images;
using Csrt.Runtime.Security;
using Xunit;

namespace Csrt.Runtime.Tests.Functions;

public sealed class FunctionSpecTests
{
    private static FunctionRequest Request(IReadOnlyList<string> caller, OciRunConfig? image = null, IReadOnlyList<string>? env = null, bool clear = false) => new()
    {
        Rootfs = "/nonexistent",
        Image = image,
        CallerEnv = caller,
        Env = env ?? [],
        EnvClear = clear,
    };

    [Fact]
    public void Environment_IsCallerMinusTmpdir_ThenImageEnv_ThenFlags_LaterValuesReplacingInPlace()
    {
        var env = FunctionSpec.Environment(Request(
            ["HOME=/root", "TMPDIR=/tmp/caller", "PATH=/host/bin", "A=caller"],
            new OciRunConfig { Env = ["PATH=/bin", "B=image"] },
            ["A=flag", "C=flag"]));

        Assert.Equal(["HOME=/root", "PATH=/bin", "A=flag", "B=image", "C=flag"], env);
    }

    [Fact]
    public void EnvClear_DropsTheCallersEnvironment_AndAPathIsAlwaysThere()
    {
        var env = FunctionSpec.Environment(Request(["HOME=/root", "A=caller"], clear: true));

        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], env);
    }

    [Fact]
    public void AnEnvFlagWithoutEquals_IsRefusedByName()
    {
        var e = Assert.ThrowsAny<CsrtException>(() => FunctionSpec.Environment(Request([], env: ["NOVALUE"])));
        Assert.Contains("--env \"NOVALUE\"", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1024", 1024L)]
    [InlineData("64m", 64L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("512k", 512L << 10)]
    [InlineData("2MB", 2L << 20)]
    public void Sizes_AreBytesOrPowersOf1024(string text, long bytes) => Assert.Equal(bytes, FunctionSpec.ParseSize(text, "--memory"));

    [Theory]
    [InlineData("30", 30_000)]
    [InlineData("30s", 30_000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("1.5s", 1_500)]
    public void Durations_AreSecondsOrSuffixed(string text, int ms) => Assert.Equal(TimeSpan.FromMilliseconds(ms), FunctionSpec.ParseDuration(text, "--timeout"));

    [Theory]
    [InlineData("0")]
    [InlineData("-1s")]
    [InlineData("soon")]
    public void BadDurations_AreRefusedByName(string text) =>
        Assert.Contains("--timeout", Assert.ThrowsAny<CsrtException>(() => FunctionSpec.ParseDuration(text, "--timeout")).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("/tmp:relative")]
    [InlineData("/tmp")]
    [InlineData("/tmp:/in:rx")]
    [InlineData(":/in")]
    public void BadMounts_AreRefusedByName(string text) =>
        Assert.Contains("--mount", Assert.ThrowsAny<CsrtException>(() => FunctionSpec.ParseMount(text)).Message, StringComparison.Ordinal);

    [Fact]
    public void Mounts_ReadOnlyWithRo()
    {
        Assert.Equal(new FunctionMount("/tmp", "/in", true), FunctionSpec.ParseMount("/tmp:/in:ro"));
        Assert.Equal(new FunctionMount("/tmp", "/in", false), FunctionSpec.ParseMount("/tmp:/in"));
    }

    [Fact]
    public void DefaultSeccompProfile_CompilesWithLibseccomp_DeniesByDefault_AndFailsClone3WithEnosys()
    {
        var profile = DefaultSeccompProfile.Create();

        Assert.Equal("SCMP_ACT_ERRNO", profile.DefaultAction);
        Assert.Contains(profile.Syscalls!, s => s.Names.SequenceEqual(["clone3"]) && s.Action == "SCMP_ACT_ERRNO" && s.ErrnoRet == 38);
        Assert.DoesNotContain(profile.Syscalls!, s => s.Action == "SCMP_ACT_ALLOW" && s.Names.Contains("unshare"));
        Assert.DoesNotContain(profile.Syscalls!, s => s.Action == "SCMP_ACT_ALLOW" && s.Names.Contains("mount"));
        var compiled = SeccompProfileCompiler.Compile(profile);
        Assert.True(compiled.Program.Length > 8 * 100, "a profile of some 370 calls compiles to hundreds of BPF instructions");
    }
}
