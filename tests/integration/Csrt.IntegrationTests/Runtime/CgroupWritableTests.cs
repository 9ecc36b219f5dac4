using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// containerd 2.1's <c>cgroup_writable = true</c> arrives as the /sys/fs/cgroup mount with "rw"
/// instead of "ro" (facts sheet §8.5): the container can then manage its own cgroup (make a child
/// and move into it), and with "ro" it cannot.
/// </summary>
public sealed class CgroupWritableTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("cgwritable");

    public void Dispose() => _csrt.Dispose();

    // Every hierarchy mounted in the container (v1: one per controller; v2: the root itself).
    private const string MakeChild =
        "for d in /sys/fs/cgroup/pids /sys/fs/cgroup; do if [ -e $d/cgroup.procs ]; then " +
        "if mkdir $d/child 2>/dev/null && echo $$ > $d/child/cgroup.procs; then echo made $d; else echo refused $d; fi; break; fi; done";

    private CommandResult RunWithCgroupMount(string mode)
    {
        var bundle = _csrt.Bundle(["sh", "-c", MakeChild], c =>
        {
            foreach (var m in c["mounts"]!.AsArray())
            {
                if ((string?)m!["destination"] == "/sys/fs/cgroup")
                    m["options"] = new JsonArray("nosuid", "noexec", "nodev", "relatime", mode);
            }
        });
        var result = _csrt.RunForeground(bundle);
        _csrt.AssertNothingLeft(bundle);
        return result;
    }

    [Fact]
    public void ARwCgroupMount_LetsTheContainerMakeAChildCgroupAndMoveIntoIt()
    {
        var result = RunWithCgroupMount("rw");

        Assert.True(result.Succeeded, result.ToString());
        Assert.StartsWith("made ", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ARoCgroupMount_RefusesAChildCgroup()
    {
        var result = RunWithCgroupMount("ro");

        Assert.True(result.Succeeded, result.ToString());
        Assert.StartsWith("refused ", result.Stdout, StringComparison.Ordinal);
    }
}
