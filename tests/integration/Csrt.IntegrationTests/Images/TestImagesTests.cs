using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text.Json;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Images;

/// <summary>The local test images of hack/images/build.sh: the busybox rootfs, the OCI tarballs, the pause program.</summary>
[SupportedOSPlatform("linux")]
public sealed class TestImagesTests
{
    private readonly TestImages images = TestImages.Get();

    [Fact]
    public void Rootfs_AppletsAreHardLinksOfBusybox_InBinAndAtTheirCanonicalPaths()
    {
        var rootfs = images.RootfsDir;
        string[] paths = ["bin/busybox", "bin/sh", "bin/ls", "bin/env", "usr/bin/env", "bin/ifconfig", "sbin/ifconfig", "bin/chroot", "usr/sbin/chroot"];
        var stat = Commands.Run("stat", ["-c", "%i %h %F", .. paths.Select(p => Path.Combine(rootfs, p))], Commands.DefaultTimeout, workingDirectory: rootfs)
            .EnsureSuccess().Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(paths.Length, stat.Length);
        var busybox = stat[0].Split(' ');
        Assert.Equal("regular file", string.Join(' ', busybox[2..]));
        Assert.True(int.Parse(busybox[1]) > 300, $"expected busybox to have hundreds of hard links, found {busybox[1]}");
        for (var i = 1; i < paths.Length; i++)
            Assert.True(stat[i].StartsWith(busybox[0] + " ", StringComparison.Ordinal), $"{paths[i]} is not a hard link of bin/busybox: {stat[i]}");

        foreach (var dir in new[] { "bin", "sbin", "usr/bin", "usr/sbin" })
        {
            var symlinks = new DirectoryInfo(Path.Combine(rootfs, dir)).EnumerateFileSystemInfos().Where(f => f.LinkTarget is not null).Select(f => f.Name).ToList();
            Assert.True(symlinks.Count == 0, $"{dir} holds symlinks (Debian's busybox-static needs hard links): {string.Join(", ", symlinks)}");
        }
    }

    [Fact]
    public void Rootfs_ShellRunsUnderChroot_AndSeesEveryAppletInBin()
    {
        var expected = Directory.GetFileSystemEntries(Path.Combine(images.RootfsDir, "bin")).Length;

        var output = Commands.RunOk("chroot", images.RootfsDir, "/bin/sh", "-c", "echo ok; ls /bin | wc -l");

        Assert.Equal($"ok\n{expected}\n", output.Replace(" ", ""));
        Assert.True(expected > 250, $"expected every applet in /bin, found {expected} entries");
    }

    [Fact]
    public void Rootfs_HasRootUserAndNobody_HostsFile_AndSaneModes()
    {
        var rootfs = images.RootfsDir;
        var asUser = Commands.RunOk("chroot", "--userspec=1000:1000", rootfs, "/bin/sh", "-c", "id -un; id -gn; cd ~user && pwd; touch /tmp/x.$$ && rm /tmp/x.$$ && echo tmp-writable");
        Assert.Equal("user\nuser\n/home/user\ntmp-writable\n", asUser);
        Assert.Equal("nobody\n", Commands.RunOk("chroot", "--userspec=65534:65534", rootfs, "/bin/sh", "-c", "id -un"));
        Assert.Contains("root:x:0:0:", File.ReadAllText(Path.Combine(rootfs, "etc/passwd")), StringComparison.Ordinal);
        Assert.Contains("127.0.0.1\tlocalhost", File.ReadAllText(Path.Combine(rootfs, "etc/hosts")), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(rootfs, "etc/resolv.conf")), "expected an /etc/resolv.conf placeholder");

        Assert.Equal(UnixFileMode.StickyBit | (UnixFileMode)FileModes.AllReadWriteExecute, File.GetUnixFileMode(Path.Combine(rootfs, "tmp")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(rootfs, "root")));
        foreach (var empty in new[] { "proc", "sys", "dev", "tmp", "root", "home/user" })
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(rootfs, empty)));
    }

    [Fact]
    public void ImageTarballs_AreOciLayoutsThatNameTheImageAndSetItsCommand()
    {
        AssertImage(images.BusyboxTarball, TestImages.BusyboxImage, "Cmd", "[\"sh\"]");
        AssertImage(images.PauseTarball, TestImages.PauseImage, "Entrypoint", "[\"/pause\"]");

        static void AssertImage(string tarball, string name, string commandField, string command)
        {
            var entries = Commands.RunOk("tar", "-tf", tarball).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains("oci-layout", entries);
            Assert.Contains("index.json", entries);

            using var index = JsonDocument.Parse(Commands.RunOk("tar", "-xOf", tarball, "index.json"));
            var manifestDesc = Assert.Single(index.RootElement.GetProperty("manifests").EnumerateArray());
            Assert.Equal(name, manifestDesc.GetProperty("annotations").GetProperty("io.containerd.image.name").GetString());

            using var manifest = JsonDocument.Parse(Blob(tarball, manifestDesc.GetProperty("digest").GetString()!));
            using var config = JsonDocument.Parse(Blob(tarball, manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()!));
            Assert.Equal("amd64", config.RootElement.GetProperty("architecture").GetString());
            Assert.Equal("linux", config.RootElement.GetProperty("os").GetString());
            Assert.Equal(command, config.RootElement.GetProperty("config").GetProperty(commandField).GetRawText());
            Assert.StartsWith("PATH=", config.RootElement.GetProperty("config").GetProperty("Env")[0].GetString(), StringComparison.Ordinal);
        }

        static string Blob(string tarball, string digest) =>
            Commands.RunOk("tar", "-xOf", tarball, "blobs/sha256/" + digest["sha256:".Length..]);
    }

    [Fact]
    public void BuildScript_RunAgain_IsACachedNoOpThatLeavesTheOutputsUntouched()
    {
        var before = new[] { images.BusyboxTarball, images.PauseTarball, images.PauseBinary }.Select(File.GetLastWriteTimeUtc).ToList();

        var output = Commands.RunOk("bash", Path.Combine(RepoPaths.Hack, "images", "build.sh"));

        Assert.Contains(images.BusyboxTarball, output, StringComparison.Ordinal);
        Assert.Contains(images.PauseTarball, output, StringComparison.Ordinal);
        Assert.Equal(before, new[] { images.BusyboxTarball, images.PauseTarball, images.PauseBinary }.Select(File.GetLastWriteTimeUtc).ToList());
    }

    [Fact]
    public void BuildScript_RebuiltElsewhere_ProducesByteIdenticalTarballs()
    {
        var dir = Path.Combine(RepoPaths.RunDir, "images-" + TestBundle.NewId("rebuild"));
        try
        {
            var env = new Dictionary<string, string> { ["CSRT_IMAGES_DIR"] = dir };
            Commands.Run("bash", [Path.Combine(RepoPaths.Hack, "images", "build.sh")], TimeSpan.FromMinutes(5), environment: env).EnsureSuccess();

            foreach (var name in new[] { "busybox.oci.tar", "pause.oci.tar", "pause" })
                Assert.True(File.ReadAllBytes(Path.Combine(dir, name)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(images.Dir, name))), $"{name} differs between two builds");
        }
        finally
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Pause_AsPid1OfAPidNamespace_ReapsOrphansAndExitsZeroOnSigterm()
    {
        var psi = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardError = true };
        foreach (var a in new[] { "--pid", "--fork", "--kill-child", images.PauseBinary })
            psi.ArgumentList.Add(a);
        using var unshare = Process.Start(psi)!;
        var pause = 0;
        try
        {
            pause = WaitFor(() => HostState.Descendants(unshare.Id).FirstOrDefault(p => HostState.Exe(p) == images.PauseBinary), "pause to start under unshare");

            // The shell exits at once: its background sleep is orphaned inside the namespace and
            // reparented to the namespace's PID 1, pause.
            Commands.RunOk("nsenter", "-t", pause.ToString(), "-p", "--", "/bin/sh", "-c", "sleep 2 </dev/null >/dev/null 2>&1 & exit 0");
            var orphan = WaitFor(() => HostState.Descendants(pause).FirstOrDefault(), "the orphaned sleep to be reparented to pause");
            Assert.Equal(pause, HostState.Stat(orphan)!.Value.ParentPid);

            // When sleep exits, only a wait by pause removes it; a zombie would stay forever.
            var reaped = HostState.WaitGone([orphan], TimeSpan.FromSeconds(10)) && WaitUntil(() => HostState.Stat(orphan) is null, TimeSpan.FromSeconds(5));
            Assert.True(reaped, $"orphan {orphan} was not reaped by pause; zombies of pause: {string.Join(", ", HostState.ZombieChildren(pause))}");

            Signals.Send(pause, Signals.SIGTERM);
            Assert.True(unshare.WaitForExit(10_000), "pause did not exit within 10 s of SIGTERM");
            Assert.Equal(0, unshare.ExitCode);
        }
        finally
        {
            if (!unshare.HasExited)
            {
                unshare.Kill(entireProcessTree: true);
                unshare.WaitForExit(5_000);
            }
            if (pause != 0)
                HostState.KillAndWait([pause], TimeSpan.FromSeconds(5));
        }
    }

    private static int WaitFor(Func<int> probe, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            var v = probe();
            if (v != 0)
                return v;
            Thread.Sleep(10);
        }
        throw new TimeoutException($"timed out after 10 s waiting for {what}");
    }

    private static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
                return false;
            Thread.Sleep(10);
        }
        return true;
    }
}
