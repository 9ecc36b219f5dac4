using System.Text;
using System.Text.Json;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

public class OciStateTests
{
    private static OciState Sample(ContainerStatus status = ContainerStatus.Created, int pid = 21687) => new()
    {
        OciVersion = "1.2.0", Id = "specprobe2", Pid = pid, Status = status, Bundle = "/tmp/b", Rootfs = "/tmp/b/rootfs",
        Created = new DateTimeOffset(2026, 11, 23, 11, 22, 44, TimeSpan.Zero).AddTicks(2203499), Owner = "",
    };

    private static List<string> Names(byte[] json) =>
        JsonDocument.Parse(json).RootElement.EnumerateObject().Select(p => p.Name).ToList();

    [Fact]
    public void State_command_output_has_runcs_field_names_in_runcs_order()
    {
        var ours = OciStateJson.SerializeForStateCommand(Sample());

        Assert.Equal(Names(TestFiles.Read("runc-state.json")), Names(ours));
    }

    [Fact]
    public void State_command_output_is_laid_out_like_runc_state()
    {
        var text = Encoding.UTF8.GetString(OciStateJson.SerializeForStateCommand(Sample()));

        Assert.Equal("""
            {
              "ociVersion": "1.2.0",
              "id": "specprobe2",
              "pid": 21687,
              "status": "created",
              "bundle": "/tmp/b",
              "rootfs": "/tmp/b/rootfs",
              "created": "2026-11-23T11:22:44.2203499Z",
              "owner": ""
            }
            """.ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void Annotations_appear_between_created_and_owner_as_in_runc()
    {
        var state = Sample();
        state.Annotations = new() { ["k"] = "v" };

        var names = Names(OciStateJson.SerializeForStateCommand(state));

        Assert.Equal(["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "annotations", "owner"], names);
    }

    [Theory]
    [InlineData(ContainerStatus.Creating, "creating")]
    [InlineData(ContainerStatus.Created, "created")]
    [InlineData(ContainerStatus.Running, "running")]
    [InlineData(ContainerStatus.Stopped, "stopped")]
    [InlineData(ContainerStatus.Paused, "paused")]
    public void Status_is_written_in_lower_case_as_the_spec_names_it(ContainerStatus status, string name)
    {
        var doc = JsonDocument.Parse(OciStateJson.SerializeForStateCommand(Sample(status)));

        Assert.Equal(name, doc.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public void A_stopped_container_prints_pid_zero_in_state_but_hooks_get_no_pid()
    {
        var stopped = Sample(ContainerStatus.Stopped, pid: 0);

        Assert.Equal(0, JsonDocument.Parse(OciStateJson.SerializeForStateCommand(stopped)).RootElement.GetProperty("pid").GetInt32());
        Assert.False(JsonDocument.Parse(OciStateJson.SerializeForHook(stopped)).RootElement.TryGetProperty("pid", out _));
    }

    [Fact]
    public void Hooks_get_the_runtime_spec_state_shape()
    {
        var state = Sample(ContainerStatus.Running);
        state.Annotations = new() { ["io.kubernetes.cri.container-type"] = "container" };

        var text = Encoding.UTF8.GetString(OciStateJson.SerializeForHook(state));

        Assert.Equal("""{"ociVersion":"1.2.0","id":"specprobe2","status":"running","pid":21687,"bundle":"/tmp/b","annotations":{"io.kubernetes.cri.container-type":"container"}}""", text);
    }

    [Fact]
    public void Runcs_state_output_with_nanosecond_time_reads_back()
    {
        var state = OciStateJson.Parse(TestFiles.Read("runc-state.json"));

        Assert.Equal(("specprobe2", ContainerStatus.Created, 21687), (state.Id, state.Status, state.Pid));
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 11, 22, 44, TimeSpan.Zero).AddTicks(2203499), state.Created);
        Assert.Equal("", state.Owner);
    }

    [Theory]
    [InlineData(0, "2026-11-23T11:22:44Z")]
    [InlineData(1_000_000, "2026-11-23T11:22:44.1Z")]
    [InlineData(1_230_000, "2026-11-23T11:22:44.123Z")]
    [InlineData(1, "2026-11-23T11:22:44.0000001Z")]
    public void Created_is_rfc3339_nano_without_trailing_zeros_like_go(long ticks, string expected)
    {
        var state = Sample();
        state.Created = new DateTimeOffset(2026, 11, 23, 11, 22, 44, TimeSpan.Zero).AddTicks(ticks);

        Assert.Equal(expected, JsonDocument.Parse(OciStateJson.SerializeForStateCommand(state)).RootElement.GetProperty("created").GetString());
    }

    [Fact]
    public void List_output_is_one_compact_array()
    {
        var text = Encoding.UTF8.GetString(OciStateJson.SerializeList([Sample(), Sample(ContainerStatus.Running)]));

        Assert.StartsWith("[{\"ociVersion\":\"1.2.0\",\"id\":\"specprobe2\",\"pid\":21687,\"status\":\"created\"", text);
        Assert.DoesNotContain("\n", text);
        Assert.Equal(2, JsonDocument.Parse(text).RootElement.GetArrayLength());
    }
}
