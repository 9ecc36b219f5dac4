using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Runtime;
using Xunit;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// Leaked descriptors (the CVE-2024-21626 family): the container's init and an exec'd process list
/// their own /proc/&lt;pid&gt;/fd; only 0, 1 and 2 may be there. The positive control: the same
/// listing under runc with <c>--preserve-fds 1</c> shows the preserved fd 3, so the payload does
/// see a descriptor that is there.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class LeakedFdAttackTests
{
    // Two commands, so that sh forks ls instead of exec'ing it ($$ stays the shell).
    private static readonly string[] ListFds = ["sh", "-c", "ls /proc/$$/fd; true"];
    private readonly PrivateContainerd _containerd;

    public LeakedFdAttackTests(ContainerdFixture fixture) => _containerd = fixture.Containerd;

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    [InlineData(Via.Runc)]
    public void TheInitAndAnExecdProcess_HoldOnlyStdio(Via via)
    {
        using var target = new AttackTarget(via, _containerd, "fds");
        var init = target.Bundle(ListFds);
        var initFds = target.Run(init);
        Assert.True(initFds.Succeeded, initFds.ToString());
        Assert.Equal(["0", "1", "2"], Lines(initFds.Stdout));

        var running = target.Bundle(["sleep", "1000"]);
        target.Start(running);
        var execFds = target.Exec(running.Id, ListFds);
        Assert.True(execFds.Succeeded, execFds.ToString());
        Assert.Equal(["0", "1", "2"], Lines(execFds.Stdout));
    }

    [Fact]
    public void PositiveControl_UnderRunc_TheListingShowsAPreservedFd()
    {
        using var runc = RuntimeRoot.Runc("attack-fds-control");
        var bundle = runc.Bundle(ListFds);

        var result = Commands.Run("/bin/bash", ["-c", $"exec 3</etc/hostname; exec {runc.Binary} --root {runc.Root} run --preserve-fds 1 --bundle {bundle.Dir} {bundle.Id}"], RuntimeRoot.Timeout);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(["0", "1", "2", "3"], Lines(result.Stdout));
    }
}
