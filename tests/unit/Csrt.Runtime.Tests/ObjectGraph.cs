using System.Collections;
using System.Reflection;
using Xunit;

namespace Csrt.Runtime.Tests;

// Tests run on the JIT: walking the model's types by reflection is fine here (not in src/).
#pragma warning disable IL2067, IL2070, IL2075

/// <summary>
/// Object graphs of plain model types (public settable properties, lists, dictionaries, nested
/// classes) built and compared by reflection, for the tests of the hand-written readers and codecs
/// (SpecReader, InitPlanCodec): they fail when a property is added to a model and not to its reader.
/// </summary>
internal static class ObjectGraph
{
    /// <summary>An instance whose every settable public property holds a non-default value
    /// (lists and dictionaries with two elements, nested objects filled the same way).</summary>
    public static object Filled(Type type, int seed)
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
            return "s" + seed + "-ä\"\\"; // non-ASCII and JSON escapes
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
        throw new NotSupportedException($"ObjectGraph: no test value for {t} (a new property type: teach ObjectGraph.Value and the reader under test)");
    }

    /// <summary>Equal values in every public property, element and entry; the message names the
    /// path of the first difference.</summary>
    public static void AssertDeepEqual(object? expected, object? actual, string path)
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
