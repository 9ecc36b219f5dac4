using System.Collections;
using System.Reflection;
using Csrt.Runtime.Processes;
using Xunit;

namespace Csrt.Runtime.Tests.Processes;

// Tests run on the JIT: walking the plan's types by reflection is fine here (not in src/).
#pragma warning disable IL2067, IL2070, IL2075

/// <summary>The init plan crosses the sync socket in a hand-written binary form; these tests fail
/// when a property of the plan's types is not carried (someone added one to InitPlan and not to
/// InitPlanCodec) or comes back different.</summary>
public class InitPlanCodecTests
{
    [Fact]
    public void Every_property_set_to_a_non_default_value_comes_back_equal()
    {
        var plan = (InitPlan)Filled(typeof(InitPlan), seed: 1);
        var back = InitPlanCodec.Decode(InitPlanCodec.Encode(plan));
        AssertDeepEqual(plan, back, "plan");
    }

    [Fact]
    public void A_default_plan_comes_back_equal()
    {
        var plan = new InitPlan();
        AssertDeepEqual(plan, InitPlanCodec.Decode(InitPlanCodec.Encode(plan)), "plan");
    }

    [Fact]
    public void Nulls_empty_lists_extreme_numbers_and_non_ascii_text_survive()
    {
        var plan = new InitPlan
        {
            ContainerId = "ünïcode-✓",
            RootPropagation = ulong.MaxValue,
            Hostname = null,
            Sysctl = new Dictionary<string, string>(),
            OomScoreAdj = int.MinValue,
            PreserveFds = int.MaxValue,
            ConsoleSocketFd = -1,
        };
        plan.Devices.Add(new DeviceNode { Path = "/dev/x", Type = 'c', Major = long.MinValue, Minor = long.MaxValue, FileMode = uint.MaxValue });
        plan.Mounts.Add(new MountStep { Destination = "/a", CgroupSources = null, Propagation = new List<ulong>() });
        plan.Process.Seccomp = Array.Empty<byte>();
        plan.Process.AdditionalGids = null;
        plan.Process.Umask = 0;
        AssertDeepEqual(plan, InitPlanCodec.Decode(InitPlanCodec.Encode(plan)), "plan");
    }

    [Fact]
    public void A_truncated_plan_is_refused_with_an_IOException()
    {
        var bytes = InitPlanCodec.Encode((InitPlan)Filled(typeof(InitPlan), seed: 2));
        for (var n = 0; n < bytes.Length; n += Math.Max(1, bytes.Length / 50))
            Assert.Throws<IOException>(() => InitPlanCodec.Decode(bytes.AsSpan(0, n)));
        Assert.Throws<IOException>(() => InitPlanCodec.Decode([.. bytes, 0]));
    }

    /// <summary>An instance whose every settable public property holds a non-default value
    /// (lists and dictionaries with two elements, nested objects filled the same way).</summary>
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
            return "s" + seed + "-ä";
        if (t == typeof(bool))
            return true;
        if (t == typeof(char))
            return (char)('a' + seed % 26);
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
        if (t == typeof(byte[]))
            return new byte[] { 1, 2, (byte)seed };
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
        throw new NotSupportedException($"InitPlanCodecTests: no test value for {t} (new property type: teach Value and InitPlanCodec)");
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
            Assert.Equal(ed.Count, ad.Count);
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
