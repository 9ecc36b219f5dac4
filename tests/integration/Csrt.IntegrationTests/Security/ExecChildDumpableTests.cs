using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Runtime;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// The CVE-2016-9962 class: between joining a container and its final execve, an exec child is a
/// clone of the runtime (or of the shim) holding its descriptors. A process of the container
/// that loops over /proc/*/fd/* must never open one of them: the child is non-dumpable from its
/// first instruction until the user program replaces it.
/// <para>
/// The exec'd program is found at the end of a long PATH, so every exec spends a while in the
/// container's pid namespace with the container's uid and capabilities before its execve: the
/// moment a dumpable child is open to the container's processes.
/// </para>
/// </summary>
public sealed class ExecChildDumpableTests : IDisposable
{
    private const int CliExecs = 80;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(50);

    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("dumpable");
    private readonly ITestOutputHelper _log;

    public ExecChildDumpableTests(ITestOutputHelper log) => _log = log;

    public void Dispose() => _csrt.Dispose();

    /// <summary>PATH entries that do not exist, then /bin: each exec tries them all first.</summary>
    internal static string LongPath => string.Join(':', Enumerable.Repeat("/nonexistent", 1000)) + ":/bin";

    /// <summary>
    /// The attacker, pid 1 of the container. Any process's fd numbers can be listed, but reaching
    /// the file behind one (stat or open of /proc/&lt;pid&gt;/fd/&lt;n&gt;) takes ptrace access. An
    /// exec'd program holds fds 0-2 only (the exec child's error pipe is close-on-exec, closed before
    /// execve makes the process dumpable again), so reaching an fd above 2 of a process other than
    /// itself means reaching an exec child before its execve: the attacker records that process's
    /// fds in /out/seen and writes "PWNED" through every one of them. It stops when /out/stop
    /// appears and then writes /out/finished.
    /// </summary>
    internal const string AttackScript = """
        : > /out/seen
        while [ ! -e /out/stop ]; do
          for d in /proc/[0-9]*/fd; do
            [ "$d" = /proc/$$/fd ] && continue
            reached=
            for f in $d/*; do
              case ${f##*/} in 0|1|2|'*') continue ;; esac
              [ -e $f ] && reached=1
            done
            [ -n "$reached" ] || continue
            { echo "== $d"; /bin/ls -l $d/; } >> /out/seen 2>&1
            for f in $d/*; do echo PWNED 2>/dev/null >> $f; done
          done
        done
        echo finished > /out/finished
        """;

    /// <summary>Stops the attacker and returns what it saw (empty: nothing).</summary>
    internal static string StopAttacker(string outDir)
    {
        File.WriteAllText(Path.Combine(outDir, "stop"), "");
        var finished = Path.Combine(outDir, "finished");
        for (var i = 0; i < 300 && !File.Exists(finished); i++)
            Thread.Sleep(100);
        Assert.True(File.Exists(finished), "the attacker loop did not stop within 30 s");
        return File.ReadAllText(Path.Combine(outDir, "seen"));
    }

    [Fact]
    public void AContainerProcessLoopingOverProcFds_OpensNoFdOfACsrtExecChild_NorWritesTheCallersStdout()
    {
        var bundle = _csrt.Bundle(["sh", "-c", AttackScript], c => c["process"]!["env"] = new JsonArray("PATH=" + LongPath));
        // The attacker's report goes to a directory of the host, bound at /out.
        var outDir = Path.Combine(bundle.Dir, "out");
        Directory.CreateDirectory(outDir);
        var config = JsonNode.Parse(File.ReadAllText(bundle.ConfigPath))!.AsObject();
        config["mounts"]!.AsArray().Add((JsonNode)new JsonObject
        {
            ["destination"] = "/out",
            ["type"] = "bind",
            ["source"] = outDir,
            ["options"] = new JsonArray("rbind", "rw"),
        });
        bundle.WriteConfig(config.ToJsonString());
        _csrt.RunDetached(bundle);
        for (var i = 0; i < 100 && !File.Exists(Path.Combine(outDir, "seen")); i++)
            Thread.Sleep(100);

        var hostLog = Path.Combine(bundle.Dir, "host.log");
        var hostErr = Path.Combine(bundle.Dir, "host-err.log");
        var loop = Commands.Run("/bin/bash", ["-c", """
            failed=0
            for i in $(seq "$1"); do
              "$2" --root "$3" exec "$4" true </dev/null >>"$5" 2>>"$6" || failed=$((failed + 1))
            done
            echo "$failed"
            """, "loop", CliExecs.ToString(System.Globalization.CultureInfo.InvariantCulture), _csrt.Binary, _csrt.Root, bundle.Id, hostLog, hostErr], Bound);
        var seen = StopAttacker(outDir);

        _log.WriteLine($"attacker saw:\n{seen}\nexec stderr:\n{(File.Exists(hostErr) ? File.ReadAllText(hostErr) : "")}");
        Assert.Equal("", seen);
        AssertNotWritten(hostLog);
        AssertNotWritten(hostErr);
        Assert.Equal("0\n", loop.Stdout);
    }

    internal static void AssertNotWritten(string hostFile) =>
        Assert.DoesNotContain("PWNED", File.Exists(hostFile) ? File.ReadAllText(hostFile) : "", StringComparison.Ordinal);
}

/// <summary>The same attack on the exec children of containerd-shim-csrt-v2 (ctr task exec):
/// they are clones of the shim, which holds the IO of every process of its containers.</summary>
[Collection(ContainerdCollection.Name)]
public sealed class ShimExecChildDumpableTests
{
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public ShimExecChildDumpableTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    [Fact]
    public void AContainerProcessLoopingOverProcFds_OpensNoFdOfAShimExecChild_NorWritesAnExecsOutput()
    {
        var id = TestBundle.NewId("dumpable");
        var outDir = Path.Combine(RepoPaths.RunDir, id);
        Directory.CreateDirectory(outDir);
        try
        {
            _containerd.Ctr("run", "-d", "--runtime", PrivateContainerd.CsrtRuntime, "--env", "PATH=" + ExecChildDumpableTests.LongPath,
                "--mount", $"type=bind,src={outDir},dst=/out,options=rbind:rw",
                TestImages.BusyboxImage, id, "sh", "-c", ExecChildDumpableTests.AttackScript).EnsureSuccess();
            for (var i = 0; i < 100 && !File.Exists(Path.Combine(outDir, "seen")); i++)
                Thread.Sleep(100);

            var hostLog = Path.Combine(outDir, "host.log");
            var hostErr = Path.Combine(outDir, "host-err.log");
            var loop = Commands.Run("/bin/bash", ["-c", """
                failed=0
                for i in $(seq "$1"); do
                  "$2" --address "$3" tasks exec --exec-id "e$i" "$4" true </dev/null >>"$5" 2>>"$6" || failed=$((failed + 1))
                done
                echo "$failed"
                """, "loop", "40", PrivateContainerd.CtrBinary, _containerd.Address, id, hostLog, hostErr], TimeSpan.FromSeconds(50));
            var seen = ExecChildDumpableTests.StopAttacker(outDir);

            _log.WriteLine($"attacker saw:\n{seen}\nexec stderr:\n{(File.Exists(hostErr) ? File.ReadAllText(hostErr) : "")}");
            Assert.Equal("", seen);
            ExecChildDumpableTests.AssertNotWritten(hostLog);
            ExecChildDumpableTests.AssertNotWritten(hostErr);
            Assert.Equal("0\n", loop.Stdout);
        }
        finally
        {
            _containerd.RemoveTask(id);
            Directory.Delete(outDir, recursive: true);
        }
    }
}
