using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>hooks: every stage gets the state on stdin, in the spec's order and namespaces; a failing
/// prestart fails create cleanly; a timeout is enforced; poststart failures are warnings.</summary>
public sealed class HookTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("hooks");

    public void Dispose() => _csrt.Dispose();

    private static JsonObject Hook(string path, string[] args, string[]? env = null, int? timeout = null)
    {
        var hook = new JsonObject { ["path"] = path, ["args"] = new JsonArray(args.Select(a => (JsonNode)JsonValue.Create(a)).ToArray()) };
        if (env is not null)
            hook["env"] = new JsonArray(env.Select(e => (JsonNode)JsonValue.Create(e)).ToArray());
        if (timeout is not null)
            hook["timeout"] = timeout;
        return hook;
    }

    [Fact]
    public void EveryStage_GetsTheStateOnStdin_WithItsStatus_InOrder_InTheRightNamespaces()
    {
        var log = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("hooklog"));
        var script = log + ".sh";
        File.WriteAllText(script, "#!/bin/sh\necho \"$1|$(cat)|$HOOK_ENV|$(readlink /proc/self/ns/mnt)\" >> \"$2\"\n");
        File.SetUnixFileMode(script, (UnixFileMode)FileModes.UserAllOthersReadExecute);
        try
        {
            JsonObject HostHook(string stage) => Hook(script, ["hook", stage, log], ["HOOK_ENV=env-" + stage]);
            var bundle = _csrt.Bundle(["true"], c => c["hooks"] = new JsonObject
            {
                ["prestart"] = new JsonArray(HostHook("prestart")),
                ["createRuntime"] = new JsonArray(HostHook("createRuntime")),
                ["createContainer"] = new JsonArray(HostHook("createContainer")),
                // startContainer runs inside the container: a program of the image, writing into it.
                ["startContainer"] = new JsonArray(Hook("/bin/sh", ["sh", "-c", "echo \"startContainer|$(cat)|$HOOK_ENV\" >> /tmp/hooks.log"], ["HOOK_ENV=env-startContainer"])),
                ["poststart"] = new JsonArray(HostHook("poststart")),
                ["poststop"] = new JsonArray(HostHook("poststop")),
            }, readonlyRoot: false);

            var result = _csrt.RunForeground(bundle);

            Assert.True(result.Succeeded, result.ToString());
            var host = File.ReadAllLines(log).Select(l => l.Split('|')).ToList();
            var inside = File.ReadAllLines(Path.Combine(bundle.UpperDir, "tmp", "hooks.log")).Select(l => l.Split('|')).Single();
            Assert.Equal(["prestart", "createRuntime", "createContainer", "poststart", "poststop"], host.Select(h => h[0]));
            var ownMnt = new FileInfo("/proc/self/ns/mnt").LinkTarget;
            // As crun: "created" until the user program runs, then "running", then "stopped".
            string[] expectedStatus = ["created", "created", "created", "running", "stopped"];
            int? pid = null;
            for (var i = 0; i < host.Count; i++)
            {
                var state = JsonNode.Parse(host[i][1])!.AsObject();
                Assert.Equal(bundle.Id, state["id"]!.GetValue<string>());
                Assert.Equal(bundle.Dir, state["bundle"]!.GetValue<string>());
                Assert.Equal(expectedStatus[i], state["status"]!.GetValue<string>());
                Assert.False(string.IsNullOrEmpty(state["ociVersion"]?.GetValue<string>()));
                pid ??= state["pid"]!.GetValue<int>();
                Assert.Equal(pid, state["pid"]!.GetValue<int>());
                Assert.Equal("env-" + host[i][0], host[i][2]);
                // createContainer runs in the container's mount namespace, the others in the runtime's.
                Assert.Equal(host[i][0] == "createContainer", host[i][3] != ownMnt);
            }
            Assert.Equal("startContainer", inside[0]);
            Assert.Equal("created", JsonNode.Parse(inside[1])!["status"]!.GetValue<string>());
            Assert.Equal("env-startContainer", inside[2]);
        }
        finally
        {
            File.Delete(log);
            File.Delete(script);
        }
    }

    [Fact]
    public void AFailingPrestartHook_FailsCreate_WithItsOutput_AndLeavesNothing()
    {
        var bundle = _csrt.Bundle(["true"], c => c["hooks"] = new JsonObject
        {
            ["prestart"] = new JsonArray(Hook("/bin/sh", ["sh", "-c", "cat >/dev/null; echo hook-says-no >&2; exit 3"])),
        });

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("prestart", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("exit status 3", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("hook-says-no", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void AHookTimeout_KillsTheHookAndFailsCreate()
    {
        var marker = (10_000 + RandomNumberGenerator.GetInt32(80_000)).ToString();
        var bundle = _csrt.Bundle(["true"], c => c["hooks"] = new JsonObject
        {
            ["createRuntime"] = new JsonArray(Hook("/bin/sleep", ["sleep", marker], timeout: 1)),
        });

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("timed out", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(HostState.AllPids(), p => HostState.CommandLine(p) is ["sleep", var m] && m == marker && HostState.IsAlive(p));
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void AFailingPoststartHook_IsAWarning_AndTheContainerKeepsRunning()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"], c => c["hooks"] = new JsonObject
        {
            ["poststart"] = new JsonArray(Hook("/bin/false", ["false"])),
        });

        var result = _csrt.Detached(bundle, "run", "-d", "--bundle", bundle.Dir, bundle.Id);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Contains("warning", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("poststart", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("running", _csrt.Status(bundle.Id));
    }

    [Fact]
    public void AMissingHookProgram_FailsCreateNamingIt()
    {
        var bundle = _csrt.Bundle(["true"], c => c["hooks"] = new JsonObject
        {
            ["createRuntime"] = new JsonArray(Hook("/no/such/hook", ["hook"])),
        });

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("/no/such/hook", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }
}
