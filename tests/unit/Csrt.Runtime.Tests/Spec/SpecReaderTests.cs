using System.Text;
using System.Text.Json;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

/// <summary>
/// SpecReader, the hand-written fast path of SpecLoader, must read every document it accepts to
/// exactly what System.Text.Json (SpecJsonContext) reads, and leave every other one to it. These
/// tests fail when a property added to the spec model is not read by SpecReader.
/// </summary>
public class SpecReaderTests
{
    private static RuntimeSpec Serializer(string json) =>
        JsonSerializer.Deserialize(Encoding.UTF8.GetBytes(json), SpecJsonContext.Default.RuntimeSpec)!;

    private static RuntimeSpec? Fast(string json) => SpecReader.TryRead(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_spec_with_every_property_set_reads_to_what_the_serializer_reads()
    {
        var spec = (RuntimeSpec)ObjectGraph.Filled(typeof(RuntimeSpec), seed: 1);
        var json = Encoding.UTF8.GetString(SpecJson.Serialize(spec, indented: true));
        var fast = Fast(json);
        Assert.NotNull(fast);
        ObjectGraph.AssertDeepEqual(Serializer(json), fast, "$");
        ObjectGraph.AssertDeepEqual(spec, fast, "$");
    }

    [Theory]
    [InlineData("runc-spec.json")]
    [InlineData("runc-spec-rootless.json")]
    [InlineData("containerd-cri-config.json")]
    public void Real_configs_read_to_what_the_serializer_reads(string file)
    {
        var json = TestFiles.Text(file);
        var fast = Fast(json);
        Assert.NotNull(fast);
        ObjectGraph.AssertDeepEqual(Serializer(json), fast, "$");
    }

    [Theory]
    [InlineData("""{"OCIVERSION":"1.0.2","Process":{"Cwd":"/","ARGS":["sh"],"user":{"UID":5}}}""")]
    [InlineData("""{"oci\u0056ersion":"1.0.2","process":{"cwd":"\u002f","args":["s\nh"]}}""")]
    [InlineData("""{"unknown":{"deep":[1,{"x":null},[true]]},"ociVersion":"1","x":null,"process":{"y":[],"cwd":"/"}}""")]
    [InlineData("""{"hostname":"a","Hostname":"b","hostname":"c","annotations":{"k":"1","k":"2"}}""")]
    [InlineData("""{"linux":{"resources":{"memory":{"limit":null,"swap":-1},"cpu":{"shares":1024}},"timeOffsets":{"boottime":{"secs":-5}}}}""")]
    [InlineData("""{"process":null,"root":null,"mounts":null,"linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":18446744073709551615,"op":"SCMP_CMP_EQ"}]}]}}}""")]
    [InlineData(" \n {\"ociVersion\":\"1.0.2\"} \n ")]
    public void Unusual_but_valid_documents_read_to_what_the_serializer_reads(string json)
    {
        var fast = Fast(json);
        Assert.NotNull(fast);
        ObjectGraph.AssertDeepEqual(Serializer(json), fast, "$");
    }

    [Theory]
    [InlineData("")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("""{"ociVersion":1}""")]
    [InlineData("""{"ociVersion":null}""")]
    [InlineData("""{"process":{"user":null}}""")]
    [InlineData("""{"process":{"user":{"uid":-1}}}""")]
    [InlineData("""{"process":{"user":{"uid":4294967296}}}""")]
    [InlineData("""{"process":{"user":{"uid":1.0}}}""")]
    [InlineData("""{"process":{"user":{"uid":"0"}}}""")]
    [InlineData("""{"process":{"terminal":"true"}}""")]
    [InlineData("""{"process":{"args":["sh",null]}}""")]
    [InlineData("""{"linux":{"seccomp":{"syscalls":[{"names":null}]}}}""")]
    [InlineData("""{"ociVersion":"1",}""")]
    [InlineData("""{"ociVersion":"1"} {}""")]
    [InlineData("""{/* c */"ociVersion":"1"}""")]
    [InlineData("""{'ociVersion':'1'}""")]
    [InlineData("""{"hostnamе":"cyrillic e"}""")]
    [InlineData("""{"ociVersion":"1\""")]
    public void Anything_else_is_left_to_the_serializer(string json)
    {
        Assert.Null(Fast(json));
    }

    [Fact]
    public void SpecLoader_reports_errors_the_same_way_with_the_fast_path_in_front()
    {
        var e = Assert.Throws<SpecValidationException>(() => SpecLoader.Parse(
            Encoding.UTF8.GetBytes("""{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/","user":{"uid":-1,"gid":0}}}"""), "config.json"));
        Assert.Contains("$.process.user.uid", e.Message);
    }
}
