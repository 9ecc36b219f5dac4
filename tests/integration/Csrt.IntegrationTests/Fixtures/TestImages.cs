namespace Csrt.IntegrationTests.Fixtures;

/// <summary>
/// The local test images built by hack/images/build.sh: a busybox rootfs directory and two OCI
/// image tarballs for <c>ctr images import</c>. Built once per test run; the script is cached by
/// an input hash and serialized by a file lock, so parallel test classes and processes never race.
/// </summary>
public sealed class TestImages
{
    public const string BusyboxImage = Csrt.TestSupport.CriPod.BusyboxImage;
    public const string PauseImage = "localhost/csrt/pause:3.9";

    private static readonly Lazy<TestImages> Instance = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    private TestImages(string dir)
    {
        Dir = dir;
    }

    /// <summary>Builds the images if needed (first call in the process) and returns their paths.</summary>
    public static TestImages Get() => Instance.Value;

    /// <summary>The output directory (<see cref="RepoPaths.ImagesDir"/>).</summary>
    public string Dir { get; }

    /// <summary>The busybox rootfs: applets hard-linked to /bin/busybox, /etc/passwd with root, user (1000) and nobody. Treat as read-only: use it as an overlay lower dir (see <see cref="TestBundle"/>).</summary>
    public string RootfsDir => Path.Combine(Dir, "busybox-rootfs");

    /// <summary>OCI layout tarball of <see cref="BusyboxImage"/> (same content as the rootfs; Cmd sh).</summary>
    public string BusyboxTarball => Path.Combine(Dir, "busybox.oci.tar");

    /// <summary>OCI layout tarball of <see cref="PauseImage"/> (only /pause; Entrypoint /pause).</summary>
    public string PauseTarball => Path.Combine(Dir, "pause.oci.tar");

    /// <summary>The static pause binary itself (hack/images/pause.c).</summary>
    public string PauseBinary => Path.Combine(Dir, "pause");

    private static TestImages Build()
    {
        var script = Path.Combine(RepoPaths.Hack, "images", "build.sh");
        var env = new Dictionary<string, string> { ["CSRT_IMAGES_DIR"] = RepoPaths.ImagesDir };
        var result = Commands.Run("/bin/bash", [script], TimeSpan.FromMinutes(5), environment: env);
        if (!result.Succeeded)
            throw new InvalidOperationException($"building the test images failed (hack/images/build.sh): {result}");
        var images = new TestImages(RepoPaths.ImagesDir);
        foreach (var f in new[] { images.BusyboxTarball, images.PauseTarball, images.PauseBinary, Path.Combine(images.RootfsDir, "bin", "sh") })
        {
            if (!File.Exists(f))
                throw new InvalidOperationException($"hack/images/build.sh succeeded but {f} is missing; expected it in {images.Dir}");
        }
        return images;
    }
}
