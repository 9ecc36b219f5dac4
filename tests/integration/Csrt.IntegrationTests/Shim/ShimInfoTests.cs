using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Containerd.Types;
using Csrt.IntegrationTests.Fixtures;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Xunit;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// `containerd-shim-csrt-v2 -info` run the way containerd 2.x runs it (facts sheet §2.1): argv
/// exactly `&lt;shim&gt; -info`, containerd's cwd, the options Any or nothing on stdin, a raw
/// RuntimeInfo on stdout, decoded here with the generated proto.
/// </summary>
public sealed class ShimInfoTests
{
    private static RuntimeInfo Info(byte[] stdin)
    {
        var r = RawCommand.Run(RepoPaths.RequireBinary(RepoPaths.ShimBinary), ["-info"], stdin, workingDirectory: "/");
        Assert.True(r.ExitCode == 0, $"-info exited {r.ExitCode}: {r.StderrText}");
        Assert.Equal("", r.StderrText);
        return RuntimeInfo.Parser.ParseFrom(r.Stdout);
    }

    [Fact]
    public void InfoWithoutOptionsReportsTheSameFeaturesAsCsrtFeatures()
    {
        var info = Info([]);
        Assert.Equal("io.containerd.csrt.v2", info.Name);
        Assert.False(string.IsNullOrEmpty(info.Version?.Version));
        Assert.Null(info.Options);
        Assert.Equal("types.containerd.io/opencontainers/runtime-spec/1/features/Features", info.Features.TypeUrl);
        var features = JsonNode.Parse(info.Features.Value.ToStringUtf8())!;
        var cli = JsonNode.Parse(Commands.RunOk(RepoPaths.RequireBinary(RepoPaths.CsrtBinary), "features"))!;
        Assert.True(JsonNode.DeepEquals(cli, features), $"-info features:\n{features}\ncsrt features:\n{cli}");
        // containerd 2.x reads features.linux without a nil check (facts sheet §2.1).
        Assert.IsType<JsonObject>(features["linux"]);
        Assert.IsType<JsonObject>(features["linux"]!["mountExtensions"]?["idmap"]);
    }

    [Fact]
    public void InfoEchoesTheCriRuntimeOptionsItReadFromStdin()
    {
        var options = new Any
        {
            TypeUrl = "runtimeoptions.v1.Options",
            Value = new global::Containerd.RuntimeOptions.V1.Options { ConfigBody = ByteString.CopyFromUtf8("SystemdCgroup = true\n") }.ToByteString(),
        };
        Assert.Equal(options.ToByteString(), Info(options.ToByteArray()).Options.ToByteString());
    }

    [Fact]
    public void InfoEchoesRuncOptionsItReadFromStdin()
    {
        var options = new Any
        {
            TypeUrl = "containerd.runc.v1.Options",
            Value = new global::Containerd.Runc.V1.Options { SystemdCgroup = true, IoUid = 1000, IoGid = 1000 }.ToByteString(),
        };
        Assert.Equal(options.ToByteString(), Info(options.ToByteArray()).Options.ToByteString());
    }

    [Fact]
    public void InfoWithGarbageOnStdinFailsWithAClearErrorAndPrintsNothing()
    {
        var garbage = "garbage, not protobuf\n"u8.ToArray();
        var r = RawCommand.Run(RepoPaths.RequireBinary(RepoPaths.ShimBinary), ["-info"], garbage, workingDirectory: "/");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Empty(r.Stdout);
        Assert.Contains($"-info: stdin ({garbage.Length} bytes) is not a google.protobuf.Any of runtime options", r.StderrText, StringComparison.Ordinal);
    }
}

/// <summary>A finished process run with binary stdin and stdout (containerd's shim calls are protobuf both ways).</summary>
internal sealed record RawResult(int ExitCode, byte[] Stdout, string StderrText);

internal static class RawCommand
{
    public static RawResult Run(string file, IEnumerable<string> args, byte[] stdin,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var psi = Commands.StartInfo(file, args, environment, workingDirectory);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        using var stdout = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            p.StandardInput.BaseStream.Write(stdin);
            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // Exited without reading stdin; the exit code tells.
        }
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {limit.TotalSeconds} s");
        }
        // The shim's daemon gets /dev/null, so the pipes close with the command.
        if (!Task.WaitAll([copy, stderr], TimeSpan.FromSeconds(10)))
            throw new TimeoutException($"{file} {string.Join(' ', args)}: stdout or stderr still held open after it exited");
        return new RawResult(p.ExitCode, stdout.ToArray(), stderr.Result);
    }
}
