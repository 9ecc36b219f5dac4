using System.Security.Cryptography;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Functions;

/// <summary>
/// `csrt fn run` over a state root, an image cache and a work directory of its own (under
/// /run/csrt-test), so a test can prove that a call leaves nothing in the state root and nothing
/// mounted on the host. Dispose removes all three, deleting any container a failed test left.
/// </summary>
public sealed class FnHarness : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public FnHarness(string name)
    {
        var tag = name + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        StateRoot = Path.Combine(RepoPaths.RunDir, "fn", tag, "state");
        Cache = Path.Combine(RepoPaths.RunDir, "fn", tag, "cache");
        Work = Path.Combine(RepoPaths.RunDir, "fn", tag, "work");
        Directory.CreateDirectory(StateRoot);
        Directory.CreateDirectory(Work);
        Images = TestImages.Get();
    }

    public TestImages Images { get; }

    public string StateRoot { get; }

    public string Cache { get; }

    public string Work { get; }

    public string FnImage => "oci-archive:" + Path.Combine(Images.Dir, "fn-annotate.oci.tar");

    public string BusyboxImage => "oci-archive:" + Images.BusyboxTarball;

    /// <summary><c>csrt --root STATE fn run --image-cache CACHE args…</c>, stdin fed, environment added to ours.</summary>
    public CommandResult Run(string? stdin, IReadOnlyDictionary<string, string>? environment, params string[] args) =>
        Commands.Run(RepoPaths.RequireBinary(RepoPaths.CsrtBinary),
            new[] { "--root", StateRoot, "fn", "run", "--image-cache", Cache }.Concat(args), Timeout, stdin, environment);

    public CommandResult Run(params string[] args) => Run(null, null, args);

    /// <summary>The call with <paramref name="stdin"/> fed to it.</summary>
    public CommandResult Pipe(string stdin, params string[] args) => Run(stdin, null, args);

    /// <summary>A new OCI layout directory under the work directory.</summary>
    public OciLayout Layout(string name) => new(Path.Combine(Work, name));

    /// <summary>The state root holds nothing, nothing is mounted under our directories, and the
    /// cgroup directories the container reported (from its /proc/self/cgroup) are gone.</summary>
    public void AssertNothingLeft(string? procSelfCgroup = null)
    {
        Assert.Empty(Directory.EnumerateFileSystemEntries(StateRoot));
        Assert.Empty(HostState.MountsUnder(Path.GetDirectoryName(StateRoot)!));
        foreach (var line in (procSelfCgroup ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // hierarchy-id:controllers:path
            var parts = line.Split(':', 3);
            if (parts.Length != 3 || parts[2] == "/")
                continue;
            var controller = parts[1].Length == 0 ? "unified" : parts[1].Replace("name=", "", StringComparison.Ordinal);
            foreach (var mount in new[] { controller, controller.Split(',')[0] })
            {
                var dir = "/sys/fs/cgroup/" + mount + parts[2];
                Assert.False(Directory.Exists(dir), $"cgroup directory {dir} is left after the call");
            }
        }
    }

    public void Dispose()
    {
        var top = Path.GetDirectoryName(StateRoot)!;
        foreach (var dir in Directory.Exists(StateRoot) ? Directory.EnumerateDirectories(StateRoot).ToList() : [])
            Commands.Run(RepoPaths.CsrtBinary, ["--root", StateRoot, "delete", "--force", Path.GetFileName(dir)], Timeout);
        HostState.UnmountAllUnder(top);
        if (Directory.Exists(top))
            Directory.Delete(top, recursive: true);
    }
}
