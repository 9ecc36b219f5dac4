using System.Globalization;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>process: env, cwd, umask, user and groups, rlimits, capabilities, no_new_privs, oomScoreAdj,
/// signal dispositions; plus linux.sysctl. runc is the reference for the capability sets.</summary>
public sealed class ProcessTests : IDisposable
{
    private const int CapSysResource = 24;
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("process");
    private readonly RuntimeRoot _runc = RuntimeRoot.Runc("process");

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

    private static JsonArray Strings(params string[] values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

    /// <summary>The status lines of the container's process that start with one of <paramref name="keys"/>.</summary>
    private static string[] StatusLines(string output, params string[] keys) =>
        output.Split('\n').Where(l => keys.Any(k => l.StartsWith(k + ":", StringComparison.Ordinal))).ToArray();

    private static bool WeHave(int capability)
    {
        var eff = File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal)).Split('\t')[1];
        return ((ulong.Parse(eff, NumberStyles.HexNumber, CultureInfo.InvariantCulture) >> capability) & 1) != 0;
    }

    [Fact]
    public void EnvCwdAndUmask_AreTheProcesss()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo $GREETING; pwd; umask; echo $HOME"], c =>
        {
            c["process"]!["env"] = Strings("PATH=/bin", "GREETING=hello world");
            c["process"]!["cwd"] = "/var/made/for/cwd";
            c["process"]!["user"]!["umask"] = 23; // 0027
        });

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("hello world\n/var/made/for/cwd\n0027\n/root\n", result.Stdout);
    }

    [Fact]
    public void Home_IsSlash_WhenTheContainersEtcPasswdIsAFifo_AndCreateDoesNotWaitOnIt()
    {
        // The runtime reads /etc/passwd for HOME through the rootfs: a FIFO there must neither be
        // opened for a blocking read nor count as a passwd file.
        var bundle = _csrt.Bundle(["sh", "-c", "echo $HOME"], c => c["process"]!["env"] = Strings("PATH=/bin"));
        var passwd = Path.Combine(bundle.RootfsDir, "etc", "passwd");
        File.Delete(passwd);
        Csrt.Linux.Files.MakeFifo(passwd, 0x1a4);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("/\n", result.Stdout);
    }

    [Fact]
    public void UserGroupAndAdditionalGids_AreTheProcesss()
    {
        var bundle = _csrt.Bundle(["cat", "/proc/self/status"], c =>
            c["process"]!["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1001, ["additionalGids"] = new JsonArray(5, 27, 100) });

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var lines = StatusLines(result.Stdout, "Uid", "Gid", "Groups");
        Assert.Equal("Uid:\t1000\t1000\t1000\t1000", lines[0]);
        Assert.Equal("Gid:\t1001\t1001\t1001\t1001", lines[1]);
        Assert.Equal(["5", "27", "100"], lines[2]["Groups:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public void Rlimits_AreSetOnTheProcess()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "ulimit -Sn; ulimit -Hn; ulimit -c"], c =>
            c["process"]!["rlimits"] = new JsonArray(
                new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 256, ["hard"] = 512 },
                new JsonObject { ["type"] = "RLIMIT_CORE", ["soft"] = 0, ["hard"] = 0 }));

        var result = _csrt.RunForeground(bundle);

        Assert.Equal("256\n512\n0\n", result.Stdout);
    }

    [Fact]
    public void RaisingAHardRlimit_WithoutCapSysResource_FailsCreateNamingTheLimit()
    {
        var hard = ulong.Parse(File.ReadAllLines("/proc/self/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[4], CultureInfo.InvariantCulture);
        var bundle = _csrt.Bundle(["true"], c =>
            c["process"]!["rlimits"] = new JsonArray(new JsonObject { ["type"] = "RLIMIT_NOFILE", ["soft"] = 1024, ["hard"] = hard + 1000 }));

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        if (WeHave(CapSysResource))
        {
            Assert.True(result.Succeeded, result.ToString());
            return;
        }
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("RLIMIT_NOFILE", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("EPERM", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("CAP_SYS_RESOURCE", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void NoCapabilitiesInTheSpec_LeavesEverySetEmpty_AsRuncDoes()
    {
        var ours = CapabilitySetsAsRuncGivesThem(c => c["process"]!.AsObject().Remove("capabilities"));

        Assert.Equal("CapBnd:\t0000000000000000", StatusLines(ours, "CapBnd")[0]);
    }

    /// <summary>Runs `cat /proc/self/status` on csrt and on runc with the same config; asserts the
    /// five capability sets are equal; returns csrt's output.</summary>
    private string CapabilitySetsAsRuncGivesThem(Action<JsonObject> configure)
    {
        var ours = _csrt.RunForeground(_csrt.Bundle(["cat", "/proc/self/status"], configure));
        var runcs = _runc.RunForeground(_runc.Bundle(["cat", "/proc/self/status"], configure));

        Assert.True(ours.Succeeded, ours.ToString());
        Assert.True(runcs.Succeeded, runcs.ToString());
        string[] sets = ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"];
        Assert.Equal(StatusLines(runcs.Stdout, sets), StatusLines(ours.Stdout, sets));
        return ours.Stdout;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    public void Capabilities_AllFiveSets_AreWhatRuncGives(int uid)
    {
        void Configure(JsonObject c)
        {
            c["process"]!["user"] = new JsonObject { ["uid"] = uid, ["gid"] = uid };
            c["process"]!["capabilities"] = new JsonObject
            {
                ["bounding"] = Strings("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"),
                ["effective"] = Strings("CAP_CHOWN", "CAP_KILL"),
                ["permitted"] = Strings("CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"),
                ["inheritable"] = Strings("CAP_NET_BIND_SERVICE"),
                ["ambient"] = Strings("CAP_NET_BIND_SERVICE"),
            };
            c["process"]!["noNewPrivileges"] = false;
        }
        var ours = CapabilitySetsAsRuncGivesThem(Configure);

        // CHOWN (0), KILL (5), NET_BIND_SERVICE (10), NET_RAW (13).
        Assert.Equal("CapBnd:\t0000000000002421", StatusLines(ours, "CapBnd")[0]);
        Assert.Equal("CapInh:\t0000000000000400", StatusLines(ours, "CapInh")[0]);
        Assert.Equal("CapAmb:\t0000000000000400", StatusLines(ours, "CapAmb")[0]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NoNewPrivileges_IsSetAsTheSpecSays(bool noNewPrivileges)
    {
        var bundle = _csrt.Bundle(["cat", "/proc/self/status"], c => c["process"]!["noNewPrivileges"] = noNewPrivileges);

        var result = _csrt.RunForeground(bundle);

        Assert.Equal($"NoNewPrivs:\t{(noNewPrivileges ? 1 : 0)}", StatusLines(result.Stdout, "NoNewPrivs").Single());
    }

    [Fact]
    public void SignalDispositionsAndMask_AreResetForTheUserProcess()
    {
        var bundle = _csrt.Bundle(["cat", "/proc/self/status"]);

        var result = _csrt.RunForeground(bundle);

        // .NET ignores SIGPIPE and blocks signals while cloning: none of it may reach the process.
        Assert.Equal(["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"], StatusLines(result.Stdout, "SigBlk", "SigIgn"));
    }

    [Fact]
    public void OomScoreAdj_RaisedIsApplied()
    {
        var bundle = _csrt.Bundle(["cat", "/proc/self/oom_score_adj"], c => c["process"]!["oomScoreAdj"] = 500);

        var result = _csrt.RunForeground(bundle);

        Assert.Equal("500\n", result.Stdout);
    }

    [Fact]
    public void OomScoreAdj_LoweredWithoutCapSysResource_FailsCreateSayingWhy()
    {
        var own = int.Parse(File.ReadAllText("/proc/self/oom_score_adj").Trim(), CultureInfo.InvariantCulture);
        var bundle = _csrt.Bundle(["true"], c => c["process"]!["oomScoreAdj"] = Math.Max(own - 100, -1000));
        if (own <= -1000)
            return;

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        if (WeHave(CapSysResource))
        {
            Assert.True(result.Succeeded, result.ToString());
            return;
        }
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("oom_score_adj", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("CAP_SYS_RESOURCE", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void Sysctl_IsWrittenInTheContainersNamespaces()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax"], c =>
            c["linux"]!["sysctl"] = new JsonObject { ["net.ipv4.ip_forward"] = "1", ["kernel.msgmax"] = "4242" });
        var hostForward = File.ReadAllText("/proc/sys/net/ipv4/ip_forward");
        var hostMsgmax = File.ReadAllText("/proc/sys/kernel/msgmax");

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("1\n4242\n", result.Stdout);
        Assert.Equal(hostForward, File.ReadAllText("/proc/sys/net/ipv4/ip_forward"));
        Assert.Equal(hostMsgmax, File.ReadAllText("/proc/sys/kernel/msgmax"));
    }

    [Fact]
    public void MissingProgram_FailsCreate_NotStart()
    {
        var bundle = _csrt.Bundle(["/bin/no-such-program"]);

        var result = _csrt.Detached(bundle, "create", "--bundle", bundle.Dir, bundle.Id);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("/bin/no-such-program", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }
}
