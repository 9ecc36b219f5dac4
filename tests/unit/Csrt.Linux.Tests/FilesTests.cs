using Xunit;

namespace Csrt.Linux.Tests;

/// <summary>Files.ReadToEnd: a file read whole, below, at and above its first (stack) buffer.</summary>
public sealed class FilesTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(16383)]
    [InlineData(16384)]
    [InlineData(16385)]
    [InlineData(65536)]
    [InlineData(65537)]
    [InlineData(300_000)]
    public void ReadToEnd_ReturnsTheWholeFileWhateverItsLength(int length)
    {
        var path = Path.Combine(Path.GetTempPath(), "csrt-files-" + Guid.NewGuid().ToString("N"));
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);
        try
        {
            using var fd = Files.Open(path, OpenFlags.O_RDONLY);
            Assert.Equal(bytes, Files.ReadToEnd(fd));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ReadToEnd_ReadsAProcFileWhoseSizeStatDoesNotTell()
    {
        using var fd = Files.Open("/proc/self/mountinfo", OpenFlags.O_RDONLY);

        var text = System.Text.Encoding.UTF8.GetString(Files.ReadToEnd(fd));

        Assert.Contains(" / / ", text, StringComparison.Ordinal);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
    }
}
