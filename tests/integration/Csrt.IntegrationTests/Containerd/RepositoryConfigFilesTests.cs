using System.Text.Json;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Containerd;

/// <summary>The configuration files users copy (containerd-config.toml, hack/runtimeclass.yaml, hack/crictl/*.json) are valid.</summary>
public sealed class RepositoryConfigFilesTests
{
    private static readonly string ConfigFile = Path.Combine(RepoPaths.Root, "containerd-config.toml");

    [Fact]
    public void ContainerdConfigToml_IsAcceptedByContainerd_AndDeclaresTheCsrtHandler()
    {
        var dump = Commands.Run(PrivateContainerd.ContainerdBinary, ["--config", ConfigFile, "config", "dump"], TimeSpan.FromSeconds(30));
        Assert.True(dump.Succeeded, dump.ToString());

        Assert.Equal("\"io.containerd.csrt.v2\"", Setting(dump.Stdout, "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.csrt]", "runtime_type"));
        Assert.Equal("\"io.containerd.runc.v2\"", Setting(dump.Stdout, "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]", "runtime_type"));
        Assert.Equal($"\"{TestImages.PauseImage}\"", Setting(dump.Stdout, "[plugins.\"io.containerd.grpc.v1.cri\"]", "sandbox_image"));
        Assert.Equal("true", Setting(dump.Stdout, "[plugins.\"io.containerd.grpc.v1.cri\"]", "restrict_oom_score_adj"));
        Assert.Equal("\"/usr/lib/cni\"", Setting(dump.Stdout, "[plugins.\"io.containerd.grpc.v1.cri\".cni]", "bin_dir"));
    }

    [Fact]
    public void ContainerdConfigToml_CommentedCniConflist_IsValidJsonWithBridgeAndLoopback()
    {
        var lines = File.ReadAllLines(ConfigFile);
        var start = Array.FindIndex(lines, l => l.StartsWith("# /etc/cni/net.d/", StringComparison.Ordinal));
        Assert.True(start >= 0, "expected the commented conflist in containerd-config.toml");
        var json = string.Join('\n', lines.Skip(start + 1).SkipWhile(l => l.Trim() != "# {").TakeWhile(l => l.StartsWith('#')).Select(l => l.TrimStart('#')));

        using var doc = JsonDocument.Parse(json);
        var types = doc.RootElement.GetProperty("plugins").EnumerateArray().Select(p => p.GetProperty("type").GetString() ?? "").ToArray();
        Assert.Equal(new[] { "bridge", "loopback" }, types);
    }

    [Fact]
    public void CrictlRecipeFiles_AreValidJson_UsingTheLocalBusyboxImage()
    {
        using var container = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Hack, "crictl", "container.json")));
        using var sandbox = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Hack, "crictl", "sandbox.json")));

        Assert.Equal(TestImages.BusyboxImage, container.RootElement.GetProperty("image").GetProperty("image").GetString());
        Assert.Equal("sh", container.RootElement.GetProperty("command")[0].GetString());
        Assert.False(string.IsNullOrEmpty(sandbox.RootElement.GetProperty("metadata").GetProperty("uid").GetString()), "sandbox.json needs metadata.uid");
        Assert.Contains("handler: csrt", File.ReadAllText(Path.Combine(RepoPaths.Hack, "runtimeclass.yaml")), StringComparison.Ordinal);
    }

    /// <summary>The value of <paramref name="key"/> in <paramref name="table"/> of containerd's TOML dump.</summary>
    private static string Setting(string toml, string table, string key)
    {
        var lines = toml.Split('\n').Select(l => l.Trim()).ToList();
        var start = lines.IndexOf(table);
        Assert.True(start >= 0, $"table {table} missing from containerd's config dump");
        foreach (var line in lines.Skip(start + 1).TakeWhile(l => !l.StartsWith('[')))
        {
            var eq = line.IndexOf('=');
            if (eq > 0 && line[..eq].Trim() == key)
                return line[(eq + 1)..].Trim();
        }
        throw new Xunit.Sdk.XunitException($"{key} not set in {table} of containerd's config dump");
    }
}
