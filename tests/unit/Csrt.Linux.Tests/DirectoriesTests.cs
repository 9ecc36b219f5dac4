using Xunit;

namespace Csrt.Linux.Tests;

/// <summary>Directory listings through getdents64: all entries, or only the subdirectories.</summary>
public sealed class DirectoriesTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("csrt-dirs-");

    public DirectoriesTests()
    {
        // More entries than one 8 KiB getdents64 buffer holds, so the listing takes several reads.
        for (var i = 0; i < 300; i++)
            File.WriteAllText(Path.Combine(_dir.FullName, $"file-with-a-longish-name-{i:D4}"), "");
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "sub-a"));
        Directory.CreateDirectory(Path.Combine(_dir.FullName, "sub-b"));
    }

    public void Dispose() => _dir.Delete(recursive: true);

    [Fact]
    public void ListDirectory_ListsEveryEntryButDotAndDotDot()
    {
        var names = Files.ListDirectory(_dir.FullName);
        Assert.Equal(302, names.Count);
        Assert.Equal(Directory.EnumerateFileSystemEntries(_dir.FullName).Select(Path.GetFileName).Order(), names.Order());
    }

    [Fact]
    public void ListSubdirectories_ListsOnlyDirectories() =>
        Assert.Equal(["sub-a", "sub-b"], Directories.ListSubdirectories(_dir.FullName).Order());
}
