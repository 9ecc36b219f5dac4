using System.Text;
using Csrt.Runtime;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

public class DefaultSpecTests
{
    /// <summary>runc's output with the two values that name the runtime swapped for csrt's.</summary>
    private static string RuncWithCsrtNames(string file) =>
        TestFiles.Text(file)
            .Replace("\"ociVersion\": \"1.0.2-dev\"", $"\"ociVersion\": \"{BuildInfo.OciVersion}\"")
            .Replace("\"hostname\": \"runc\"", "\"hostname\": \"csrt\"");

    [Fact]
    public void Csrt_spec_is_byte_for_byte_runc_spec_apart_from_version_and_hostname()
    {
        var ours = Encoding.UTF8.GetString(SpecJson.Serialize(DefaultSpec.Create(rootless: false), indented: true));

        Assert.Equal(RuncWithCsrtNames("runc-spec.json"), ours);
    }

    [Fact]
    public void Csrt_spec_rootless_is_byte_for_byte_runc_spec_rootless_for_the_same_ids()
    {
        // Captured as root, so runc mapped host id 0.
        var ours = Encoding.UTF8.GetString(SpecJson.Serialize(DefaultSpec.Create(rootless: true, 0, 0), indented: true));

        Assert.Equal(RuncWithCsrtNames("runc-spec-rootless.json"), ours);
    }

    [Fact]
    public void Rootless_spec_maps_the_given_host_ids_to_root()
    {
        var spec = DefaultSpec.Create(rootless: true, 1000, 1001);

        Assert.Equal((0u, 1000u, 1u), (spec.Linux!.UidMappings![0].ContainerId, spec.Linux.UidMappings[0].HostId, spec.Linux.UidMappings[0].Size));
        Assert.Equal(1001u, spec.Linux.GidMappings![0].HostId);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Default_spec_round_trips_through_the_loader_and_passes_validation(bool rootless)
    {
        var written = SpecJson.Serialize(DefaultSpec.Create(rootless, 1000, 1000), indented: true);

        var spec = SpecLoader.Parse(written, "config.json");

        Assert.Equal(written, SpecJson.Serialize(spec, indented: true));
    }

    [Fact]
    public void Each_call_returns_a_fresh_mutable_spec()
    {
        var a = DefaultSpec.Create(rootless: false);
        a.Process!.Args!.Add("-c");
        a.Process.Capabilities!.Bounding!.Clear();

        var b = DefaultSpec.Create(rootless: false);

        Assert.Equal(["sh"], b.Process!.Args!);
        Assert.Equal(3, b.Process.Capabilities!.Bounding!.Count);
        Assert.Equal(3, b.Process.Capabilities.Effective!.Count);
    }
}
