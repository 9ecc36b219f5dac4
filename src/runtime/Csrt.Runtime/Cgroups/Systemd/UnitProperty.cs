using System.Globalization;
using System.Text;

namespace Csrt.Runtime.Cgroups.Systemd;

/// <summary>The D-Bus types of the unit properties the driver sets (systemd.resource-control(5),
/// org.freedesktop.systemd1(5)).</summary>
public enum UnitPropertyType
{
    /// <summary>"s"</summary>
    String,

    /// <summary>"b"</summary>
    Boolean,

    /// <summary>"t"</summary>
    UInt64,

    /// <summary>"au" (PIDs)</summary>
    UInt32Array,

    /// <summary>"ay" (AllowedCPUs, AllowedMemoryNodes: a little-endian bitmask)</summary>
    Bytes,

    /// <summary>"as" (Wants)</summary>
    StringArray,

    /// <summary>"a(ss)" (DeviceAllow: path or group, access)</summary>
    DeviceAllowList,
}

/// <summary>One (name, variant) pair of StartTransientUnit / SetUnitProperties. Exactly the field of
/// <see cref="Type"/> is set.</summary>
public sealed record UnitProperty(string Name, UnitPropertyType Type)
{
    public string? String { get; init; }

    public bool Boolean { get; init; }

    public ulong UInt64 { get; init; }

    public uint[]? UInt32Array { get; init; }

    public byte[]? Bytes { get; init; }

    public string[]? Strings { get; init; }

    public (string Path, string Access)[]? DeviceAllow { get; init; }

    /// <summary>USEC_INFINITY / CGROUP_LIMIT_MAX: "no limit" for the "t" properties.</summary>
    public const ulong Infinity = ulong.MaxValue;

    public static UnitProperty Str(string name, string value) => new(name, UnitPropertyType.String) { String = value };

    public static UnitProperty Bool(string name, bool value) => new(name, UnitPropertyType.Boolean) { Boolean = value };

    public static UnitProperty U64(string name, ulong value) => new(name, UnitPropertyType.UInt64) { UInt64 = value };

    public static UnitProperty Pids(params uint[] pids) => new("PIDs", UnitPropertyType.UInt32Array) { UInt32Array = pids };

    public static UnitProperty Mask(string name, byte[] bits) => new(name, UnitPropertyType.Bytes) { Bytes = bits };

    public static UnitProperty StrArray(string name, params string[] values) => new(name, UnitPropertyType.StringArray) { Strings = values };

    public static UnitProperty Devices((string Path, string Access)[] entries) =>
        new("DeviceAllow", UnitPropertyType.DeviceAllowList) { DeviceAllow = entries };

    /// <summary>The D-Bus signature of the value.</summary>
    public string Signature => Type switch
    {
        UnitPropertyType.String => "s",
        UnitPropertyType.Boolean => "b",
        UnitPropertyType.UInt64 => "t",
        UnitPropertyType.UInt32Array => "au",
        UnitPropertyType.Bytes => "ay",
        UnitPropertyType.StringArray => "as",
        _ => "a(ss)",
    };

    /// <summary>"Name=value" as `systemctl show` would print it, for errors and tests.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(Name).Append('=');
        switch (Type)
        {
            case UnitPropertyType.String:
                sb.Append(String);
                break;
            case UnitPropertyType.Boolean:
                sb.Append(Boolean ? "yes" : "no");
                break;
            case UnitPropertyType.UInt64:
                sb.Append(UInt64 == Infinity ? "infinity" : UInt64.ToString(CultureInfo.InvariantCulture));
                break;
            case UnitPropertyType.UInt32Array:
                sb.AppendJoin(' ', UInt32Array ?? Array.Empty<uint>());
                break;
            case UnitPropertyType.Bytes:
                sb.Append(Convert.ToHexString(Bytes ?? Array.Empty<byte>()).ToLowerInvariant());
                break;
            case UnitPropertyType.StringArray:
                sb.AppendJoin(' ', Strings ?? Array.Empty<string>());
                break;
            default:
                var first = true;
                foreach (var (path, access) in DeviceAllow ?? Array.Empty<(string, string)>())
                {
                    if (!first)
                        sb.Append(", ");
                    sb.Append(path).Append(' ').Append(access);
                    first = false;
                }
                break;
        }
        return sb.ToString();
    }
}
