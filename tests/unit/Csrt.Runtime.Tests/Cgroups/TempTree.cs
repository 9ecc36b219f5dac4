namespace Csrt.Runtime.Tests.Cgroups;

/// <summary>A temporary directory tree standing in for cgroup hierarchies: cgroup interface files are
/// plain files here, so a test sees the last value written to each.</summary>
internal sealed class TempTree : IDisposable
{
    public TempTree()
    {
        Root = Path.Combine(Path.GetTempPath(), "csrt-cgtest-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Dir(string relative)
    {
        var d = Path.Combine(Root, relative);
        Directory.CreateDirectory(d);
        return d;
    }

    /// <summary>Creates files in <paramref name="relativeDir"/>: "name=content" pairs.</summary>
    public string Files(string relativeDir, params string[] files)
    {
        var d = Dir(relativeDir);
        foreach (var f in files)
        {
            var eq = f.IndexOf('=');
            File.WriteAllText(Path.Combine(d, eq < 0 ? f : f[..eq]), eq < 0 ? "" : f[(eq + 1)..]);
        }
        return d;
    }

    public string Read(string relativeFile) => File.ReadAllText(Path.Combine(Root, relativeFile));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
