using System.Text;
using System.Text.Json.Nodes;
using Containerd;
using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Runtime;
using Csrt.IntegrationTests.Shim;
using Csrt.TestSupport;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Transport;
using Grpc.Core;
using Xunit;
using Xunit.Abstractions;
using TaskV2 = Containerd.Task.V2;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// Attacks through what the runtime is asked to do rather than from inside the container: a uid
/// or gid of 4294967295 ((uid_t)-1, "leave unchanged" to setresuid, so the process would stay
/// root), a NUL byte that would cut an argument or a path short, and `exec --cap` filling the
/// inheritable set so that a binary with file capabilities gains them as another user
/// (CVE-2022-29162). Each is refused, or fails, through the CLI and the shim; runc runs the same
/// payloads for comparison, and a positive control shows the capability payload works where the
/// spec itself grants the capability.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class ValidationAttackTests : IDisposable
{
    private const string IdRange = "uids and gids must be in range 0-2147483647";
    private const string NoNul = "without NUL bytes";
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("validation-attack");
    private readonly RuntimeRoot _runc = RuntimeRoot.Runc("validation-attack");
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public ValidationAttackTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

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

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    // ---- uid and gid 4294967295 ---------------------------------------------------------------

    [Theory]
    [InlineData("uid")]
    [InlineData("gid")]
    public void AUserIdOfMinusOne_IsRefusedByCreate_NamingTheField(string field)
    {
        void Edit(JsonObject c) => c["process"]!["user"]![field] = 4294967295L;
        var bundle = _csrt.Bundle(["id"], Edit);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.ExitCode != 0, $"a {field} of 4294967295 was run: {result}");
        Assert.Contains($"$.process.user.{field}: {IdRange}, got 4294967295", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("uid=", result.Stdout, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);

        var runc = _runc.RunForeground(_runc.Bundle(["id"], Edit));
        _log.WriteLine($"runc: {runc}");
        Assert.True(runc.ExitCode != 0, $"runc ran a {field} of 4294967295: {runc}");
    }

    [Fact]
    public void AnAdditionalGidOrMappingOfMinusOne_IsRefusedByCreate_NamingTheField()
    {
        var gids = _csrt.RunForeground(_csrt.Bundle(["id"], c => c["process"]!["user"]!["additionalGids"] = new JsonArray(10, 4294967295L)));
        Assert.True(gids.ExitCode != 0, gids.ToString());
        Assert.Contains($"$.process.user.additionalGids[1]: {IdRange}", gids.Stderr, StringComparison.Ordinal);

        var mapped = _csrt.RunForeground(_csrt.Bundle(["id"], c =>
            c["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 4294967295L, ["size"] = 1 }),
            namespaces: ["pid", "network", "ipc", "uts", "mount", "user"]));
        Assert.True(mapped.ExitCode != 0, mapped.ToString());
        Assert.Contains($"$.linux.uidMappings[0].hostID: {IdRange}", mapped.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("4294967295", "--user")]
    [InlineData("4294967295:4294967295", "--user")]
    [InlineData("0:4294967295", "--user")]
    [InlineData("2147483648", "--user")]
    public void ExecAsAUserIdPast2147483647_IsRefused_NamingTheFlag(string user, string flag)
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);

        var result = _csrt.Run("exec", "-u", user, bundle.Id, "id");

        Assert.True(result.ExitCode == 255, $"exec -u {user} was not refused: {result}");
        Assert.Contains($"{flag}: {IdRange}", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("uid=", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ExecWithAnAdditionalGidOfMinusOne_IsRefused_NamingTheFlag()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);

        var result = _csrt.Run("exec", "-u", "1000:1000", "-g", "4294967295", bundle.Id, "id");

        Assert.True(result.ExitCode == 255, $"exec -g 4294967295 was not refused: {result}");
        Assert.Contains($"--additional-gids: {IdRange}, got 4294967295", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void RuncAlsoRefusesExecAsUidMinusOne()
    {
        var bundle = _runc.Bundle(["sleep", "1000"]);
        _runc.RunDetached(bundle);

        var result = _runc.Run("exec", "-u", "4294967295:4294967295", bundle.Id, "id");

        _log.WriteLine($"runc: {result}");
        Assert.True(result.ExitCode != 0, $"runc ran exec -u 4294967295: {result}");
        Assert.DoesNotContain("uid=0", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void AnExecProcessJsonWithUidMinusOne_IsRefused_NamingTheFileAndPath()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);
        var process = Path.Combine(bundle.Dir, "process.json");
        File.WriteAllText(process, """{"args": ["id"], "cwd": "/", "user": {"uid": 4294967295, "gid": 4294967295}}""");

        var result = _csrt.Run("exec", "--process", process, bundle.Id);

        Assert.True(result.ExitCode == 255, $"exec --process with uid 4294967295 was not refused: {result}");
        Assert.Contains($"{process}: $.user.uid: {IdRange}", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("uid=", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"args": ["id"], "cwd": "/", "user": {"uid": 4294967295, "gid": 0}}""", "$.user.uid")]
    [InlineData("""{"args": ["id"], "cwd": "/", "user": {"uid": 0, "gid": 4294967295}}""", "$.user.gid")]
    [InlineData("""{"args": ["id"], "cwd": "/", "user": {"uid": 1000, "gid": 1000, "additionalGids": [4294967295]}}""", "$.user.additionalGids[0]")]
    public async Task ThroughTheShim_AnExecProcessWithAnIdOfMinusOne_IsRefused(string spec, string path)
    {
        // containerd's clients (ctr, CRI) refuse such a user before it reaches the shim, so the
        // exec is sent on the shim's socket as containerd would send it.
        var id = TestBundle.NewId("shim-uid");
        try
        {
            _containerd.CtrOk("run", "-d", "--runtime", PrivateContainerd.CsrtRuntime, TestImages.BusyboxImage, id, "sleep", "1000");
            var address = File.ReadAllText(Path.Combine(_containerd.BundleDir(id), "address")).Trim();
            await using var channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(address));
            var shim = new TaskV2.Task.TaskClient(channel);

            var e = await Assert.ThrowsAsync<RpcException>(async () => await shim.ExecAsync(new TaskV2.ExecProcessRequest
            {
                Id = id, ExecId = "id-minus-one", Spec = TypeUrls.PackJson(TypeUrls.OciProcess, Encoding.UTF8.GetBytes(spec)),
            }, deadline: DateTime.UtcNow + RuntimeRoot.Timeout));

            _log.WriteLine($"Exec: {e.Status}");
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.Contains($"{path}: {IdRange}, got 4294967295", e.Status.Detail, StringComparison.Ordinal);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    // ---- NUL bytes ----------------------------------------------------------------------------

    [Fact]
    public void ANulInAnArgument_IsRefusedByCreate_NotTruncated()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo /tm\0p"]);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.ExitCode != 0, $"an argument with a NUL was run: {result}");
        Assert.Contains($"$.process.args[2]: expected a string {NoNul}", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("/tm", result.Stdout, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);

        var runc = _runc.RunForeground(_runc.Bundle(["sh", "-c", "echo /tm\0p"]));
        _log.WriteLine($"runc: {runc}");
        Assert.True(runc.ExitCode != 0, $"runc ran an argument with a NUL: {runc}");
        Assert.DoesNotContain("/tm", runc.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ANulInTheCwd_IsRefusedByCreate_NotTruncated()
    {
        var bundle = _csrt.Bundle(["pwd"], c => c["process"]!["cwd"] = "/tm\0p");

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.ExitCode != 0, $"a cwd with a NUL was used: {result}");
        Assert.Contains($"$.process.cwd: expected a string {NoNul}", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("/tm", result.Stdout, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void AnExecProcessJsonWithANulInItsArgsOrCwd_IsRefused_NamingTheField()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);
        var args = Path.Combine(bundle.Dir, "args.json");
        File.WriteAllText(args, """{"args": ["sh", "-c", "echo /tm\u0000p"], "cwd": "/"}""");
        var cwd = Path.Combine(bundle.Dir, "cwd.json");
        File.WriteAllText(cwd, """{"args": ["pwd"], "cwd": "/tm\u0000p"}""");

        var byArgs = _csrt.Run("exec", "--process", args, bundle.Id);
        var byCwd = _csrt.Run("exec", "--process", cwd, bundle.Id);

        Assert.True(byArgs.ExitCode == 255, byArgs.ToString());
        Assert.Contains($"{args}: $.args[2]: expected a string {NoNul}", byArgs.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("/tm", byArgs.Stdout, StringComparison.Ordinal);
        Assert.True(byCwd.ExitCode == 255, byCwd.ToString());
        Assert.Contains($"{cwd}: $.cwd: expected a string {NoNul}", byCwd.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("/tm", byCwd.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ThroughTheShim_AnExecWithANulInAnArgument_IsRefused()
    {
        await using var pod = await CriPod.StartAsync(_containerd, "nul-exec");
        var id = await pod.StartContainerAsync(CriPod.Busybox("main", "sleep", "1000"));

        var e = await Assert.ThrowsAsync<RpcException>(() => pod.ExecSyncAsync(id, 30, "sh", "-c", "echo /tm\0p"));

        _log.WriteLine($"ExecSync: {e.Status}");
        Assert.Contains($"$.args[2]: expected a string {NoNul}", e.Status.Detail, StringComparison.Ordinal);
        var ok = await pod.ExecSyncAsync(id, 30, "echo", "still serving");
        Assert.Equal("still serving\n", ok.Stdout.ToStringUtf8());
    }

    // ---- exec --cap and the inheritable set (CVE-2022-29162) ----------------------------------

    private const string CapSysAdmin = "CAP_SYS_ADMIN";
    private const ulong SysAdminBit = 1UL << 21;

    /// <summary>A container running as root with no_new_privs off (so file capabilities apply at
    /// exec), and /capbin/busybox carrying the file capabilities cap_sys_admin+ei: a process
    /// whose inheritable set holds CAP_SYS_ADMIN gains it in full by exec'ing that file, whatever
    /// its uid. <paramref name="inheritable"/> puts CAP_SYS_ADMIN in the spec's own sets.</summary>
    private static TestBundle CapsBundle(RuntimeRoot root, bool inheritable)
    {
        var bundle = root.Bundle(["sleep", "1000"], c =>
        {
            c["process"]!["noNewPrivileges"] = false;
            if (inheritable)
            {
                var caps = c["process"]!["capabilities"]!.AsObject();
                caps["bounding"]!.AsArray().Add((JsonNode)CapSysAdmin);
                caps["inheritable"] = new JsonArray(CapSysAdmin);
            }
        });
        var capbin = Path.Combine(bundle.RootfsDir, "capbin");
        Directory.CreateDirectory(capbin);
        File.Copy(Path.Combine(bundle.RootfsDir, "bin", "busybox"), Path.Combine(capbin, "busybox"));
        Commands.Run("/usr/sbin/setcap", ["cap_sys_admin+ei", Path.Combine(capbin, "busybox")], RuntimeRoot.Timeout).EnsureSuccess();
        return bundle;
    }

    private static ulong StatusMask(string status, string set)
    {
        var line = Lines(status).Single(l => l.StartsWith(set + ":", StringComparison.Ordinal));
        return Convert.ToUInt64(line[(set.Length + 1)..].Trim(), 16);
    }

    /// <summary>As uid 1000, with `exec --cap CAP_SYS_ADMIN` when <paramref name="cap"/>: the capped
    /// binary's /proc/self/status, then its attempt to set the (container's) hostname.</summary>
    private static (CommandResult Status, CommandResult Hostname) CapPayload(RuntimeRoot root, TestBundle bundle, bool cap)
    {
        string[] flags = cap ? ["-u", "1000:1000", "--cap", CapSysAdmin] : ["-u", "1000:1000"];
        var status = root.Run(["exec", .. flags, bundle.Id, "/capbin/busybox", "cat", "/proc/self/status"]);
        var hostname = root.Run(["exec", .. flags, bundle.Id, "/capbin/busybox", "hostname", "pwned"]);
        return (status, hostname);
    }

    [Fact]
    public void ExecCap_LeavesTheInheritableSetEmpty_SoAFileCapableBinaryGainsNothing()
    {
        var bundle = CapsBundle(_csrt, inheritable: false);
        _csrt.RunDetached(bundle);

        var (status, hostname) = CapPayload(_csrt, bundle, cap: true);

        Assert.True(status.Succeeded, status.ToString());
        Assert.Equal(0UL, StatusMask(status.Stdout, "CapInh"));
        Assert.Equal(0UL, StatusMask(status.Stdout, "CapEff") & SysAdminBit);
        Assert.True(hostname.ExitCode != 0, $"sethostname succeeded as uid 1000 through exec --cap: {hostname}");
        Assert.Contains("Operation not permitted", hostname.Stderr, StringComparison.Ordinal);
        Assert.Equal("csrt\n", _csrt.Exec(bundle.Id, "hostname").Stdout);
    }

    [Fact]
    public void RuncExecCap_AlsoLeavesTheInheritableSetEmpty()
    {
        var bundle = CapsBundle(_runc, inheritable: false);
        _runc.RunDetached(bundle);

        var (status, hostname) = CapPayload(_runc, bundle, cap: true);

        Assert.True(status.Succeeded, status.ToString());
        Assert.Equal(0UL, StatusMask(status.Stdout, "CapInh"));
        Assert.True(hostname.ExitCode != 0, $"runc: sethostname succeeded as uid 1000 through exec --cap: {hostname}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WhenTheSpecItselfListsTheCapabilityAsInheritable_TheSamePayloadSetsTheHostname(bool csrt)
    {
        // The positive control: the payload works when inheritable is granted by the spec, the
        // only place it may come from.
        var root = csrt ? _csrt : _runc;
        var bundle = CapsBundle(root, inheritable: true);
        root.RunDetached(bundle);

        var (status, hostname) = CapPayload(root, bundle, cap: false);

        Assert.True(status.Succeeded, status.ToString());
        Assert.Equal(SysAdminBit, StatusMask(status.Stdout, "CapInh"));
        Assert.Equal(SysAdminBit, StatusMask(status.Stdout, "CapEff") & SysAdminBit);
        Assert.True(hostname.Succeeded, hostname.ToString());
        Assert.Equal("pwned\n", root.Exec(bundle.Id, "hostname").Stdout);
    }
}
