using System.Buffers;
using System.Text.Json;

namespace Csrt.Runtime.State;

/// <summary>
/// state.json written and read by hand (Utf8JsonWriter, Utf8JsonReader), in the camelCase form
/// System.Text.Json's serializer gave it. Building the serializer's metadata for this one type
/// (reflection over its attributes) cost more CPU than everything else a `csrt delete` does in
/// user space; state.json is read or written by nearly every command.
/// </summary>
internal static class ContainerRecordJson
{
    public static byte[] Write(ContainerRecord r)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Csrt.Runtime.Spec.MinimalJsonEncoder.Instance }))
        {
            w.WriteStartObject();
            w.WriteString("id", r.Id);
            w.WriteString("bundle", r.Bundle);
            w.WriteString("rootfs", r.Rootfs);
            w.WriteNumber("initPid", r.InitPid);
            w.WriteNumber("initStartTime", r.InitStartTime);
            w.WriteString("created", r.Created);
            w.WriteString("owner", r.Owner);
            WriteMap(w, "annotations", r.Annotations);
            WriteMap(w, "cgroupPaths", r.CgroupPaths);
            w.WriteNumber("namespaces", r.Namespaces);
            w.WriteNumber("createdNamespaces", r.CreatedNamespaces);
            w.WriteBoolean("systemd", r.Systemd);
            WriteList(w, "hostMounts", r.HostMounts);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a record; unknown members are skipped. Throws <see cref="JsonException"/>
    /// naming the member when the document is not a record.</summary>
    public static ContainerRecord Read(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("expected an object");
        var r = new ContainerRecord();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            try
            {
                switch (name)
                {
                    case "id": r.Id = String(ref reader); break;
                    case "bundle": r.Bundle = String(ref reader); break;
                    case "rootfs": r.Rootfs = String(ref reader); break;
                    case "initPid": r.InitPid = reader.GetInt32(); break;
                    case "initStartTime": r.InitStartTime = reader.GetUInt64(); break;
                    case "created": r.Created = reader.GetDateTimeOffset(); break;
                    case "owner": r.Owner = String(ref reader); break;
                    case "annotations": r.Annotations = ReadMap(ref reader); break;
                    case "cgroupPaths": r.CgroupPaths = ReadMap(ref reader) ?? new(); break;
                    case "namespaces": r.Namespaces = reader.GetUInt64(); break;
                    case "createdNamespaces": r.CreatedNamespaces = reader.GetUInt64(); break;
                    case "systemd": r.Systemd = reader.GetBoolean(); break;
                    case "hostMounts": r.HostMounts = ReadList(ref reader); break;
                    default: reader.Skip(); break;
                }
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException)
            {
                throw new JsonException($"$.{name}: {e.Message}", e);
            }
        }
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            throw new JsonException("expected the end of the object");
        return r;
    }

    private static string String(ref Utf8JsonReader reader) =>
        reader.GetString() ?? throw new FormatException("a string, not null");

    private static void WriteMap(Utf8JsonWriter w, string name, Dictionary<string, string>? map)
    {
        if (map is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartObject(name);
        foreach (var (key, value) in map)
            w.WriteString(key, value);
        w.WriteEndObject();
    }

    private static void WriteList(Utf8JsonWriter w, string name, List<string>? list)
    {
        if (list is null)
        {
            w.WriteNull(name);
            return;
        }
        w.WriteStartArray(name);
        foreach (var item in list)
            w.WriteStringValue(item);
        w.WriteEndArray();
    }

    private static List<string>? ReadList(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return null;
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new FormatException("an array of strings");
        var list = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            list.Add(String(ref reader));
        return list;
    }

    private static Dictionary<string, string>? ReadMap(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
            return null;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new FormatException("an object of strings");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            map[key] = String(ref reader);
        }
        return map;
    }
}
