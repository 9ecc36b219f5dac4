using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Runtime;
using Csrt.IntegrationTests.Shim;
using Csrt.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// CVE-2019-5736: a container process opens /proc/&lt;pid&gt;/exe of every process it can see
/// (the runtime's or the shim's exec children before their execve, the init) with O_PATH and keeps
/// reopening it for writing through /proc/self/fd while execs run and after they end
/// (Payloads/exe-overwrite.c). No reopen may succeed except on the decoys: copies of busybox on a
/// writable mount, exec'd among the others, which prove the payload overwrites what it can reach.
/// The host's binaries must hash the same afterwards.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class BinaryOverwriteAttackTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private const int Decoys = 3;
    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    private static string[] Binaries(Via via) =>
        via == Via.Runc ? ["/usr/sbin/runc"] : [RepoPaths.CsrtBinary, RepoPaths.ShimBinary];

    private static Dictionary<string, string> Hashes(IEnumerable<string> files) => files.ToDictionary(f => f, AttackTarget.Hash);

    /// <summary>A host directory with the decoys (decoy-&lt;i&gt;/sleep: busybox runs the applet of its name).</summary>
    private static void PlaceDecoys(string dir)
    {
        for (var i = 0; i < Decoys; i++)
        {
            Directory.CreateDirectory(Path.Combine(dir, $"decoy-{i}"));
            File.Copy(Path.Combine(TestImages.Get().RootfsDir, "bin", "busybox"), Path.Combine(dir, $"decoy-{i}", "sleep"));
        }
    }

    private static string[] PayloadArgs => [Payloads.MountPoint + "/exe-overwrite", "/decoy/report", "/decoy/stop", "50"];

    private static async Task<string> WaitForReport(string dir, string line)
    {
        var report = Path.Combine(dir, "report");
        for (var i = 0; i < 600; i++)
        {
            var text = File.Exists(report) ? await File.ReadAllTextAsync(report) : "";
            if (text.Split('\n').Contains(line))
                return text;
            await Task.Delay(50);
        }
        throw new TimeoutException($"the payload did not report {line}; report so far:\n{(File.Exists(report) ? File.ReadAllText(report) : "")}");
    }

    /// <summary>The payload's verdict: every reopen for writing hit a decoy, at least one decoy was
    /// overwritten, and the host binaries are untouched.</summary>
    private void AssertOnlyDecoysWereOverwritten(string report, string decoyDir, Dictionary<string, string> before)
    {
        _log.WriteLine(report);
        var opened = report.Split('\n').Where(l => l.StartsWith("OPENED ", StringComparison.Ordinal)).ToList();
        Assert.True(opened.All(l => l.StartsWith("OPENED /decoy/", StringComparison.Ordinal)), "a process's executable was reopened for writing:\n" + report);
        Assert.True(opened.Count > 0, "the payload overwrote no decoy, so it proves nothing:\n" + report);
        Assert.Contains(Enumerable.Range(0, Decoys), i => File.ReadAllText(Path.Combine(decoyDir, $"decoy-{i}", "sleep")).StartsWith("PWNED", StringComparison.Ordinal));
        foreach (var (file, hash) in before)
            Assert.True(hash == AttackTarget.Hash(file), $"{file} changed during the attack");
    }

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    [InlineData(Via.Runc)]
    public async Task AContainerProcess_CannotReopenTheRuntimesBinaryForWriting_ThroughProcPidExe_WhileExecsRun(Via via)
    {
        using var target = new AttackTarget(via, _containerd, "overwrite");
        var decoys = target.HostDir("decoys");
        PlaceDecoys(decoys);
        var before = Hashes(Binaries(via));
        var bundle = target.Bundle(PayloadArgs, c =>
        {
            AttackTarget.AddMount(c, Payloads.MountPoint, "bind", Payloads.Build("exe-overwrite"), "rbind", "ro");
            AttackTarget.AddMount(c, "/decoy", "bind", decoys, "rbind", "rw");
        });

        target.Start(bundle);
        await WaitForReport(decoys, "READY");
        for (var i = 0; i < 12; i++)
        {
            var exec = i % 4 == 3
                ? target.Exec(bundle.Id, [$"/decoy/decoy-{i / 4}/sleep", "1"])
                : target.Exec(bundle.Id, ["/bin/true"]);
            Assert.True(exec.Succeeded, exec.ToString());
        }
        File.WriteAllText(Path.Combine(decoys, "stop"), "");
        var report = await WaitForReport(decoys, "DONE");

        AssertOnlyDecoysWereOverwritten(report, decoys, before);
    }

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Runc)]
    public async Task AProcessExecdIntoACreatedContainer_CannotReopenTheInitsBinaryForWriting_BeforeOrAfterStart(Via via)
    {
        // While created, the container's pid 1 is the runtime's own init, waiting for start.
        using var target = new AttackTarget(via, _containerd, "overwrite-created");
        var decoys = target.HostDir("decoys");
        PlaceDecoys(decoys);
        var before = Hashes(Binaries(via));
        var bundle = target.Bundle(["sleep", "1000"], c =>
        {
            AttackTarget.AddMount(c, Payloads.MountPoint, "bind", Payloads.Build("exe-overwrite"), "rbind", "ro");
            AttackTarget.AddMount(c, "/decoy", "bind", decoys, "rbind", "rw");
        });

        target.CreateOnly(bundle);
        target.ExecDetached(bundle, PayloadArgs);
        await WaitForReport(decoys, "READY");
        var decoy = target.Exec(bundle.Id, ["/decoy/decoy-0/sleep", "1"]);
        Assert.True(decoy.Succeeded, decoy.ToString());
        var started = target.StartCreated(bundle.Id);
        Assert.True(started.Succeeded, started.ToString());
        var afterStart = target.Exec(bundle.Id, ["/decoy/decoy-1/sleep", "1"]);
        Assert.True(afterStart.Succeeded, afterStart.ToString());
        File.WriteAllText(Path.Combine(decoys, "stop"), "");
        var report = await WaitForReport(decoys, "DONE");

        // The init was attacked: seen (and then refused), or not inspectable at all.
        Assert.True(report.Split('\n').Any(l => l.StartsWith("SEEN 1 ", StringComparison.Ordinal) || l.StartsWith("DENIED 1 ", StringComparison.Ordinal)), report);
        AssertOnlyDecoysWereOverwritten(report, decoys, before);
    }

    [Fact]
    public async Task AContainerSharingThePodsPidNamespace_CannotReopenTheShimsBinaryForWriting_WhileExecsRunInItsNeighbour()
    {
        var decoys = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("decoys"));
        Directory.CreateDirectory(decoys);
        try
        {
            PlaceDecoys(decoys);
            var before = Hashes(Binaries(Via.Shim));
            var shared = new NamespaceOption { Pid = NamespaceMode.Pod };
            await using var pod = await CriPod.StartAsync(_containerd, "overwrite", linux: new LinuxPodSandboxConfig
            {
                SecurityContext = new LinuxSandboxSecurityContext { NamespaceOptions = shared },
            });
            ContainerConfig Container(string name, string[] command)
            {
                var config = CriPod.Busybox(name, command);
                config.Mounts.Add(new Mount { ContainerPath = Payloads.MountPoint, HostPath = Payloads.Build("exe-overwrite"), Readonly = true });
                config.Mounts.Add(new Mount { ContainerPath = "/decoy", HostPath = decoys });
                // Read-only roots: the neighbour's own busybox is not what this test is about.
                config.Linux.SecurityContext = new LinuxContainerSecurityContext { NamespaceOptions = shared, ReadonlyRootfs = true };
                return config;
            }
            await pod.StartContainerAsync(Container("attacker", PayloadArgs));
            var neighbour = await pod.StartContainerAsync(Container("neighbour", ["sleep", "1000"]));
            await WaitForReport(decoys, "READY");

            for (var i = 0; i < 12; i++)
            {
                var exec = i % 4 == 3
                    ? await pod.ExecSyncAsync(neighbour, 30, $"/decoy/decoy-{i / 4}/sleep", "1")
                    : await pod.ExecSyncAsync(neighbour, 30, "/bin/true");
                Assert.True(exec.ExitCode == 0, $"exec {i} exited {exec.ExitCode}: {exec.Stderr.ToStringUtf8()}");
            }
            File.WriteAllText(Path.Combine(decoys, "stop"), "");
            var report = await WaitForReport(decoys, "DONE");

            Assert.Contains("SEEN", report, StringComparison.Ordinal);
            AssertOnlyDecoysWereOverwritten(report, decoys, before);
        }
        finally
        {
            Directory.Delete(decoys, recursive: true);
        }
    }
}
