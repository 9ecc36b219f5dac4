using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Csrt.Runtime.Features;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Security;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Features;

public class FeaturesDocumentTests
{
    /// <summary>`runc features` of runc 1.1.5 on this Debian 12 machine.</summary>
    private static JsonElement Runc([CallerFilePath] string caller = "") =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(caller)!, "Resources", "runc-features.json"))).RootElement;

    private static JsonElement Ours(FeaturesSupport? support = null) =>
        JsonDocument.Parse(FeaturesJson.Serialize(FeaturesDocument.Create(support))).RootElement;

    private static string Compact(JsonElement e)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
            e.WriteTo(writer);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static List<string?> Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()).ToList();

    /// <summary>Every object key path in a document ("linux.seccomp.actions"), annotations' keys excluded.</summary>
    private static SortedSet<string> KeyPaths(JsonElement e, string prefix = "")
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        if (e.ValueKind != JsonValueKind.Object || prefix == "annotations")
            return set;
        foreach (var p in e.EnumerateObject())
        {
            var path = prefix.Length == 0 ? p.Name : prefix + "." + p.Name;
            set.Add(path);
            set.UnionWith(KeyPaths(p.Value, path));
        }
        return set;
    }

    [Fact]
    public void Every_field_runc_prints_is_present_with_the_same_name()
    {
        var missing = KeyPaths(Runc());
        missing.ExceptWith(KeyPaths(Ours()));

        Assert.Empty(missing);
    }

    [Fact]
    public void Mount_options_hooks_capabilities_and_seccomp_vocabulary_match_runc_but_notify()
    {
        var runc = Runc();
        var ours = Ours();

        // runc 1.1.5 predates id-mapped mounts (runc 1.2 lists idmap and ridmap too).
        Assert.Equal(Strings(runc.GetProperty("mountOptions")).Concat(["idmap", "ridmap"]).Order(StringComparer.Ordinal), Strings(ours.GetProperty("mountOptions")));
        Assert.Equal(Strings(runc.GetProperty("hooks")), Strings(ours.GetProperty("hooks")));
        Assert.Equal(Strings(runc.GetProperty("linux").GetProperty("capabilities")), Strings(ours.GetProperty("linux").GetProperty("capabilities")));
        var rs = runc.GetProperty("linux").GetProperty("seccomp");
        var os = ours.GetProperty("linux").GetProperty("seccomp");
        Assert.Equal(Strings(rs.GetProperty("actions")).Where(a => a != "SCMP_ACT_NOTIFY"), Strings(os.GetProperty("actions")));
        Assert.Equal(Strings(rs.GetProperty("operators")), Strings(os.GetProperty("operators")));
        // A filter holds architectures of the host's byte order only; runc lists all it knows.
        string[] bigEndian = ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X"];
        Assert.Subset(Strings(os.GetProperty("archs")).ToHashSet(), Strings(rs.GetProperty("archs")).Except(bigEndian).ToHashSet());
        Assert.Empty(Strings(os.GetProperty("archs")).Intersect(bigEndian));
    }

    [Fact]
    public void Defaults_list_all_eight_namespaces_and_the_time_namespace_runc_lacks()
    {
        var ns = Strings(Ours().GetProperty("linux").GetProperty("namespaces"));

        Assert.Equal(["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"], ns);
        Assert.Equal(Strings(Runc().GetProperty("linux").GetProperty("namespaces")), ns.Where(n => n != "time"));
    }

    [Fact]
    public void Defaults_claim_cgroup_v1_v2_rdma_and_systemd_without_systemd_user_and_seccomp_with_known_flags()
    {
        var linux = Ours().GetProperty("linux");

        Assert.Equal("""{"v1":true,"v2":true,"systemd":true,"systemdUser":false,"rdma":true}""", Compact(linux.GetProperty("cgroup")));
        Assert.True(linux.GetProperty("seccomp").GetProperty("enabled").GetBoolean());
        Assert.Equal(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            Strings(linux.GetProperty("seccomp").GetProperty("knownFlags")));
    }

    [Fact]
    public void Unknown_values_are_left_out_rather_than_printed_as_false_or_empty()
    {
        var doc = Ours(new FeaturesSupport { SeccompSupportedFlags = null, PotentiallyUnsafeConfigAnnotations = null });

        Assert.False(doc.GetProperty("linux").GetProperty("seccomp").TryGetProperty("supportedFlags", out _), "unset supported flags mean unknown");
        Assert.False(doc.TryGetProperty("potentiallyUnsafeConfigAnnotations", out _));
    }

    [Fact]
    public void The_lead_can_state_what_the_host_supports()
    {
        var doc = Ours(new FeaturesSupport
        {
            Systemd = true, SeccompSupportedFlags = ["SECCOMP_FILTER_FLAG_LOG"], IdMapMounts = true,
            Annotations = new Dictionary<string, string> { ["io.github.seccomp.libseccomp.version"] = "2.5.4" },
            PotentiallyUnsafeConfigAnnotations = ["org.systemd.property."],
        });

        Assert.True(doc.GetProperty("linux").GetProperty("cgroup").GetProperty("systemd").GetBoolean());
        Assert.Equal(["SECCOMP_FILTER_FLAG_LOG"], Strings(doc.GetProperty("linux").GetProperty("seccomp").GetProperty("supportedFlags")));
        Assert.True(doc.GetProperty("linux").GetProperty("mountExtensions").GetProperty("idmap").GetProperty("enabled").GetBoolean());
        Assert.Equal("2.5.4", doc.GetProperty("annotations").GetProperty("io.github.seccomp.libseccomp.version").GetString());
        Assert.Equal(["org.systemd.property."], Strings(doc.GetProperty("potentiallyUnsafeConfigAnnotations")));
    }

    [Fact]
    public void Seccomp_lists_are_left_out_when_seccomp_is_not_compiled_in()
    {
        var seccomp = Ours(new FeaturesSupport { SeccompEnabled = false }).GetProperty("linux").GetProperty("seccomp");

        Assert.Equal("""{"enabled":false}""", Compact(seccomp));
    }

    [Fact]
    public void Version_range_runs_from_1_0_0_to_the_implemented_spec_version()
    {
        var doc = Ours();

        Assert.Equal("1.0.0", doc.GetProperty("ociVersionMin").GetString());
        Assert.Equal(BuildInfo.OciVersion, doc.GetProperty("ociVersionMax").GetString());
    }

    [Fact]
    public void Output_is_indented_with_four_spaces_like_runc_features_and_reads_back()
    {
        var bytes = FeaturesJson.Serialize(FeaturesDocument.Create());
        var text = Encoding.UTF8.GetString(bytes);

        Assert.StartsWith("{\n    \"ociVersionMin\": \"1.0.0\",\n    \"ociVersionMax\": ", text);
        Assert.EndsWith("}", text);
        Assert.Equal(KnownCapabilities.All, FeaturesJson.Parse(bytes).Linux!.Capabilities!);
    }

    [Fact]
    public void Runcs_document_reads_into_the_model()
    {
        var doc = FeaturesJson.Parse(Encoding.UTF8.GetBytes(Runc().GetRawText()));

        Assert.Equal("1.0.2-dev", doc.OciVersionMax);
        Assert.True(doc.Linux!.Cgroup!.SystemdUser);
        Assert.Null(doc.Linux.Cgroup.Rdma);
        Assert.True(doc.Linux.Apparmor!.Enabled);
        Assert.Equal("2.5.4", doc.Annotations!["io.github.seccomp.libseccomp.version"]);
    }

    // ---- the document says what csrt does ------------------------------------------------------

    [Fact]
    public void Every_listed_mount_option_is_parsed_by_MountOptions_and_every_parsed_option_is_listed()
    {
        var listed = Strings(Ours().GetProperty("mountOptions"));

        foreach (var option in listed)
            Assert.True(MountOptions.IsKnown(option!), $"{option} is listed but MountOptions treats it as filesystem data");
        Assert.Equal(MountOptions.Known, listed);
        Assert.Contains("rro", listed);
    }

    [Fact]
    public void No_config_annotation_is_claimed_to_weaken_isolation_since_csrt_reads_none()
    {
        Assert.Equal(0, Ours().GetProperty("potentiallyUnsafeConfigAnnotations").GetArrayLength());
    }

    [Fact]
    public void Id_mapped_mounts_are_claimed_with_both_options()
    {
        var doc = Ours();

        Assert.Contains("idmap", Strings(doc.GetProperty("mountOptions")));
        Assert.Contains("ridmap", Strings(doc.GetProperty("mountOptions")));
        Assert.True(doc.GetProperty("linux").GetProperty("mountExtensions").GetProperty("idmap").GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public void Every_listed_seccomp_action_operator_architecture_and_supported_flag_compiles()
    {
        var seccomp = Ours().GetProperty("linux").GetProperty("seccomp");
        var archs = Strings(seccomp.GetProperty("archs"));

        foreach (var action in Strings(seccomp.GetProperty("actions")))
            Compile($$"""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"{{action}}"}]}""");
        foreach (var op in Strings(seccomp.GetProperty("operators")))
            Compile($$"""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"valueTwo":1,"op":"{{op}}"}]}]}""");
        foreach (var arch in archs)
            Compile($$"""{"defaultAction":"SCMP_ACT_ALLOW","architectures":["{{arch}}"]}""");
        foreach (var flag in Strings(seccomp.GetProperty("supportedFlags")))
            Compile($$"""{"defaultAction":"SCMP_ACT_ALLOW","flags":["{{flag}}"]}""");
        Assert.Contains("SCMP_ARCH_X86_64", archs);
    }

    [Fact]
    public void Notify_and_the_flag_that_needs_a_listener_are_not_claimed()
    {
        var seccomp = Ours().GetProperty("linux").GetProperty("seccomp");

        Assert.Throws<SpecValidationException>(() => Compile("""{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_NOTIFY"}]}"""));
        Assert.DoesNotContain("SCMP_ACT_NOTIFY", Strings(seccomp.GetProperty("actions")));
        Assert.DoesNotContain("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", Strings(seccomp.GetProperty("supportedFlags")));
        Assert.Contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", Strings(seccomp.GetProperty("knownFlags")));
    }

    [Fact]
    public void The_linux_object_is_always_there_even_with_nothing_supported()
    {
        var doc = Ours(new FeaturesSupport { Namespaces = [], Capabilities = [], SeccompEnabled = false, CgroupV1 = false, CgroupV2 = false, IdMapMounts = false });

        Assert.Equal(JsonValueKind.Object, doc.GetProperty("linux").ValueKind);
        Assert.False(doc.GetProperty("linux").GetProperty("mountExtensions").GetProperty("idmap").GetProperty("enabled").GetBoolean());
    }

    private static CompiledSeccomp Compile(string seccompJson) =>
        SeccompProfileCompiler.Compile(SpecLoader.Parse(Encoding.UTF8.GetBytes(
            """{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","user":{"uid":0,"gid":0}},"root":{"path":"rootfs"},"linux":{"namespaces":[{"type":"mount"}],"seccomp":"""
            + seccompJson + "}}"), "config.json").Linux!.Seccomp!);
}
