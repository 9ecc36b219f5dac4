using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>linux.seccomp: errno and kill actions, and containerd 1.6's RuntimeDefault profile
/// (Resources/containerd-1.6.20-default-seccomp.json: the linux.seccomp that containerd 1.6.20's
/// `ctr run --seccomp` writes into the spec on x86_64, with its default capabilities).</summary>
public sealed class SeccompTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("seccomp");

    public void Dispose() => _csrt.Dispose();

    private static JsonObject Profile(string defaultAction, params JsonObject[] syscalls) => new()
    {
        ["defaultAction"] = defaultAction,
        ["architectures"] = new JsonArray("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        ["syscalls"] = new JsonArray(syscalls.Select(s => (JsonNode)s).ToArray()),
    };

    private static JsonObject Rule(string action, int? errno, params string[] names)
    {
        var rule = new JsonObject { ["names"] = new JsonArray(names.Select(n => (JsonNode)JsonValue.Create(n)).ToArray()), ["action"] = action };
        if (errno is { } e)
            rule["errnoRet"] = e;
        return rule;
    }

    private static JsonObject RuntimeDefault() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "integration", "Csrt.IntegrationTests", "Runtime", "Resources", "containerd-1.6.20-default-seccomp.json")))!.AsObject();

    [Theory]
    [InlineData(1, "Operation not permitted")]
    [InlineData(13, "Permission denied")]
    public void ARuleWithErrno_MakesTheSyscallFailWithThatErrno(int errno, string message)
    {
        var bundle = _csrt.Bundle(["sh", "-c", "mkdir /tmp/denied 2>&1; echo created > /tmp/allowed && cat /tmp/allowed; grep -E '^Seccomp(_filters)?:' /proc/self/status"],
            c => c["linux"]!["seccomp"] = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", errno, "mkdir", "mkdirat")), readonlyRoot: false);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains(message, result.Stdout, StringComparison.Ordinal);
        Assert.Contains("created\n", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("Seccomp:\t2\n", result.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(bundle.UpperDir, "tmp", "denied")));
    }

    [Fact]
    public void AKillProcessRule_KillsTheProcessWithSigsys()
    {
        var bundle = _csrt.Bundle(["uname"],
            c => c["linux"]!["seccomp"] = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_KILL_PROCESS", null, "uname")));

        var result = _csrt.RunForeground(bundle);

        Assert.Equal(128 + 31, result.ExitCode); // SIGSYS
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public void ContainerdsRuntimeDefaultProfile_LoadsAndAShellRunsUnderIt()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo hello | cat; ls /bin | grep -c . >/dev/null && echo listed; grep -E '^Seccomp(_filters)?:' /proc/self/status; sleep 1000"],
            c => c["linux"]!["seccomp"] = RuntimeDefault());

        _csrt.RunDetached(bundle);
        var exec = _csrt.Exec(bundle.Id, "sh", "-c", "grep -E '^Seccomp:' /proc/self/status; unshare -n true 2>&1 || echo unshare-refused");

        var deadline = DateTime.UtcNow + RuntimeRoot.Timeout;
        while (!RuntimeRoot.Output(bundle).Contains("Seccomp_filters", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            Thread.Sleep(20);
        Assert.Equal("hello\nlisted\nSeccomp:\t2\nSeccomp_filters:\t1\n", RuntimeRoot.Output(bundle));
        Assert.True(exec.Succeeded, exec.ToString());
        Assert.StartsWith("Seccomp:\t2\n", exec.Stdout);
        Assert.Contains("unshare-refused", exec.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AnUnknownSyscallName_IsSkipped_AsRuncDoes()
    {
        var bundle = _csrt.Bundle(["echo", "still runs"],
            c => c["linux"]!["seccomp"] = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ERRNO", 1, "no_such_syscall_in_any_kernel", "mkdir")));

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("still runs\n", result.Stdout);
    }

    [Fact]
    public void AnUnknownAction_FailsCreateNamingTheJsonPath()
    {
        var bundle = _csrt.Bundle(["true"],
            c => c["linux"]!["seccomp"] = Profile("SCMP_ACT_ALLOW", Rule("SCMP_ACT_ALLOW", null, "read"), Rule("SCMP_ACT_EXPLODE", null, "mkdir")));

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("$.linux.seccomp.syscalls[1].action", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("SCMP_ACT_EXPLODE", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }
}
