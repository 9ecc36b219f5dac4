using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>`spec` and `features` against runc's, and the generated config running.</summary>
public sealed class FeaturesAndSpecTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("spec");
    private readonly string _dir = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("spec"));

    public FeaturesAndSpecTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        _csrt.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static IEnumerable<string> Keys(JsonNode? node) => node!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal);

    private JsonObject Spec(string binary, params string[] extra)
    {
        var dir = Path.Combine(_dir, Path.GetFileName(binary) + string.Concat(extra));
        Directory.CreateDirectory(dir);
        Commands.Run(binary, new[] { "spec", "--bundle", dir }.Concat(extra), RuntimeRoot.Timeout).EnsureSuccess();
        return JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Spec_WritesRuncsDefaultConfig(bool rootless)
    {
        string[] extra = rootless ? ["--rootless"] : [];
        var ours = Spec(_csrt.Binary, extra);
        var runcs = Spec("/usr/sbin/runc", extra);

        Assert.Equal(Keys(runcs), Keys(ours));
        Assert.Equal(Keys(runcs["process"]), Keys(ours["process"]));
        Assert.Equal(Keys(runcs["linux"]), Keys(ours["linux"]));
        Assert.Equal(runcs["process"]!["args"]!.ToJsonString(), ours["process"]!["args"]!.ToJsonString());
        Assert.Equal(runcs["process"]!["capabilities"]!.ToJsonString(), ours["process"]!["capabilities"]!.ToJsonString());
        Assert.Equal(runcs["mounts"]!.AsArray().Select(m => m!["destination"]!.GetValue<string>()), ours["mounts"]!.AsArray().Select(m => m!["destination"]!.GetValue<string>()));
        Assert.Equal(runcs["linux"]!["namespaces"]!.ToJsonString(), ours["linux"]!["namespaces"]!.ToJsonString());
        Assert.Equal(runcs["linux"]!["maskedPaths"]!.ToJsonString(), ours["linux"]!["maskedPaths"]!.ToJsonString());
        Assert.Equal(runcs["linux"]!["readonlyPaths"]!.ToJsonString(), ours["linux"]!["readonlyPaths"]!.ToJsonString());
    }

    [Fact]
    public void Spec_RefusesToOverwriteAConfig()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), "{}");

        var result = Commands.Run(_csrt.Binary, ["spec", "--bundle", _dir], RuntimeRoot.Timeout);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("exists", result.Stderr, StringComparison.Ordinal);
        Assert.Equal("{}", File.ReadAllText(Path.Combine(_dir, "config.json")));
    }

    [Fact]
    public void TheGeneratedSpec_Runs()
    {
        var bundle = _csrt.Bundle(["true"]);
        var generated = Path.Combine(_dir, "generated");
        Directory.CreateDirectory(generated);
        Commands.Run(_csrt.Binary, ["spec", "--bundle", generated], RuntimeRoot.Timeout).EnsureSuccess();
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(generated, "config.json")))!.AsObject();
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new JsonArray("sh", "-c", "echo generated spec runs as $(id -u) on $(hostname)");
        bundle.WriteConfig(config.ToJsonString());

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal($"generated spec runs as 0 on {config["hostname"]!.GetValue<string>()}\n", result.Stdout);
    }

    [Fact]
    public void Features_IsAFeaturesDocumentWithRuncsFields()
    {
        var ours = JsonNode.Parse(Commands.RunOk(_csrt.Binary, "features"))!.AsObject();
        var runcs = JsonNode.Parse(Commands.RunOk("/usr/sbin/runc", "features"))!.AsObject();

        // runc 1.1.5 predates potentiallyUnsafeConfigAnnotations (runtime-spec 1.2).
        Assert.Equal(Keys(runcs), Keys(ours).Where(k => k != "potentiallyUnsafeConfigAnnotations"));
        foreach (var key in Keys(runcs["linux"]))
            Assert.True(ours["linux"]!.AsObject().ContainsKey(key), $"features has no linux.{key} (runc has)");
        Assert.Equal("1.0.0", ours["ociVersionMin"]!.GetValue<string>());
        Assert.Equal(["createContainer", "createRuntime", "poststart", "poststop", "prestart", "startContainer"],
            ours["hooks"]!.AsArray().Select(h => h!.GetValue<string>()).Order(StringComparer.Ordinal));
        var namespaces = ours["linux"]!["namespaces"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        foreach (var ns in new[] { "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time" })
            Assert.Contains(ns, namespaces);
        var mountOptions = ours["mountOptions"]!.AsArray().Select(o => o!.GetValue<string>()).ToList();
        foreach (var option in new[] { "bind", "rbind", "ro", "nosuid", "rslave", "tmpcopyup", "rro", "idmap", "ridmap" })
            Assert.Contains(option, mountOptions);
        Assert.True(ours["linux"]!["mountExtensions"]!["idmap"]!["enabled"]!.GetValue<bool>());
        Assert.True(ours["linux"]!["seccomp"]!["enabled"]!.GetValue<bool>());
        Assert.Contains("SCMP_ACT_ERRNO", ours["linux"]!["seccomp"]!["actions"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Contains("CAP_SYS_ADMIN", ours["linux"]!["capabilities"]!.AsArray().Select(a => a!.GetValue<string>()));
    }

    [Fact]
    public void VersionAndHelp_Work()
    {
        Assert.Matches(@"^\d+\.\d+\.\d+", Commands.RunOk(_csrt.Binary, "--version"));
        var help = Commands.RunOk(_csrt.Binary, "--help");
        foreach (var command in new[] { "create", "start", "run", "state", "kill", "delete", "exec", "list", "ps", "pause", "resume", "update", "events", "spec", "features" })
            Assert.Contains(command, help, StringComparison.Ordinal);
    }
}
