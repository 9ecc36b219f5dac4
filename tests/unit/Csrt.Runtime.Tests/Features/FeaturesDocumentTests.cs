using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Csrt.Runtime.Features;
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
    public void Mount_options_hooks_capabilities_and_seccomp_vocabulary_match_runc()
    {
        var runc = Runc();
        var ours = Ours();

        Assert.Equal(Strings(runc.GetProperty("mountOptions")), Strings(ours.GetProperty("mountOptions")));
        Assert.Equal(Strings(runc.GetProperty("hooks")), Strings(ours.GetProperty("hooks")));
        Assert.Equal(Strings(runc.GetProperty("linux").GetProperty("capabilities")), Strings(ours.GetProperty("linux").GetProperty("capabilities")));
        var rs = runc.GetProperty("linux").GetProperty("seccomp");
        var os = ours.GetProperty("linux").GetProperty("seccomp");
        Assert.Equal(Strings(rs.GetProperty("actions")), Strings(os.GetProperty("actions")));
        Assert.Equal(Strings(rs.GetProperty("operators")), Strings(os.GetProperty("operators")));
        Assert.Subset(Strings(os.GetProperty("archs")).ToHashSet(), Strings(rs.GetProperty("archs")).ToHashSet());
    }

    [Fact]
    public void Defaults_list_all_eight_namespaces_and_the_time_namespace_runc_lacks()
    {
        var ns = Strings(Ours().GetProperty("linux").GetProperty("namespaces"));

        Assert.Equal(["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"], ns);
        Assert.Equal(Strings(Runc().GetProperty("linux").GetProperty("namespaces")), ns.Where(n => n != "time"));
    }

    [Fact]
    public void Defaults_claim_cgroup_v1_and_v2_without_systemd_and_seccomp_with_known_flags()
    {
        var linux = Ours().GetProperty("linux");

        Assert.Equal("""{"v1":true,"v2":true,"systemd":false,"systemdUser":false,"rdma":false}""", Compact(linux.GetProperty("cgroup")));
        Assert.True(linux.GetProperty("seccomp").GetProperty("enabled").GetBoolean());
        Assert.Equal(["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            Strings(linux.GetProperty("seccomp").GetProperty("knownFlags")));
    }

    [Fact]
    public void Unknown_values_are_left_out_rather_than_printed_as_false_or_empty()
    {
        var seccomp = Ours().GetProperty("linux").GetProperty("seccomp");

        Assert.False(seccomp.TryGetProperty("supportedFlags", out _), "supported flags are host-probed; unset means unknown");
        Assert.False(Ours().TryGetProperty("potentiallyUnsafeConfigAnnotations", out _));
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
}
