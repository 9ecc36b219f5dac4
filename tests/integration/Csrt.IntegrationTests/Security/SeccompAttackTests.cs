using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// linux.seccomp applies to the init's process and to every exec'd process: a profile that fails
/// mkdir and mkdirat with EPERM stops both from making a directory (and the filter shows in
/// /proc/self/status). runc is the reference, and the same payload without the profile makes the
/// directory, so the payload's refusal comes from the filter.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class SeccompAttackTests
{
    private const string Payload = "mkdir /tmp/made-by-$0 2>&1 && echo made; grep '^Seccomp:' /proc/self/status";
    private readonly PrivateContainerd _containerd;

    public SeccompAttackTests(ContainerdFixture fixture) => _containerd = fixture.Containerd;

    private static void DenyMkdir(JsonObject config) => config["linux"]!["seccomp"] = new JsonObject
    {
        ["defaultAction"] = "SCMP_ACT_ALLOW",
        ["architectures"] = new JsonArray("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        ["syscalls"] = new JsonArray(new JsonObject
        {
            ["names"] = new JsonArray("mkdir", "mkdirat"),
            ["action"] = "SCMP_ACT_ERRNO",
            ["errnoRet"] = 1,
        }),
    };

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData(Via.Cli)]
    [InlineData(Via.Shim)]
    [InlineData(Via.Runc)]
    public void AProfileDenyingMkdir_AppliesToTheInitAndToExecdProcesses(Via via)
    {
        using var target = new AttackTarget(via, _containerd, "seccomp");
        var bundle = target.Bundle(["sh", "-c", "(" + Payload + ") > /tmp/init-report; exec sleep 1000", "init"], DenyMkdir, readonlyRoot: false);
        target.Start(bundle);

        var exec = target.Exec(bundle.Id, ["sh", "-c", Payload, "exec"]);

        Assert.True(exec.Succeeded, exec.ToString());
        Assert.Equal(["mkdir: can't create directory '/tmp/made-by-exec': Operation not permitted", "Seccomp:\t2"], Lines(exec.Stdout));
        var initReport = Path.Combine(bundle.UpperDir, "tmp", "init-report");
        for (var i = 0; i < 600 && !(File.Exists(initReport) && File.ReadAllText(initReport).Contains("Seccomp:", StringComparison.Ordinal)); i++)
            Thread.Sleep(50);
        Assert.Equal(["mkdir: can't create directory '/tmp/made-by-init': Operation not permitted", "Seccomp:\t2"], Lines(File.ReadAllText(initReport)));
        Assert.False(Directory.Exists(Path.Combine(bundle.UpperDir, "tmp", "made-by-init")));
        Assert.False(Directory.Exists(Path.Combine(bundle.UpperDir, "tmp", "made-by-exec")));
    }

    [Fact]
    public void PositiveControl_UnderRunc_WithoutTheProfile_ThePayloadMakesItsDirectory()
    {
        using var target = new AttackTarget(Via.Runc, _containerd, "seccomp-control");
        var bundle = target.Bundle(["sh", "-c", Payload, "control"], readonlyRoot: false);

        var result = target.Run(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(["made", "Seccomp:\t0"], Lines(result.Stdout));
    }
}
