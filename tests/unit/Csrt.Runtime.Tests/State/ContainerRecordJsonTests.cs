using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Csrt.Runtime.State;
using Xunit;

namespace Csrt.Runtime.Tests.State;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ContainerRecord))]
internal sealed partial class ReferenceStateJsonContext : JsonSerializerContext
{
}

public class ContainerRecordJsonTests
{
    private static ContainerRecord Full() => new()
    {
        Id = "web-1",
        Bundle = "/run/bundles/web+1 <é>",
        Rootfs = "/run/bundles/web-1/rootfs",
        InitPid = 4242,
        InitStartTime = 123456789012,
        Created = new DateTimeOffset(2026, 11, 23, 15, 4, 5, 678, TimeSpan.Zero).AddTicks(9),
        Owner = "root",
        Annotations = new() { ["io.kubernetes.cri.sandbox-id"] = "abc", ["quote"] = "a \"b\" \\ c\n" },
        CgroupPaths = new() { ["memory"] = "/sys/fs/cgroup/memory/csrt/web-1", [""] = "/sys/fs/cgroup/unified/csrt/web-1" },
        Namespaces = 0x7e020000,
        CreatedNamespaces = 0x6c020000,
        Systemd = true,
        HostMounts = ["/run/bundles/web-1/rootfs/proc", "/run/bundles/web-1/rootfs/dev"],
    };

    private static void AssertSame(ContainerRecord expected, ContainerRecord actual)
    {
        foreach (var p in typeof(ContainerRecord).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var (e, a) = (p.GetValue(expected), p.GetValue(actual));
            if (e is List<string> list)
                Assert.Equal(list, (List<string>)a!);
            else if (e is Dictionary<string, string> map)
                Assert.Equal(map.OrderBy(kv => kv.Key, StringComparer.Ordinal), ((Dictionary<string, string>)a!).OrderBy(kv => kv.Key, StringComparer.Ordinal));
            else
                Assert.True(Equals(e, a), $"{p.Name}: wrote {e}, read {a}");
        }
    }

    [Fact]
    public void EveryProperty_SurvivesAWriteAndARead()
    {
        var record = Full();
        foreach (var p in typeof(ContainerRecord).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var fresh = p.GetValue(new ContainerRecord());
            Assert.False(Equals(fresh, p.GetValue(record)) || (fresh is null && p.GetValue(record) is null), $"the test does not set {p.Name}");
        }

        AssertSame(record, ContainerRecordJson.Read(ContainerRecordJson.Write(record)));
    }

    [Fact]
    public void TheDocument_IsTheOneSystemTextJsonsSerializerWritesAndReads()
    {
        var record = Full();

        var ours = ContainerRecordJson.Write(record);
        // The serializer's document, written with the same (minimal) escaping as ours.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Csrt.Runtime.Spec.MinimalJsonEncoder.Instance }))
            JsonSerializer.Serialize(writer, record, ReferenceStateJsonContext.Default.ContainerRecord);
        var theirs = buffer.WrittenSpan.ToArray();

        Assert.Equal(Encoding.UTF8.GetString(theirs), Encoding.UTF8.GetString(ours));
        AssertSame(record, JsonSerializer.Deserialize(ours, ReferenceStateJsonContext.Default.ContainerRecord)!);
        AssertSame(record, ContainerRecordJson.Read(theirs));
        // A state.json with the serializer's default escaping (\u002B and the like) reads too.
        AssertSame(record, ContainerRecordJson.Read(JsonSerializer.SerializeToUtf8Bytes(record, ReferenceStateJsonContext.Default.ContainerRecord)));
    }

    [Fact]
    public void NullAnnotations_AndUnknownMembers_AreRead()
    {
        var record = ContainerRecordJson.Read("""{"id":"x","annotations":null,"future":{"a":[1,2]},"initPid":7}"""u8);

        Assert.Equal("x", record.Id);
        Assert.Null(record.Annotations);
        Assert.Equal(7, record.InitPid);
        Assert.Empty(record.CgroupPaths);
    }

    [Theory]
    [InlineData("""[]""", "expected an object")]
    [InlineData("""{"initPid":"seven"}""", "$.initPid")]
    [InlineData("""{"id":null}""", "$.id")]
    [InlineData("""{"cgroupPaths":{"memory":1}}""", "$.cgroupPaths")]
    [InlineData("""{"created":"yesterday"}""", "$.created")]
    [InlineData("""{"hostMounts":[1]}""", "$.hostMounts")]
    [InlineData("""{"id":"x"} {}""", "")]
    [InlineData("""{"id":"x" """, "")]
    public void ACorruptDocument_IsAJsonException_NamingTheMember(string json, string expected)
    {
        var e = Assert.ThrowsAny<JsonException>(() => ContainerRecordJson.Read(Encoding.UTF8.GetBytes(json)));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
