using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// What the two binaries do before their command runs. The .NET runtime's start-up reads the whole
/// mount table to find its cgroup limits unless the link's fopen64 wrapper (csrt_startup.c) stops
/// it; that read costs more with every pod on the node.
/// </summary>
public sealed class StartupTests : IDisposable
{
    private readonly string _dir = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("startup"));

    public StartupTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string OpenedFiles(string binary, params string[] args)
    {
        var trace = Path.Combine(_dir, Path.GetFileName(binary) + ".trace");
        Commands.Run("strace", new[] { "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace, binary }.Concat(args), Commands.DefaultTimeout).EnsureSuccess();
        return File.ReadAllText(trace);
    }

    [Theory]
    [InlineData("csrt", "--version")]
    [InlineData("containerd-shim-csrt-v2", "-v")]
    public void TheRuntimesStartUp_DoesNotReadTheMountTable(string name, string arg)
    {
        var opened = OpenedFiles(Path.Combine(RepoPaths.BinDir, name), arg);

        // The trace sees the runtime's own start-up (the CPU topology it reads for the GC).
        Assert.Contains("/sys/devices/system/cpu/", opened, StringComparison.Ordinal);
        Assert.DoesNotContain("/proc/self/mountinfo", opened, StringComparison.Ordinal);
    }

    [Fact]
    public void TheTrace_SeesAProcessThatReadsTheMountTable()
    {
        var opened = OpenedFiles("/bin/cat", "/proc/self/mountinfo");

        Assert.Contains("/proc/self/mountinfo", opened, StringComparison.Ordinal);
    }
}
