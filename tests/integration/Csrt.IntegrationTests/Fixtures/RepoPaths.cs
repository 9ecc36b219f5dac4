namespace Csrt.IntegrationTests.Fixtures;

/// <summary>Where the repository, its build outputs and the tests' scratch directories are.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);

    /// <summary>The repository root: the first directory above the test assembly holding Shim.sln.</summary>
    public static string Root => RootLazy.Value;

    /// <summary><c>&lt;repo&gt;/out</c> (git-ignored).</summary>
    public static string Out => Path.Combine(Root, "out");

    /// <summary>
    /// The published binaries (<c>csrt</c>, <c>containerd-shim-csrt-v2</c>): <c>$CSRT_BIN_DIR</c> if set,
    /// else <c>&lt;repo&gt;/out/bin</c> (hack/publish.sh).
    /// </summary>
    public static string BinDir => Environment.GetEnvironmentVariable("CSRT_BIN_DIR") is { Length: > 0 } dir
        ? Path.GetFullPath(dir)
        : Path.Combine(Out, "bin");

    public static string CsrtBinary => Path.Combine(BinDir, "csrt");

    public static string ShimBinary => Path.Combine(BinDir, "containerd-shim-csrt-v2");

    /// <summary>
    /// The path of a published binary (<see cref="CsrtBinary"/>, <see cref="ShimBinary"/>); throws, saying how to
    /// build it, when it is missing. Call it first in tests that need the binaries.
    /// </summary>
    public static string RequireBinary(string path) => File.Exists(path)
        ? path
        : throw new FileNotFoundException($"{path} does not exist; publish the binaries first with hack/publish.sh (or point CSRT_BIN_DIR at them)", path);

    /// <summary>The local test images: <c>$CSRT_IMAGES_DIR</c> if set, else <c>&lt;repo&gt;/out/images</c> (hack/images/build.sh).</summary>
    public static string ImagesDir => Environment.GetEnvironmentVariable("CSRT_IMAGES_DIR") is { Length: > 0 } dir
        ? Path.GetFullPath(dir)
        : Path.Combine(Out, "images");

    public static string Hack => Path.Combine(Root, "hack");

    /// <summary>
    /// Scratch directory for bundles, sockets and containerd state. Short on purpose: socket paths
    /// must fit sun_path (107 bytes) and containerd nests bundle paths deep below it.
    /// </summary>
    public const string RunDir = "/run/csrt-test";

    /// <summary>Scratch directory for data that should not live in /run (a tmpfs on most hosts): containerd roots.</summary>
    public const string VarDir = "/var/lib/csrt-test";

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Shim.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException(
            $"no Shim.sln found in {AppContext.BaseDirectory} or any parent; the tests must run from a build inside the repository");
    }
}
