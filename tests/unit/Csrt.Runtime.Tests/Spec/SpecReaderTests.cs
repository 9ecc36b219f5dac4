using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

// Tests run on the JIT: walking the model's types by reflection is fine here (not in src/).
#pragma warning disable IL2067, IL2070, IL2075

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
        var spec = (RuntimeSpec)Filled(typeof(RuntimeSpec), seed: 1);
        var json = Encoding.UTF8.GetString(SpecJson.Serialize(spec, indented: true));
        var fast = Fast(json);
        Assert.NotNull(fast);
        AssertDeepEqual(Serializer(json), fast, "$");
        AssertDeepEqual(spec, fast, "$");
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
        AssertDeepEqual(Serializer(json), fast, "$");
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
        AssertDeepEqual(Serializer(json), fast, "$");
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

    /// <summary>An instance whose every settable public property holds a non-default value.</summary>
    private static object Filled(Type type, int seed)
    {
        var o = Activator.CreateInstance(type)!;
        foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
            p.SetValue(o, Value(p.PropertyType, seed++ * 7));
        return o;
    }

    private static object Value(Type t, int seed)
    {
        var u = Nullable.GetUnderlyingType(t);
        if (u is not null)
            return Value(u, seed);
        if (t == typeof(string))
            return "s" + seed + "-ä\"\\";
        if (t == typeof(bool))
            return true;
        if (t == typeof(int))
            return -seed - 1;
        if (t == typeof(uint))
            return (uint)seed + 1;
        if (t == typeof(long))
            return -(long)seed * 1_000_000_007L - 1;
        if (t == typeof(ulong))
            return (ulong)seed * 0x1_0000_0001UL + 1;
        if (t == typeof(ushort))
            return (ushort)(seed + 1);
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>))
        {
            var list = (IList)Activator.CreateInstance(t)!;
            list.Add(Value(t.GetGenericArguments()[0], seed));
            list.Add(Value(t.GetGenericArguments()[0], seed + 1));
            return list;
        }
        if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var map = (IDictionary)Activator.CreateInstance(t)!;
            map.Add(Value(t.GetGenericArguments()[0], seed), Value(t.GetGenericArguments()[1], seed));
            map.Add(Value(t.GetGenericArguments()[0], seed + 1), Value(t.GetGenericArguments()[1], seed + 1));
            return map;
        }
        if (t.IsClass)
            return Filled(t, seed);
        throw new NotSupportedException($"SpecReaderTests: no test value for {t} (a new property type: teach Value and SpecReader)");
    }

    private static void AssertDeepEqual(object? expected, object? actual, string path)
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{path}: expected {expected ?? "null"}, got {actual ?? "null"}");
            return;
        }
        var t = expected.GetType();
        Assert.Equal(t, actual.GetType());
        if (t.IsPrimitive || t == typeof(string) || t.IsEnum)
        {
            Assert.True(expected.Equals(actual), $"{path}: expected {expected}, got {actual}");
            return;
        }
        if (expected is IDictionary ed)
        {
            var ad = (IDictionary)actual;
            Assert.True(ed.Count == ad.Count, $"{path}: expected {ed.Count} entries, got {ad.Count}");
            foreach (DictionaryEntry e in ed)
                AssertDeepEqual(e.Value, ad[e.Key], $"{path}[{e.Key}]");
            return;
        }
        if (expected is IEnumerable ee)
        {
            var el = ee.Cast<object?>().ToList();
            var al = ((IEnumerable)actual).Cast<object?>().ToList();
            Assert.True(el.Count == al.Count, $"{path}: expected {el.Count} elements, got {al.Count}");
            for (var i = 0; i < el.Count; i++)
                AssertDeepEqual(el[i], al[i], $"{path}[{i}]");
            return;
        }
        foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.GetIndexParameters().Length == 0))
            AssertDeepEqual(p.GetValue(expected), p.GetValue(actual), path + "." + p.Name);
    }
}
