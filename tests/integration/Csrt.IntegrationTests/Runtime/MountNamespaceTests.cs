using System.Diagnostics;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>A spec without a mount namespace of its own, run as runc and crun run it: the container
/// shares the runtime's mount namespace (or joins one by path) and is chrooted (or pivoted) into its
/// rootfs; the mounts it makes in a shared namespace go away with `delete`.</summary>
public sealed class MountNamespaceTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("mntns");
    private Process? _holder;

    public void Dispose()
    {
        try
        {
            // The joined namespace goes first: its copy of the rootfs mount goes with it.
            if (_holder is { HasExited: false })
            {
                _holder.Kill();
                _holder.WaitForExit(10_000);
            }
            _holder?.Dispose();
        }
        finally
        {
            _csrt.Dispose();
        }
    }

    private static string Marker(TestBundle bundle)
    {
        // A file only the rootfs has (the overlay's upper dir takes it).
        File.WriteAllText(Path.Combine(bundle.RootfsDir, "etc", "csrt-marker"), "in-rootfs-" + bundle.Id + "\n");
        return "in-rootfs-" + bundle.Id;
    }

    /// <summary>Our mountinfo lines whose mount point is "/".</summary>
    private static List<string> RootMounts() =>
        File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Split(' ')[4] == "/").ToList();

    private static string? MountNamespaceOf(int pid) => new FileInfo($"/proc/{pid}/ns/mnt").LinkTarget;

    [Fact]
    public void WithoutAMountNamespace_TheContainerSharesOurs_RunsInItsRootfs_AndDeleteLeavesNoMount()
    {
        // runc's default spec without "mount": masked and read-only paths and a read-only root too.
        var bundle = _csrt.Bundle(["sh", "-c", "cat /etc/csrt-marker; touch /written 2>/dev/null && echo root-writable || echo root-read-only; " +
            "wc -c < /proc/timer_list; grep ' /proc/sys ' /proc/self/mountinfo | cut -d ' ' -f 6 | cut -d , -f 1"],
            namespaces: ["pid", "network", "ipc", "uts"]);
        var marker = Marker(bundle);

        _csrt.Create(bundle);

        var init = _csrt.Pid(bundle.Id);
        Assert.Equal(MountNamespaceOf(Environment.ProcessId), MountNamespaceOf(init));
        Assert.Equal(bundle.RootfsDir, new FileInfo($"/proc/{init}/root").LinkTarget);
        // The spec's mounts are in our namespace, under the rootfs (where runc and crun make them).
        Assert.Contains(Path.Combine(bundle.RootfsDir, "proc"), HostState.MountsUnder(bundle.RootfsDir));
        _csrt.Ok("start", bundle.Id);
        _csrt.WaitForStatus(bundle.Id, "stopped");
        var output = RuntimeRoot.Output(bundle).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // /proc/timer_list masked (/dev/null over it), /proc/sys read-only.
        Assert.Equal([marker, "root-read-only", "0", "ro"], output);

        _csrt.Ok("delete", bundle.Id);

        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void WithoutAMountNamespace_NoPivotChangesNothing_TheInitStillChroots()
    {
        // MS_MOVE over "/" would move the rootfs over the root of the namespace we share.
        var bundle = _csrt.Bundle(["cat", "/etc/csrt-marker"], namespaces: ["pid", "uts"], readonlyRoot: false);
        var marker = Marker(bundle);
        var rootMountsBefore = RootMounts();

        var result = _csrt.RunForeground(bundle, null, "--no-pivot");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(marker + "\n", result.Stdout);
        Assert.Equal(rootMountsBefore, RootMounts());
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void AFailedCreateWithoutAMountNamespace_LeavesNoMount()
    {
        var bundle = _csrt.Bundle(["/does-not-exist"], namespaces: ["pid", "uts"]);

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("/does-not-exist", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void AMountNamespaceJoinedByPath_IsWhereTheContainerMountsAndPivots()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "cat /etc/csrt-marker; grep -c ' /proc ' /proc/self/mountinfo"],
            namespaces: ["pid", "uts"]);
        var marker = Marker(bundle);
        // A mount namespace held by a process, made after the bundle so it sees the rootfs.
        _holder = Process.Start(new ProcessStartInfo("unshare", ["--mount", "--propagation", "private", "sleep", "1000"]))!;
        var holderNs = MountNamespaceOf(_holder.Id);
        var deadline = DateTime.UtcNow + RuntimeRoot.Timeout;
        while (holderNs is null || holderNs == MountNamespaceOf(Environment.ProcessId))
        {
            Assert.True(DateTime.UtcNow < deadline, "unshare --mount did not enter a new mount namespace");
            Thread.Sleep(10);
            holderNs = MountNamespaceOf(_holder.Id);
        }
        var config = JsonNode.Parse(File.ReadAllText(bundle.ConfigPath))!;
        config["linux"]!["namespaces"]!.AsArray().Add((JsonNode)new JsonObject
        {
            ["type"] = "mount",
            ["path"] = $"/proc/{_holder.Id}/ns/mnt",
        });
        bundle.WriteConfig(config.ToJsonString());

        _csrt.Create(bundle);

        var init = _csrt.Pid(bundle.Id);
        Assert.Equal(holderNs, MountNamespaceOf(init));
        // Nothing of it in ours: the mounts and the pivot_root happened in the joined namespace.
        Assert.Equal([bundle.RootfsDir], HostState.MountsUnder(bundle.Dir));
        _csrt.Ok("start", bundle.Id);
        _csrt.WaitForStatus(bundle.Id, "stopped");
        Assert.Equal([marker, "1"], RuntimeRoot.Output(bundle).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        _csrt.Ok("delete", bundle.Id);
        _csrt.AssertNothingLeft(bundle);
    }
}
