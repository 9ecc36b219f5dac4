using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>The recursive mount options ("rro", "rnosuid", …: mount_setattr with AT_RECURSIVE
/// after the bind) on a host tree with a submount, against runc, and the propagation rule CRI
/// relies on: a recursive read-only mount must be private.</summary>
public sealed class RecursiveReadOnlyMountTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("rro");
    private readonly RuntimeRoot _runc = RuntimeRoot.Runc("rro");
    private readonly HostDirectories _hostDirs = new();

    public void Dispose()
    {
        try
        {
            _csrt.Dispose();
            _runc.Dispose();
        }
        finally
        {
            _hostDirs.Dispose();
        }
    }

    /// <summary>A host directory holding "top" and a tmpfs submount "sub" holding "bar".</summary>
    private string TreeWithSubmount()
    {
        var dir = _hostDirs.Create("rro");
        File.WriteAllText(Path.Combine(dir, "top"), "top\n");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        Commands.RunOk("mount", "-t", "tmpfs", "-o", "size=1m", "rro-sub", Path.Combine(dir, "sub"));
        File.WriteAllText(Path.Combine(dir, "sub", "bar"), "bar\n");
        return dir;
    }

    private RuntimeRoot Runtime(string name) => name == "runc" ? _runc : _csrt;

    private static void AddMount(JsonObject config, string source, params string[] options) =>
        config["mounts"]!.AsArray().Add((JsonNode)new JsonObject
        {
            ["destination"] = "/mnt", ["type"] = "bind", ["source"] = source,
            ["options"] = new JsonArray(options.Select(o => (JsonNode)JsonValue.Create(o)).ToArray()),
        });

    // One line per directory: "<dir> writable", or "<dir> <touch's error>"; then both files read back.
    private const string WriteProbe =
        "for d in /mnt /mnt/sub; do if out=$(touch $d/written 2>&1); then echo \"$d writable\"; else echo \"$d $out\"; fi; done; " +
        "cat /mnt/top /mnt/sub/bar";

    private CommandResult RunProbe(string runtime, string source, params string[] options)
    {
        var rt = Runtime(runtime);
        var bundle = rt.Bundle(["sh", "-c", WriteProbe], c => AddMount(c, source, options));
        var result = rt.RunForeground(bundle);
        rt.AssertNothingLeft(bundle);
        return result;
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData("csrt", new[] { "rbind", "rprivate", "rro" })] // as containerd's CRI writes it
    [InlineData("csrt", new[] { "rbind", "rro" })]
    [InlineData("runc", new[] { "rbind", "rro" })]
    public void RbindRro_MakesTheTopAndTheSubmountReadOnly(string runtime, string[] options)
    {
        var source = TreeWithSubmount();

        var result = RunProbe(runtime, source, options);

        Assert.True(result.Succeeded, result.ToString());
        var lines = Lines(result.Stdout);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("/mnt ", lines[0], StringComparison.Ordinal);
        Assert.Contains("Read-only file system", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("/mnt/sub ", lines[1], StringComparison.Ordinal);
        Assert.Contains("Read-only file system", lines[1], StringComparison.Ordinal);
        Assert.Equal(["top", "bar"], lines[2..]);
        Assert.False(File.Exists(Path.Combine(source, "written")));
        Assert.False(File.Exists(Path.Combine(source, "sub", "written")));
        // The host's mounts keep their own flags: mount_setattr changed the container's copies.
        File.WriteAllText(Path.Combine(source, "sub", "host-still-writes"), "x");
    }

    [Theory]
    [InlineData("csrt")]
    [InlineData("runc")]
    public void RbindRo_LeavesTheSubmountWritable(string runtime)
    {
        var source = TreeWithSubmount();

        var result = RunProbe(runtime, source, "rbind", "rprivate", "ro");

        Assert.True(result.Succeeded, result.ToString());
        var lines = Lines(result.Stdout);
        Assert.Contains("Read-only file system", lines[0], StringComparison.Ordinal);
        Assert.Equal("/mnt/sub writable", lines[1]);
        Assert.True(File.Exists(Path.Combine(source, "sub", "written")));
    }

    [Fact]
    public void RecursiveFlagAndAtimeOptions_ReachTheSubmount()
    {
        var source = TreeWithSubmount();
        var bundle = _csrt.Bundle(["sh", "-c", "grep ' /mnt/sub ' /proc/self/mountinfo | cut -d ' ' -f 6"],
            c => AddMount(c, source, "rbind", "rprivate", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime"));

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var flags = result.Stdout.Trim().Split(',');
        foreach (var flag in new[] { "ro", "nosuid", "nodev", "noexec", "noatime" })
            Assert.Contains(flag, flags);
        _csrt.AssertNothingLeft(bundle);
    }

    [Theory]
    [InlineData("rshared")]
    [InlineData("rslave")]
    public void Rro_WithPropagationOtherThanPrivate_IsRefusedNamingTheOption(string propagation)
    {
        var source = TreeWithSubmount();
        var bundle = _csrt.Bundle(["true"], c => AddMount(c, source, "rbind", propagation, "rro"));
        var mountIndex = JsonNode.Parse(File.ReadAllText(Path.Combine(bundle.Dir, "config.json")))!["mounts"]!.AsArray().Count - 1;

        var result = _csrt.Run("create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"$.mounts[{mountIndex}].options[1]", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(propagation, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("private", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
        Assert.Equal([source + "/sub"], HostState.MountsUnder(source));
    }
}
