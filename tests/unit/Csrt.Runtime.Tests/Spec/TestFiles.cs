using System.Runtime.CompilerServices;
using System.Text;

namespace Csrt.Runtime.Tests.Spec;

/// <summary>
/// Reference documents captured from real tools (runc 1.1.5 `spec`, `spec --rootless`, `state`,
/// `features` on Debian 12) or written to match what they generate (containerd 1.6 CRI). Read from
/// the source tree next to this file, so the project file needs no copy rules.
/// </summary>
internal static class TestFiles
{
    public static byte[] Read(string name, [CallerFilePath] string caller = "") =>
        File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(caller)!, "Resources", name));

    public static string Text(string name, [CallerFilePath] string caller = "") =>
        Encoding.UTF8.GetString(Read(name, caller));
}

/// <summary>A scratch directory removed even when the test fails.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("csrt-spec-test-").FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
