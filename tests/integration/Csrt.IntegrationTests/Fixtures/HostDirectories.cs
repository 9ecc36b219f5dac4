namespace Csrt.IntegrationTests.Fixtures;

/// <summary>Fresh directories on the host for one test class, each unmounted (whatever the test
/// mounted below it) and removed on dispose, also after a failed test.</summary>
public sealed class HostDirectories : IDisposable
{
    private readonly List<string> _paths = new();

    /// <summary>A new empty directory under the run directory, named after <paramref name="name"/>.</summary>
    public string Create(string name)
    {
        var dir = Path.Combine(RepoPaths.RunDir, TestBundle.NewId(name));
        Directory.CreateDirectory(dir);
        _paths.Add(dir);
        return dir;
    }

    public void Dispose()
    {
        foreach (var path in _paths)
        {
            HostState.UnmountAllUnder(path);
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
            // A test may have replaced the directory with a file of the same name.
            if (File.Exists(path))
                File.Delete(path);
        }
    }
}
