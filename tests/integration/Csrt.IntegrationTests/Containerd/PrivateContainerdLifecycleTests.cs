using System.Runtime.Versioning;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Containerd;

/// <summary>
/// Start, restart and disposal of <see cref="PrivateContainerd"/>, each test with instances of its
/// own (they run beside the shared collection instance, which proves instances do not clash).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PrivateContainerdLifecycleTests
{
    [Fact]
    public void TwoInstances_RunSideBySide_WithTheirOwnSocketsDirsAndSubnets()
    {
        using var a = PrivateContainerd.Start(new PrivateContainerdOptions { ImportImages = false });
        using var b = PrivateContainerd.Start(new PrivateContainerdOptions { ImportImages = false });

        Assert.NotEqual(a.Slot, b.Slot);
        Assert.NotEqual(a.Address, b.Address);
        Assert.NotEqual(a.Root, b.Root);
        Assert.NotEqual(a.Subnet, b.Subnet);
        Assert.NotEqual(a.StreamPort, b.StreamPort);
        Assert.Contains("Server:", a.CtrOk("version"), StringComparison.Ordinal);
        Assert.Contains("Server:", b.CtrOk("version"), StringComparison.Ordinal);
        Assert.True(a.Address.Length <= 107 - 7, $"socket path too long for sun_path: {a.Address}");
    }

    [Fact]
    public void CsrtRuntime_IsResolvedToTheShimInTheBinDir_WithThisInstancesAddresses()
    {
        // A stand-in shim that records how containerd calls it and fails, so this test does not
        // depend on the real shim's progress.
        var binDir = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("fakebin"));
        var record = Path.Combine(binDir, "calls");
        Directory.CreateDirectory(binDir);
        try
        {
            var fake = Path.Combine(binDir, "containerd-shim-csrt-v2");
            File.WriteAllText(fake, $"#!/bin/sh\necho \"$* TTRPC_ADDRESS=$TTRPC_ADDRESS\" >> {record}\necho 'fake shim refuses' >&2\nexit 1\n");
            File.SetUnixFileMode(fake, (UnixFileMode)FileModes.UserAllOthersReadExecute);
            using var ctd = PrivateContainerd.Start(new PrivateContainerdOptions { BinDir = binDir });

            var run = ctd.Ctr("run", "--rm", "--runtime", PrivateContainerd.CsrtRuntime, TestImages.BusyboxImage, TestBundle.NewId("fake"), "true");

            Assert.False(run.Succeeded, "the fake shim cannot run anything");
            Assert.Contains("fake shim refuses", run.Stderr, StringComparison.Ordinal);
            var start = Assert.Single(File.ReadAllLines(record), l => l.Contains(" start ", StringComparison.Ordinal));
            Assert.Contains($"-address {ctd.Address} ", start, StringComparison.Ordinal);
            Assert.EndsWith($"TTRPC_ADDRESS={ctd.TtrpcAddress}", start, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(binDir, recursive: true);
        }
    }

    [Fact]
    public void Restart_KeepsARunningRuncTaskAndItsShim_AndContainerdReconnects()
    {
        using var ctd = PrivateContainerd.Start();
        var id = TestBundle.NewId("restart");
        ctd.CtrOk("run", "-d", "--runtime", PrivateContainerd.RuncRuntime, TestImages.BusyboxImage, id, "sleep", "1000");
        var taskPid = TaskPid(ctd, id);
        var shim = Assert.Single(ShimsOf(ctd));
        var oldContainerd = ctd.Pid;

        ctd.Restart();

        Assert.NotEqual(oldContainerd, ctd.Pid);
        Assert.False(HostState.IsAlive(oldContainerd), "the old containerd is still running");
        Assert.True(HostState.IsAlive(shim), "the runc shim did not survive the containerd restart");
        Assert.True(HostState.IsAlive(taskPid), "the task's process did not survive the containerd restart");
        Assert.Equal(taskPid, TaskPid(ctd, id));
        Assert.Equal("after restart\n", ctd.CtrOk("tasks", "exec", "--exec-id", "e1", id, "echo", "after", "restart"));
        ctd.CtrOk("tasks", "kill", "-s", "SIGKILL", id);
        Assert.True(HostState.WaitGone([taskPid], TimeSpan.FromSeconds(10)), "SIGKILL through the reconnected shim did not end the task");
    }

    [Fact]
    public void Dispose_WithARunningTask_LeavesNoProcessMountDirSocketOrBridgeBehind()
    {
        var ctd = PrivateContainerd.Start();
        Leftovers probe;
        try
        {
            probe = StartTaskAndRecord(ctd);
            Commands.RunOk("ip", "link", "add", ctd.BridgeName, "type", "bridge");
        }
        finally
        {
            ctd.Dispose();
        }

        probe.AssertGone();
        Assert.False(HostState.LinkExists(ctd.BridgeName), $"bridge {ctd.BridgeName} is still there");
    }

    [Fact]
    public void Dispose_AfterContainerdWasKilled_StillRemovesItsShimsAndTheirContainers()
    {
        var ctd = PrivateContainerd.Start();
        Leftovers probe;
        try
        {
            probe = StartTaskAndRecord(ctd);
            // A crashed containerd cannot kill anything: Dispose has to find the shims itself.
            Signals.Send(ctd.Pid, Signals.SIGKILL);
            Assert.True(HostState.WaitGone([probe.Containerd], TimeSpan.FromSeconds(10)), "containerd survived SIGKILL");
            Assert.True(HostState.IsAlive(probe.Shim), "the shim died with containerd; this test needs it alive");
        }
        finally
        {
            ctd.Dispose();
        }

        probe.AssertGone();
    }

    [Fact]
    public void Start_AfterAnInstanceWasAbandonedByACrashedRun_CleansUpEverythingItLeft()
    {
        var abandoned = PrivateContainerd.Start();
        Leftovers probe;
        try
        {
            probe = StartTaskAndRecord(abandoned);
        }
        catch
        {
            abandoned.Dispose();
            throw;
        }
        abandoned.Abandon();

        using (PrivateContainerd.Start(new PrivateContainerdOptions { ImportImages = false }))
        {
            Assert.True(HostState.WaitGone([probe.Containerd, probe.Shim, probe.Task], TimeSpan.FromSeconds(5)),
                "the abandoned instance's containerd, shim or task is still alive after the next Start");
            Assert.False(File.Exists(probe.ShimSocket), $"shim socket {probe.ShimSocket} still exists");
            Assert.False(Directory.Exists(probe.RuncState), $"runc state {probe.RuncState} still exists");
        }
        probe.AssertGone();
    }

    private static Leftovers StartTaskAndRecord(PrivateContainerd ctd)
    {
        var id = TestBundle.NewId("dispose");
        ctd.CtrOk("run", "-d", "--runtime", PrivateContainerd.RuncRuntime, TestImages.BusyboxImage, id, "sleep", "1000");
        var bundle = ctd.BundleDir(id);
        var socket = File.ReadAllText(Path.Combine(bundle, "address")).Trim()["unix://".Length..];
        Assert.True(File.Exists(socket), $"expected the runc shim's socket at {socket}");
        Assert.NotEmpty(HostState.MountsUnder(ctd.State));
        return new Leftovers(ctd, ctd.Pid, Assert.Single(ShimsOf(ctd)), TaskPid(ctd, id), socket, $"/run/containerd/runc/default/{id}");
    }

    private static int TaskPid(PrivateContainerd ctd, string id)
    {
        var line = ctd.CtrOk("tasks", "ls").Split('\n').Single(l => l.StartsWith(id + " ", StringComparison.Ordinal));
        return int.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    private static List<int> ShimsOf(PrivateContainerd ctd) =>
        HostState.ProcessesWithArgument(ctd.Address).Where(p => HostState.Exe(p)?.Contains("containerd-shim", StringComparison.Ordinal) == true).ToList();

    private sealed record Leftovers(PrivateContainerd Ctd, int Containerd, int Shim, int Task, string ShimSocket, string RuncState)
    {
        public void AssertGone()
        {
            Assert.True(HostState.WaitGone([Containerd, Shim, Task], TimeSpan.FromSeconds(5)),
                $"still alive: {string.Join(", ", new[] { Containerd, Shim, Task }.Where(HostState.IsAlive))}");
            Assert.Empty(HostState.ProcessesWithArgument(Ctd.Address));
            Assert.Empty(HostState.MountsUnder(Ctd.Dir));
            Assert.Empty(HostState.MountsUnder(Ctd.VarDir));
            Assert.False(Directory.Exists(Ctd.Dir), $"{Ctd.Dir} still exists");
            Assert.False(Directory.Exists(Ctd.VarDir), $"{Ctd.VarDir} still exists");
            Assert.False(File.Exists(ShimSocket), $"shim socket {ShimSocket} still exists");
            Assert.False(Directory.Exists(RuncState), $"runc state {RuncState} still exists");
        }
    }
}
