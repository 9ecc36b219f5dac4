using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// The shim's ttrpc socket as seen by a container process of another identity: the socket file
/// alone is bind mounted into a container (so the 0700 directory /run/containerd/s does not stand
/// in the way) and Payloads/ttrpc-connect.c connects and sends a Connect request. What makes it
/// safe, layer by layer: the file's mode 0600 refuses uid 65534 at connect (EACCES); uid 0 with
/// gid 1 passes the mode but fails the shim's SO_PEERCRED check (same uid and gid as the shim),
/// so the connection is dropped unanswered. The positive control: as uid 0 gid 0 the same client
/// gets an answer, from the csrt shim and from containerd's runc shim.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class ShimSocketAttackTests(ContainerdFixture fixture, ITestOutputHelper log)
{
    private readonly PrivateContainerd _containerd = fixture.Containerd;
    private readonly ITestOutputHelper _log = log;

    /// <summary>A task on <paramref name="runtime"/>; returns its id and its shim's socket path.</summary>
    private (string Id, string Socket) StartTask(string runtime)
    {
        var id = TestBundle.NewId("sock");
        _containerd.Ctr("run", "-d", "--runtime", runtime, TestImages.BusyboxImage, id, "sleep", "1000").EnsureSuccess();
        var address = File.ReadAllText(Path.Combine(_containerd.BundleDir(id), "address")).Trim();
        Assert.StartsWith("unix://", address, StringComparison.Ordinal);
        return (id, address["unix://".Length..]);
    }

    /// <summary>The client's one-line verdict, run as uid:gid in a container of <paramref name="target"/>.</summary>
    private string Connect(AttackTarget target, string socket, int uid, int gid)
    {
        var bundle = target.Bundle([Payloads.MountPoint + "/ttrpc-connect", "/shim.sock"], c =>
        {
            c["process"]!["user"] = new JsonObject { ["uid"] = uid, ["gid"] = gid };
            AttackTarget.AddMount(c, Payloads.MountPoint, "bind", Payloads.Build("ttrpc-connect"), "rbind", "ro");
            AttackTarget.AddMount(c, "/shim.sock", "bind", socket, "bind");
        });
        var result = target.Run(bundle);
        _log.WriteLine($"uid {uid} gid {gid}: {result}");
        Assert.True(result.Succeeded, result.ToString());
        return result.Stdout.Trim();
    }

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    public void AContainerProcessOfAnotherUserOrGroup_GetsNoAnswerFromTheShimsSocket(Via via)
    {
        var (task, socket) = StartTask(PrivateContainerd.CsrtRuntime);
        try
        {
            using var target = new AttackTarget(via, _containerd, "shim-socket");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));

            Assert.Equal("connect=Permission denied", Connect(target, socket, 65534, 65534));
            Assert.Equal("closed", Connect(target, socket, 0, 1));
            Assert.Equal("answered", Connect(target, socket, 0, 0));
        }
        finally
        {
            _containerd.RemoveTask(task);
        }
    }

    [Fact]
    public void PositiveControl_UnderRunc_TheClientGetsAnAnswerFromTheRuncShimsSocket()
    {
        var (task, socket) = StartTask(PrivateContainerd.RuncRuntime);
        try
        {
            using var target = new AttackTarget(Via.Runc, _containerd, "shim-socket-control");

            Assert.Equal("answered", Connect(target, socket, 0, 0));
            Assert.Equal("connect=Permission denied", Connect(target, socket, 65534, 65534));
        }
        finally
        {
            _containerd.RemoveTask(task);
        }
    }
}
