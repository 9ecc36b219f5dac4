using System.Security.Cryptography;
using Csrt.IntegrationTests.Fixtures;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// The attack programs that a shell cannot express (O_PATH opens, reopening through
/// /proc/self/fd, a raw ttrpc frame): C sources in Security/Payloads, built static with gcc
/// once per source text into /run/csrt-test/payloads, and handed to containers through a
/// read-only bind mount of that directory at /payload.
/// </summary>
internal static class Payloads
{
    private static readonly string SourceDir = Path.Combine(RepoPaths.Root, "tests", "integration", "Csrt.IntegrationTests", "Security", "Payloads");
    private static readonly object Gate = new();

    /// <summary>Where the container sees the payload directory.</summary>
    public const string MountPoint = "/payload";

    /// <summary>Builds Payloads/<paramref name="name"/>.c (if not built yet); returns the host
    /// directory that holds the binary <paramref name="name"/> (mount it at <see cref="MountPoint"/>).</summary>
    public static string Build(string name)
    {
        var source = Path.Combine(SourceDir, name + ".c");
        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(source)))[..16];
        var dir = Path.Combine(RepoPaths.RunDir, "payloads", $"{name}-{hash}");
        var binary = Path.Combine(dir, name);
        lock (Gate)
        {
            if (File.Exists(binary))
                return dir;
            Directory.CreateDirectory(dir);
            // Built beside and renamed: a concurrent test run never sees half a binary.
            var partial = binary + "." + Environment.ProcessId + ".tmp";
            Commands.Run("/usr/bin/gcc", ["-static", "-O1", "-Wall", "-Werror", "-o", partial, source], TimeSpan.FromSeconds(120)).EnsureSuccess();
            File.Move(partial, binary, overwrite: true);
            return dir;
        }
    }
}
