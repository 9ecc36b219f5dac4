using System.Globalization;
using System.Text;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups;

/// <summary>Device access bits, valued as the kernel's BPF_DEVCG_ACC_* so the eBPF filter can use them as is.</summary>
[Flags]
public enum DeviceAccess
{
    None = 0,
    Mknod = 1,
    Read = 2,
    Write = 4,
    All = Mknod | Read | Write,
}

/// <summary>One device cgroup rule, normalised from linux.resources.devices.</summary>
/// <param name="Type">'a' (any), 'c' or 'b'.</param>
/// <param name="Major">-1 = any.</param>
/// <param name="Minor">-1 = any.</param>
public readonly record struct DeviceRule(char Type, long Major, long Minor, DeviceAccess Access, bool Allow)
{
    public const long Any = -1;

    /// <summary>Every device with every access: the rule that resets the list (v1 writes it as "a").</summary>
    public bool IsEverything => Type == 'a' && Major == Any && Minor == Any && Access == DeviceAccess.All;

    /// <summary>The rule as the v1 devices.allow/deny files take it, e.g. "c 1:3 rwm", "b *:* m".</summary>
    public string ToV1Line(char type)
    {
        var sb = new StringBuilder(16);
        sb.Append(type).Append(' ');
        sb.Append(Major == Any ? "*" : Major.ToString(CultureInfo.InvariantCulture)).Append(':');
        sb.Append(Minor == Any ? "*" : Minor.ToString(CultureInfo.InvariantCulture)).Append(' ');
        sb.Append(AccessString(Access));
        return sb.ToString();
    }

    public static string AccessString(DeviceAccess access)
    {
        Span<char> s = stackalloc char[3];
        var n = 0;
        if ((access & DeviceAccess.Read) != 0)
            s[n++] = 'r';
        if ((access & DeviceAccess.Write) != 0)
            s[n++] = 'w';
        if ((access & DeviceAccess.Mknod) != 0)
            s[n++] = 'm';
        return new string(s[..n]);
    }

    public override string ToString() => (Allow ? "allow " : "deny ") + ToV1Line(Type);
}

/// <summary>Device rule lists: from the spec, runc's built-in allowances, and the v1 file writes.</summary>
public static class DeviceRules
{
    /// <summary>runc's AllowedDevices (libcontainer/specconv), appended after the spec's rules on every
    /// container, so they cannot be denied: mknod of any device, /dev/null, random, full, tty, zero,
    /// urandom, /dev/pts/*, /dev/ptmx, and /dev/net/tun (kept by runc for compatibility).</summary>
    public static IReadOnlyList<DeviceRule> RuncDefaults { get; } = new[]
    {
        new DeviceRule('c', DeviceRule.Any, DeviceRule.Any, DeviceAccess.Mknod, true),
        new DeviceRule('b', DeviceRule.Any, DeviceRule.Any, DeviceAccess.Mknod, true),
        new DeviceRule('c', 1, 3, DeviceAccess.All, true),
        new DeviceRule('c', 1, 8, DeviceAccess.All, true),
        new DeviceRule('c', 1, 7, DeviceAccess.All, true),
        new DeviceRule('c', 5, 0, DeviceAccess.All, true),
        new DeviceRule('c', 1, 5, DeviceAccess.All, true),
        new DeviceRule('c', 1, 9, DeviceAccess.All, true),
        new DeviceRule('c', 136, DeviceRule.Any, DeviceAccess.All, true),
        new DeviceRule('c', 5, 2, DeviceAccess.All, true),
        new DeviceRule('c', 10, 200, DeviceAccess.All, true),
    };

    /// <summary>The spec's rules in order, then (when <paramref name="withDefaults"/>) runc's defaults.</summary>
    /// <exception cref="CgroupException">An unknown type or access letter, a negative or oversized number.</exception>
    public static List<DeviceRule> FromSpec(IReadOnlyList<LinuxDeviceCgroup>? devices, bool withDefaults)
    {
        var rules = new List<DeviceRule>((devices?.Count ?? 0) + RuncDefaults.Count);
        if (devices is not null)
        {
            for (var i = 0; i < devices.Count; i++)
            {
                var d = devices[i];
                var where = $"linux.resources.devices[{i}]";
                var type = d.Type switch
                {
                    null or "a" => 'a',
                    "c" => 'c',
                    "b" => 'b',
                    _ => throw CgroupException.Invalid($"{where}.type \"{d.Type}\": expected \"a\", \"c\" or \"b\""),
                };
                rules.Add(new DeviceRule(type, Number(d.Major, where + ".major"), Number(d.Minor, where + ".minor"),
                    ParseAccess(d.Access, where + ".access"), d.Allow));
            }
        }
        if (withDefaults)
            rules.AddRange(RuncDefaults);
        return rules;
    }

    private static long Number(long? value, string where)
    {
        if (value is null or -1)
            return DeviceRule.Any;
        // Real majors fit in 12 bits and minors in 20; the eBPF filter compares 32-bit immediates.
        if (value < 0 || value > int.MaxValue)
            throw CgroupException.Invalid($"{where} {value}: expected a device number from 0 to {int.MaxValue}, or null for any");
        return value.Value;
    }

    /// <summary>"rwm" letters; null means all three (the model's default), an empty string is refused
    /// as runc refuses it.</summary>
    public static DeviceAccess ParseAccess(string? access, string where = "access")
    {
        if (access is null)
            return DeviceAccess.All;
        if (access.Length == 0)
            throw CgroupException.Invalid($"{where} is empty; expected some of \"rwm\"");
        var result = DeviceAccess.None;
        foreach (var ch in access)
        {
            result |= ch switch
            {
                'r' => DeviceAccess.Read,
                'w' => DeviceAccess.Write,
                'm' => DeviceAccess.Mknod,
                _ => throw CgroupException.Invalid($"{where} \"{access}\": unknown letter '{ch}'; expected some of \"rwm\""),
            };
        }
        return result;
    }

    /// <summary>
    /// The v1 writes (file, line) that produce these rules' meaning: start from "deny everything"
    /// (runc's target state starts there too), then apply the rules in order. A rule for every device
    /// and every access resets the list, so everything before the last such rule is dropped and that
    /// rule becomes the first write ("a"). A type 'a' rule that is narrower is written as a 'c' and a
    /// 'b' rule: the v1 kernel reads any "a …" line as all-or-nothing and would grant too much.
    /// </summary>
    public static List<(string File, string Line)> ToV1Writes(IReadOnlyList<DeviceRule> rules)
    {
        var start = -1;
        for (var i = rules.Count - 1; i >= 0; i--)
        {
            if (rules[i].IsEverything)
            {
                start = i;
                break;
            }
        }
        var writes = new List<(string, string)>(rules.Count + 2);
        if (start < 0)
            writes.Add(("devices.deny", "a"));
        for (var i = Math.Max(start, 0); i < rules.Count; i++)
        {
            var r = rules[i];
            var file = r.Allow ? "devices.allow" : "devices.deny";
            if (r.IsEverything)
            {
                writes.Add((file, "a"));
            }
            else if (r.Type == 'a')
            {
                writes.Add((file, r.ToV1Line('c')));
                writes.Add((file, r.ToV1Line('b')));
            }
            else
            {
                writes.Add((file, r.ToV1Line(r.Type)));
            }
        }
        return writes;
    }
}
