using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// What csrt refuses and how: malformed and invalid config.json, bad ids, missing bundle or
/// rootfs, duplicate ids, the systemd driver, and every operation in every container state
/// against runc's exit codes. Every failing create must leave no state, cgroup, mount or process.
/// </summary>
public sealed class BadInputTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("bad");
    private readonly RuntimeRoot _runc = RuntimeRoot.Runc("bad");

    public void Dispose()
    {
        try
        {
            _csrt.Dispose();
        }
        finally
        {
            _runc.Dispose();
        }
    }

    private CommandResult CreateFails(TestBundle bundle, params string[] extra)
    {
        var result = _csrt.Detached(bundle, new[] { "create", "--bundle", bundle.Dir }.Concat(extra).Append(bundle.Id).ToArray());
        Assert.True(result.ExitCode == 1, $"expected create to fail with exit code 1: {result}");
        Assert.StartsWith("csrt: ", result.Stderr);
        _csrt.AssertNothingLeft(bundle);
        return result;
    }

    [Fact]
    public void MalformedJson_IsRefusedNamingTheFileLineAndJsonPath()
    {
        var bundle = _csrt.RawBundle("{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\n    \"args\": [\"sh\",]\n  }\n}\n");

        var result = CreateFails(bundle);

        Assert.Contains(bundle.ConfigPath, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("line 4", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("$.process.args", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("relative-cwd", "$.process.cwd")]
    [InlineData("unknown-namespace", "$.linux.namespaces[5].type")]
    [InlineData("empty-args", "$.process.args")]
    [InlineData("wrong-type", "$.process.user.uid")]
    [InlineData("no-root", "$.root")]
    public void InvalidConfig_IsRefusedNamingTheJsonPath(string problem, string path)
    {
        var bundle = _csrt.Bundle(["true"], c =>
        {
            switch (problem)
            {
                case "relative-cwd":
                    c["process"]!["cwd"] = "relative/dir";
                    break;
                case "unknown-namespace":
                    c["linux"]!["namespaces"]!.AsArray().Add((JsonNode)new JsonObject { ["type"] = "bogus" });
                    break;
                case "empty-args":
                    c["process"]!["args"] = new JsonArray();
                    break;
                case "wrong-type":
                    c["process"]!["user"]!["uid"] = "root";
                    break;
                case "no-root":
                    c.Remove("root");
                    break;
            }
        });

        var result = CreateFails(bundle);

        Assert.Contains(path, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("config.json", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("")]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("long")]
    public void BadIds_AreRefused_WithoutTouchingTheFilesystem(string id)
    {
        if (id == "long")
            id = new string('a', 1025);
        var bundle = _csrt.Bundle(["true"]);

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("invalid container id", result.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_csrt.Root) && Directory.EnumerateFileSystemEntries(_csrt.Root).Any(), "something was created under the root");
        Assert.False(Directory.Exists(Path.Combine(Path.GetDirectoryName(_csrt.Root)!, "x")), "../x was created next to the root");
        foreach (var command in new[] { "state", "start", "delete", "kill", "pause" })
            Assert.Contains("invalid container id", _csrt.Run(command, id).Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingBundle_IsRefusedNamingIt()
    {
        var id = _csrt.TrackId(TestBundle.NewId("nobundle"));

        var result = _csrt.Run("create", "--bundle", "/run/csrt-test/no/such/bundle", id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("/run/csrt-test/no/such/bundle", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(id);
    }

    [Fact]
    public void AMissingRootfs_IsRefusedNamingIt()
    {
        var bundle = _csrt.Bundle(["true"], c => c["root"]!["path"] = "no-such-rootfs");

        var result = CreateFails(bundle);

        Assert.Contains(Path.Combine(bundle.Dir, "no-such-rootfs"), result.Stderr, StringComparison.Ordinal);
        Assert.Contains("$.root.path", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingProgram_IsRefusedInRuncsWords_WithoutAnExceptionTypeName()
    {
        var bundle = _csrt.Bundle(["no-such-program"]);

        var result = CreateFails(bundle);

        Assert.Contains("exec: \"no-such-program\": executable file not found in $PATH", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ADuplicateId_IsRefused_AndTheExistingContainerIsUntouched()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);
        var pid = _csrt.Pid(bundle.Id);

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("already exists", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("created", _csrt.Status(bundle.Id));
        Assert.Equal(pid, _csrt.Pid(bundle.Id));
    }

    [Fact]
    public void StartingTwice_IsRefused()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);
        _csrt.Ok("start", bundle.Id);

        var result = _csrt.Run("start", bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("running", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSystemdCgroupDriver_OnThisHybridHost_IsRefusedNamingTheLayout()
    {
        var bundle = _csrt.Bundle(["true"], c => c["linux"]!["cgroupsPath"] = "system.slice:csrt-test:hybrid");

        var result = CreateFails(bundle, "--systemd-cgroup");
        var beforeCommand = _csrt.Detached(bundle, "--systemd-cgroup", "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Contains("the systemd cgroup driver needs the unified cgroup v2 hierarchy", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("hybrid", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, beforeCommand.ExitCode);
        Assert.Contains("the systemd cgroup driver needs the unified cgroup v2 hierarchy", beforeCommand.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void ASystemdStyleCgroupsPath_IsRefusedClearly()
    {
        var bundle = _csrt.Bundle(["true"], c => c["linux"]!["cgroupsPath"] = "system.slice:csrt:test");

        var result = CreateFails(bundle);

        Assert.Contains("systemd", result.Stderr, StringComparison.Ordinal);
    }

    private static readonly string[] Operations =
        ["start", "kill", "kill --all", "delete", "delete --force", "pause", "resume", "exec", "state", "ps", "update", "events --stats"];

    /// <summary>Brings a new container of <paramref name="root"/> into <paramref name="state"/>; returns its id.</summary>
    private static string Prepare(RuntimeRoot root, string state)
    {
        var bundle = root.Bundle(["sleep", "1000"]);
        switch (state)
        {
            case "created":
                root.Create(bundle);
                break;
            case "running":
                root.RunDetached(bundle);
                break;
            case "paused":
                root.RunDetached(bundle);
                root.Ok("pause", bundle.Id);
                break;
            case "stopped":
                root.RunDetached(bundle);
                root.Ok("kill", bundle.Id, "KILL");
                root.WaitForStatus(bundle.Id, "stopped");
                break;
            case "nonexistent":
                break;
        }
        return bundle.Id;
    }

    private static CommandResult Apply(RuntimeRoot root, string operation, string id)
    {
        var words = operation.Split(' ');
        string[] args = words[0] switch
        {
            "kill" => [.. words, id, "KILL"],
            "exec" => ["exec", id, "true"],
            "update" => ["update", "--pids-limit", "100", id],
            _ => [.. words, id],
        };
        return root.Run(args);
    }

    [Theory]
    [InlineData("created")]
    [InlineData("running")]
    [InlineData("paused")]
    [InlineData("stopped")]
    [InlineData("nonexistent")]
    public void EveryOperation_InThisState_ExitsAsRuncDoes(string state)
    {
        var mismatches = new List<string>();
        foreach (var operation in Operations)
        {
            var ours = Apply(_csrt, operation, Prepare(_csrt, state));
            var runcs = Apply(_runc, operation, Prepare(_runc, state));

            if (ours.ExitCode != runcs.ExitCode)
                mismatches.Add($"{operation}: csrt exited {ours.ExitCode} ({ours.Stderr.Trim()}), runc {runcs.ExitCode} ({runcs.Stderr.Trim()})");
            else if (ours.ExitCode != 0 && !ours.Stderr.StartsWith("csrt: ", StringComparison.Ordinal))
                mismatches.Add($"{operation}: failed without saying why on stderr: {ours}");
        }

        Assert.True(mismatches.Count == 0, $"in state {state}:\n{string.Join('\n', mismatches)}");
    }

    [Fact]
    public void DeleteOfARunningContainer_SaysToStopItOrForce()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);

        var result = _csrt.Run("delete", bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("running", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("--force", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("running", _csrt.Status(bundle.Id));
    }
}
