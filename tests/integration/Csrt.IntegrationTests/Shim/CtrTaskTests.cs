using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>containerd's own client (ctr) driving tasks on containerd-shim-csrt-v2.</summary>
[Collection(ContainerdCollection.Name)]
public sealed class CtrTaskTests
{
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public CtrTaskTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    private void Cleanup(string id)
    {
        _containerd.Ctr("tasks", "kill", "-s", "KILL", id);
        _containerd.Ctr("tasks", "delete", "-f", id);
        _containerd.Ctr("containers", "delete", id);
    }

    [Fact]
    public void CtrRunWithTheCsrtRuntimePrintsTheContainersOutputAndItsExitStatus()
    {
        var id = TestBundle.NewId("ctr-run");
        try
        {
            var r = _containerd.Ctr(TimeSpan.FromSeconds(60), "run", "--rm", "--runtime", PrivateContainerd.CsrtRuntime,
                TestImages.BusyboxImage, id, "sh", "-c", "echo hello from csrt; exit 7");
            _log.WriteLine($"stdout: {r.Stdout}\nstderr: {r.Stderr}");
            if (r.ExitCode != 7)
                _log.WriteLine(_containerd.ReadLog());
            Assert.Contains("hello from csrt", r.Stdout);
            Assert.Equal(7, r.ExitCode);
        }
        finally
        {
            Cleanup(id);
        }
    }
}
