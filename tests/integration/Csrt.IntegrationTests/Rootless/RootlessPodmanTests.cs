using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Rootless;

/// <summary>
/// podman's rootless mode driving csrt, run by the unprivileged user next to the same command
/// with runc: podman runs the runtime as root of its own user namespace (not root of the host),
/// with the image in vfs storage and cgroupfs as its cgroup manager.
/// </summary>
[Collection(RootlessCollection.Name)]
public sealed class RootlessPodmanTests
{
    private readonly UnprivilegedUser _user;

    public RootlessPodmanTests(UnprivilegedUser user) => _user = user;

    private CommandResult Podman(params string[] args) =>
        _user.Run("podman", new[] { "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file" }.Concat(args),
            timeout: TimeSpan.FromMinutes(3));

    private void LoadBusybox()
    {
        var tarball = Path.Combine(_user.WorkDir, "busybox.oci.tar");
        if (!File.Exists(tarball))
        {
            File.Copy(TestImages.Get().BusyboxTarball, tarball);
            _user.Chown(tarball);
        }
        Podman("load", "--input", tarball).EnsureSuccess();
    }

    [Fact]
    public void PodmanRunRm_WithCsrt_GivesRuncsOutputAndExitStatus()
    {
        LoadBusybox();
        var results = new List<CommandResult>();
        foreach (var runtime in new[] { _user.Csrt, "/usr/sbin/runc" })
        {
            results.Add(Podman("--runtime", runtime, "run", "--rm", "--network", "none", TestImages.BusyboxImage,
                "sh", "-c", "id -u; cat /proc/self/uid_map | wc -l; echo to-stderr >&2; exit 3"));
        }
        var (csrt, runc) = (results[0], results[1]);

        Assert.Equal(3, runc.ExitCode);
        Assert.Equal(runc.ExitCode, csrt.ExitCode);
        Assert.Equal(runc.Stdout, csrt.Stdout);
        Assert.Equal("0\n", csrt.Stdout.Split('\n')[0] + "\n");
        Assert.Contains("to-stderr", csrt.Stderr, StringComparison.Ordinal);
        Assert.Empty(Podman("ps", "--all", "--quiet").EnsureSuccess().Stdout.Trim());
    }

    [Fact]
    public void PodmanExec_IntoACsrtContainer_GivesRuncsOutput()
    {
        LoadBusybox();
        var outputs = new List<string>();
        foreach (var runtime in new[] { _user.Csrt, "/usr/sbin/runc" })
        {
            var name = TestBundle.NewId("rl-podman");
            try
            {
                Podman("--runtime", runtime, "run", "--detach", "--name", name, "--network", "none", TestImages.BusyboxImage, "sleep", "300").EnsureSuccess();
                outputs.Add(Podman("--runtime", runtime, "exec", name, "sh", "-c", "id -u; hostname").EnsureSuccess().Stdout);
                Podman("--runtime", runtime, "rm", "--force", "--time", "0", name).EnsureSuccess();
            }
            finally
            {
                Podman("--runtime", runtime, "rm", "--force", "--time", "0", name);
            }
        }
        Assert.Equal(outputs[1].Split('\n')[0], outputs[0].Split('\n')[0]);
        Assert.StartsWith("0\n", outputs[0], StringComparison.Ordinal);
    }
}
