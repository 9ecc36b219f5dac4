using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// CVE-2024-21626: <c>process.cwd</c> or <c>exec --cwd</c> set to /proc/self/fd/N, for every N a
/// runtime might hold while it sets the process up (3-10). Each is refused, or the process runs
/// with a working directory inside its root: it prints <c>cwd=</c> and getcwd's answer, which
/// starts with "(unreachable)" for a directory outside the root, and looks for a host marker file
/// at the top of the tree above it. runc (1.1.5 with Debian's CVE-2024-21626 fix) is the reference: the
/// leak is fixed there too, so no run shows the escape, and the marker file on the host proves
/// the probe would see it.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class CwdThroughFdAttackTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private static string Probe(string marker) => $"echo \"cwd=$(pwd)\"; ls ../../../../../../../../../../ | grep -qx {marker} && echo escaped; true";
    private static readonly TimeSpan ExecTimeout = TimeSpan.FromSeconds(20);
    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    /// <summary>A file at the host's / that only an escaped working directory can see; deleted on dispose.</summary>
    private sealed class HostMarker : IDisposable
    {
        public HostMarker()
        {
            Name = TestBundle.NewId("csrt-marker");
            File.WriteAllText("/" + Name, "");
        }

        public string Name { get; }

        public void Dispose() => File.Delete("/" + Name);
    }

    private static void AssertNotOutside(CommandResult result, string what)
    {
        Assert.DoesNotContain("unreachable", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("escaped", result.Stdout, StringComparison.Ordinal);
        if (result.Succeeded)
            Assert.True(result.Stdout.StartsWith("cwd=/", StringComparison.Ordinal), $"{what}: {result}");
    }

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    [InlineData(Via.Runc)]
    public void ProcessCwdThroughProcSelfFd_IsRefusedOrInsideTheRoot(Via via)
    {
        using var marker = new HostMarker();
        using var target = new AttackTarget(via, _containerd, "cwd");
        for (var fd = 3; fd <= 10; fd++)
        {
            var n = fd;
            var bundle = target.Bundle(["sh", "-c", Probe(marker.Name)], c => c["process"]!["cwd"] = $"/proc/self/fd/{n}");

            var result = target.Run(bundle);

            _log.WriteLine($"cwd /proc/self/fd/{fd}: {result}");
            AssertNotOutside(result, $"cwd /proc/self/fd/{fd}");
            if (via != Via.Runc)
                Assert.True(!result.Succeeded, $"csrt ran a process with cwd /proc/self/fd/{fd}: {result}");
        }
    }

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    [InlineData(Via.Runc)]
    public void ExecCwdThroughProcSelfFd_IsRefusedOrInsideTheRoot(Via via)
    {
        using var marker = new HostMarker();
        using var target = new AttackTarget(via, _containerd, "exec-cwd");
        var bundle = target.Bundle(["sleep", "1000"]);
        target.Start(bundle);

        for (var fd = 3; fd <= 10; fd++)
        {
            CommandResult result;
            try
            {
                result = target.Exec(bundle.Id, ["sh", "-c", Probe(marker.Name)], cwd: $"/proc/self/fd/{fd}", timeout: ExecTimeout);
            }
            catch (TimeoutException e)
            {
                // A refused exec must reach the caller as an error or an exit, never as a hang.
                Assert.Fail($"exec --cwd /proc/self/fd/{fd} neither failed nor exited within {ExecTimeout.TotalSeconds:0} s: {e.Message}");
                throw;
            }

            _log.WriteLine($"exec --cwd /proc/self/fd/{fd}: {result}");
            AssertNotOutside(result, $"exec --cwd /proc/self/fd/{fd}");
            if (via != Via.Runc)
                Assert.True(!result.Succeeded, $"csrt exec ran with cwd /proc/self/fd/{fd}: {result}");
        }
        // The container is unharmed by the refused execs.
        Assert.True(target.Exec(bundle.Id, ["true"], timeout: ExecTimeout).Succeeded);
    }

    [Fact]
    public void PositiveControl_TheProbe_SeesTheHostsMarkerFromADirectoryOutsideTheRoot()
    {
        // The probe run on the host from a directory like those a runtime holds open
        // (/sys/fs/cgroup/<controller>/...): the marker is what an escaped cwd reaches.
        using var marker = new HostMarker();

        var result = Commands.Run("/bin/sh", ["-c", Probe(marker.Name)], TimeSpan.FromSeconds(10), workingDirectory: "/sys/fs/cgroup/pids");

        Assert.Contains("escaped", result.Stdout, StringComparison.Ordinal);
    }
}
