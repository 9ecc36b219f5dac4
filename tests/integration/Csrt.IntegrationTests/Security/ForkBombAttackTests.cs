using System.Globalization;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// A fork bomb under <c>linux.resources.pids.limit</c> = 50: the container's pids.current never
/// exceeds the limit, the host still forks, and a forced delete leaves nothing (no process, no
/// cgroup, no state). The bomb does fork: its cgroup's pids.events counts refused forks, under
/// csrt and under runc alike.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class ForkBombAttackTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private const int Limit = 50;
    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    private static long ReadCount(string file, string? key = null)
    {
        var text = File.ReadAllText(file).Trim();
        return long.Parse(key is null ? text : text.Split('\n').Single(l => l.StartsWith(key + " ", StringComparison.Ordinal))[(key.Length + 1)..], CultureInfo.InvariantCulture);
    }

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    [InlineData(Via.Runc)]
    public void AForkBombUnderAPidsLimit_StaysWithinIt_AndForcedDeleteCleansUp(Via via)
    {
        using var target = new AttackTarget(via, _containerd, "forkbomb");
        // The init becomes sleep (exec: no fork needed) and never reaps, so the bomb's processes
        // stay counted until delete.
        var bundle = target.Bundle(["sh", "-c", "f() { f | f & }; f; exec sleep 1000"],
            c => c["linux"]!["resources"]!["pids"] = new JsonObject { ["limit"] = Limit });
        var cgroup = Path.Combine("/sys/fs/cgroup/pids", RuntimeRoot.CgroupsPathOf(bundle.Id).TrimStart('/'));

        target.Start(bundle);
        Assert.Equal(Limit.ToString(CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(cgroup, "pids.max")).Trim());
        long highest = 0, refused = 0;
        for (var i = 0; i < 1500 && refused == 0; i++)
        {
            highest = Math.Max(highest, ReadCount(Path.Combine(cgroup, "pids.current")));
            refused = ReadCount(Path.Combine(cgroup, "pids.events"), "max");
            Thread.Sleep(20);
        }
        for (var i = 0; i < 50; i++)
        {
            highest = Math.Max(highest, ReadCount(Path.Combine(cgroup, "pids.current")));
            Thread.Sleep(20);
        }
        _log.WriteLine($"highest pids.current {highest}, refused forks {refused}");

        Assert.True(refused > 0, "the bomb never hit the limit: the payload did not fork");
        Assert.InRange(highest, 1, Limit);
        Assert.True(Commands.Run("/bin/true").Succeeded, "the host cannot fork");
        var deleted = target.ForceDelete(bundle.Id);
        Assert.True(deleted.Succeeded, deleted.ToString());
        target.AssertNothingLeft(bundle);
    }
}
