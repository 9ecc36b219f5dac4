using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Csrt.Runtime.Spec;

/// <summary>
/// Turns a failed deserialization into a <see cref="SpecValidationException"/> that says where and
/// what. The serializer's own messages are unusable here (the build strips resource strings), so
/// the description is rebuilt: malformed JSON is rescanned with a reader that tracks the path;
/// a type mismatch is described from the source-generated metadata (what the model wanted) and
/// the document (what was there). Runs only after a failure, so good input pays nothing.
/// </summary>
internal static class JsonErrors
{
    public static SpecValidationException Describe(ReadOnlySpan<byte> json, string file, JsonException error, JsonTypeInfo root)
    {
        var syntax = FindSyntaxError(json, file);
        if (syntax is not null)
            return syntax;

        var path = string.IsNullOrEmpty(error.Path) ? "$" : error.Path;
        var segments = JsonPaths.Parse(path);
        var expected = ExpectedAt(root, segments) ?? "a value of another type";
        var got = ActualAt(json, segments);
        var detail = got is null ? $"expected {expected}" : $"expected {expected}, got {got}";
        return new SpecValidationException(file, path, expected, detail, error);
    }

    /// <summary>Scans the whole document; returns the first syntax error, or null if it is well formed.</summary>
    public static SpecValidationException? FindSyntaxError(ReadOnlySpan<byte> json, string file)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions
        {
            CommentHandling = JsonCommentHandling.Disallow, AllowTrailingCommas = false, MaxDepth = 64,
        });
        var frames = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        frames[^1] = frames[^1] with { Name = reader.GetString() };
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        CountElement(frames);
                        frames.Add(new Frame(reader.TokenType == JsonTokenType.StartArray, -1, null));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        break;
                    default:
                        CountElement(frames);
                        break;
                }
            }
            return null;
        }
        catch (JsonException e)
        {
            var line = e.LineNumber ?? 0;
            var column = e.BytePositionInLine ?? 0;
            var offset = OffsetOf(json, line, column);
            var path = PathOf(frames);
            var reason = ReasonAt(json, offset);
            return new SpecValidationException(file, path, "well-formed JSON",
                $"malformed JSON at line {line + 1}, column {column + 1} (byte offset {offset}): {reason}", e)
            {
                Line = line + 1, Column = column + 1, ByteOffset = offset,
            };
        }
    }

    private readonly record struct Frame(bool IsArray, int Index, string? Name);

    private static void CountElement(List<Frame> frames)
    {
        if (frames.Count > 0 && frames[^1].IsArray)
            frames[^1] = frames[^1] with { Index = frames[^1].Index + 1 };
    }

    private static string PathOf(List<Frame> frames)
    {
        var sb = new StringBuilder("$");
        foreach (var f in frames)
        {
            if (f.IsArray && f.Index >= 0)
                sb.Append('[').Append(f.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
            else if (!f.IsArray && f.Name is not null)
                JsonPaths.AppendName(sb, f.Name);
        }
        return sb.ToString();
    }

    private static long OffsetOf(ReadOnlySpan<byte> json, long line, long column)
    {
        long start = 0;
        for (long l = 0; l < line; l++)
        {
            var next = json[(int)start..].IndexOf((byte)'\n');
            if (next < 0)
                break;
            start += next + 1;
        }
        return Math.Min(start + column, json.Length);
    }

    private static string ReasonAt(ReadOnlySpan<byte> json, long offset)
    {
        var rest = json[(int)offset..];
        var i = 0;
        while (i < rest.Length && rest[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
            i++;
        if (i == rest.Length)
            return "the document ends too early (an object, array or string is not closed, or a value is missing)";
        var b = rest[i];
        return b switch
        {
            (byte)'\'' => "unexpected character \"'\" (JSON strings use double quotes)",
            >= 0x21 and < 0x7f => $"unexpected character '{(char)b}'",
            _ => $"unexpected byte 0x{b:X2}",
        };
    }

    /// <summary>What the model expects at the path, in words; null if the path leaves the model.</summary>
    private static string? ExpectedAt(JsonTypeInfo root, List<JsonPaths.Segment> segments)
    {
        var info = root;
        foreach (var segment in segments)
        {
            Type? next = null;
            if (info.Kind == JsonTypeInfoKind.Object && segment.Name is not null)
            {
                foreach (var p in info.Properties)
                    if (string.Equals(p.Name, segment.Name, StringComparison.OrdinalIgnoreCase))
                        next = p.PropertyType;
            }
            else if (info.Kind is JsonTypeInfoKind.Enumerable or JsonTypeInfoKind.Dictionary)
            {
                next = info.ElementType;
            }
            if (next is null)
                return null;
            try
            {
                info = root.Options.GetTypeInfo(next);
            }
            catch (NotSupportedException)
            {
                return null;
            }
        }
        return Describe(info);
    }

    private static string Describe(JsonTypeInfo info)
    {
        var t = Nullable.GetUnderlyingType(info.Type) ?? info.Type;
        if (t == typeof(string)) return "a string";
        if (t == typeof(bool)) return "a boolean (true or false)";
        if (t == typeof(int)) return "a signed 32-bit integer";
        if (t == typeof(uint)) return "an unsigned 32-bit integer";
        if (t == typeof(long)) return "a signed 64-bit integer";
        if (t == typeof(ulong)) return "an unsigned 64-bit integer";
        if (t == typeof(ushort)) return "an unsigned 16-bit integer";
        if (t == typeof(DateTimeOffset)) return "an RFC 3339 timestamp";
        return info.Kind switch
        {
            JsonTypeInfoKind.Enumerable => "an array",
            JsonTypeInfoKind.Dictionary when info.ElementType == typeof(string) => "an object with string values",
            JsonTypeInfoKind.Dictionary => "an object",
            JsonTypeInfoKind.Object => "an object",
            _ => "a value of type " + t.Name,
        };
    }

    /// <summary>The value found at the path, quoted for a message; null if it cannot be found.</summary>
    private static string? ActualAt(ReadOnlySpan<byte> json, List<JsonPaths.Segment> segments)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var e = doc.RootElement;
            foreach (var s in segments)
            {
                if (s.Name is not null)
                {
                    if (e.ValueKind != JsonValueKind.Object)
                        return null;
                    JsonElement? found = null;
                    // Last one wins, case-insensitively, like the deserializer.
                    foreach (var p in e.EnumerateObject())
                        if (string.Equals(p.Name, s.Name, StringComparison.OrdinalIgnoreCase))
                            found = p.Value;
                    if (found is null)
                        return null;
                    e = found.Value;
                }
                else
                {
                    if (e.ValueKind != JsonValueKind.Array || s.Index >= e.GetArrayLength())
                        return null;
                    e = e[s.Index];
                }
            }
            return Show(e);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal static string Show(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => e.GetArrayLength() == 0 ? "[]" : "an array",
        _ => Truncate(e.GetRawText()),
    };

    internal static string Truncate(string s) => s.Length <= 64 ? s : s[..61] + "...";

    /// <summary>A string as a JSON literal for messages (escaped, shortened).</summary>
    internal static string Quote(string? s) =>
        s is null ? "null" : Truncate("\"" + JsonEncodedText.Encode(s, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value + "\"");
}

/// <summary>JSON paths in the serializer's notation: $.a.b[0]['dotted.key'].</summary>
internal static class JsonPaths
{
    public readonly record struct Segment(string? Name, int Index);

    public static string Property(string parent, string name)
    {
        var sb = new StringBuilder(parent);
        AppendName(sb, name);
        return sb.ToString();
    }

    public static string Index(string parent, int index) =>
        parent + "[" + index.ToString(CultureInfo.InvariantCulture) + "]";

    public static void AppendName(StringBuilder sb, string name)
    {
        var plain = name.Length > 0;
        foreach (var c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
                plain = false;
        if (plain)
            sb.Append('.').Append(name);
        else
            sb.Append("['").Append(name).Append("']");
    }

    public static List<Segment> Parse(string path)
    {
        var segments = new List<Segment>();
        var i = path.StartsWith('$') ? 1 : 0;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = i + 1;
                while (end < path.Length && path[end] != '.' && path[end] != '[')
                    end++;
                segments.Add(new Segment(path[(i + 1)..end], -1));
                i = end;
            }
            else if (path[i] == '[' && i + 1 < path.Length && path[i + 1] == '\'')
            {
                var end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0)
                    break;
                segments.Add(new Segment(path[(i + 2)..end], -1));
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                if (end < 0 || !int.TryParse(path.AsSpan(i + 1, end - i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                    break;
                segments.Add(new Segment(null, index));
                i = end + 1;
            }
            else
            {
                break;
            }
        }
        return segments;
    }
}
