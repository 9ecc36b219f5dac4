using System.Globalization;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.Systemd;

/// <summary>
/// linux.resources → systemd unit properties, as runc's v2 systemd driver maps them
/// (cgroups/systemd/v2.go, common.go, devices): what systemd knows is given to systemd, so a
/// daemon-reload or a restart of systemd re-applies the same limits; the cgroupfs code then writes
/// everything (systemd's values and the rest: io.max, hugetlb, cpu.idle, burst, our device filter).
/// Pure functions of the spec and the systemd version.
/// </summary>
public static class SystemdProperties
{
    // µs; the kernel's default cpu.max period.
    private const ulong DefaultCpuPeriod = 100000;

    /// <summary>Properties of the container's new unit: description, parent, PIDs, delegation,
    /// accounting, no default dependencies (so stopping the unit does not wait for, nor order
    /// against, shutdown targets), then the resources.</summary>
    public static List<UnitProperty> ForStart(SystemdCgroupPath path, int pid, LinuxResources? resources, int systemdVersion, Action<string>? warn)
    {
        var props = new List<UnitProperty> { UnitProperty.Str("Description", "csrt container " + path.Name) };
        if (path.IsSliceUnit)
        {
            // A slice holds no PIDs of its own in systemd's model: its parent is a dependency, and
            // the init is moved into its cgroup through cgroupfs.
            props.Add(UnitProperty.StrArray("Wants", path.Slice));
        }
        else
        {
            props.Add(UnitProperty.Str("Slice", path.Slice));
            props.Add(UnitProperty.Pids(checked((uint)pid)));
            props.Add(UnitProperty.Bool("Delegate", true));
        }
        props.Add(UnitProperty.Bool("MemoryAccounting", true));
        props.Add(UnitProperty.Bool("CPUAccounting", true));
        props.Add(UnitProperty.Bool("IOAccounting", true));
        props.Add(UnitProperty.Bool("TasksAccounting", true));
        props.Add(UnitProperty.Bool("DefaultDependencies", false));
        props.AddRange(ForResources(resources ?? new LinuxResources(), systemdVersion, update: false, warn));
        return props;
    }

    /// <summary>The resource properties (`update`: only the fields that are set, devices only when
    /// given).</summary>
    /// <exception cref="CgroupException">A cpuset list or unified value that cannot be converted, a
    /// swap value that cannot be expressed in v2.</exception>
    public static List<UnitProperty> ForResources(LinuxResources r, int systemdVersion, bool update, Action<string>? warn)
    {
        var props = new List<UnitProperty>();
        if (!update || r.Devices is not null)
            props.AddRange(ForDevices(DeviceRules.FromSpec(r.Devices, withDefaults: true), systemdVersion));

        if (r.Memory is { } m)
        {
            var limit = m.Limit ?? 0;
            if (limit != 0)
                props.Add(UnitProperty.U64("MemoryMax", Unlimited(limit)));
            if (m.Reservation is { } low and not 0)
                props.Add(UnitProperty.U64("MemoryLow", Unlimited(low)));
            // An update of swap alone needs the limit in force: cgroupfs computes that one.
            if (m.Swap is not null && !(limit == 0 && m.Swap > 0) || limit == -1)
            {
                var swap = Conversions.MemorySwapToV2(m.Swap ?? 0, limit);
                if (swap != 0)
                    props.Add(UnitProperty.U64("MemorySwapMax", Unlimited(swap)));
            }
        }

        if (r.Cpu is { } c)
        {
            if (c.Shares is > 0 and var shares)
                props.Add(UnitProperty.U64("CPUWeight", Conversions.CpuSharesToWeight(shares)));
            AddCpuQuota(props, c.Quota ?? 0, c.Period ?? 0, systemdVersion);
            AddCpuset(props, c.Cpus, c.Mems, systemdVersion, "linux.resources.cpu");
        }

        if (r.Pids is { Limit: { } pids } && (pids > 0 || pids == -1))
            props.Add(UnitProperty.U64("TasksMax", Unlimited(pids)));

        if (r.BlockIO is { Weight: { } weight and not 0 })
            props.Add(UnitProperty.U64("IOWeight", Conversions.BlkioWeightToIoWeight(weight)));

        if (r.Unified is { Count: > 0 } unified)
            props.AddRange(ForUnified(unified, systemdVersion, warn));
        return props;
    }

    private static ulong Unlimited(long value) => value < 0 ? UnitProperty.Infinity : (ulong)value;

    /// <summary>runc's addCpuQuota: CPUQuotaPeriodUSec (systemd 242+) when a period is given;
    /// CPUQuotaPerSecUSec = quota × 1s / period, rounded up to a whole percent (systemd keeps the
    /// quota as a percentage, and a rounded-down quota would be below what the container asked for),
    /// or infinity for no quota.</summary>
    public static void AddCpuQuota(List<UnitProperty> props, long quota, ulong period, int systemdVersion)
    {
        if (period != 0 && systemdVersion >= 242)
            props.Add(UnitProperty.U64("CPUQuotaPeriodUSec", period));
        if (quota == 0 && period == 0)
            return;
        var perSec = UnitProperty.Infinity;
        if (quota > 0)
        {
            var p = period == 0 ? DefaultCpuPeriod : period;
            perSec = (ulong)quota * 1000000 / p;
            if (perSec % 10000 != 0)
                perSec = (perSec / 10000 + 1) * 10000;
        }
        props.Add(UnitProperty.U64("CPUQuotaPerSecUSec", perSec));
    }

    private static void AddCpuset(List<UnitProperty> props, string? cpus, string? mems, int systemdVersion, string where)
    {
        // AllowedCPUs/AllowedMemoryNodes exist from systemd 244; older ones get cpuset through cgroupfs only.
        if (systemdVersion < 244)
            return;
        if (!string.IsNullOrEmpty(cpus))
            props.Add(UnitProperty.Mask("AllowedCPUs", RangeToBits(cpus, where + ".cpus")));
        if (!string.IsNullOrEmpty(mems))
            props.Add(UnitProperty.Mask("AllowedMemoryNodes", RangeToBits(mems, where + ".mems")));
    }

    /// <summary>A cpuset list ("0-3,7") as the byte mask systemd takes: bit n of the little-endian
    /// byte array is CPU (or node) n; the array ends at the highest set byte.</summary>
    /// <exception cref="CgroupException">Not a list of numbers and ranges, a reversed range, or empty.</exception>
    public static byte[] RangeToBits(string list, string where)
    {
        var bits = new List<byte>();
        foreach (var raw in list.Split(','))
        {
            var item = raw.Trim();
            if (item.Length == 0)
                continue;
            var dash = item.IndexOf('-');
            var start = Number(dash < 0 ? item : item[..dash], list, where);
            var end = dash < 0 ? start : Number(item[(dash + 1)..], list, where);
            if (start > end)
                throw CgroupException.Invalid($"{where} \"{list}\": range {item} runs backwards");
            // The kernel's own limit on CPU numbers is far below this; it bounds the mask's size.
            if (end >= 1 << 20)
                throw CgroupException.Invalid($"{where} \"{list}\": {end} is not a CPU or memory node number");
            for (var i = start; i <= end; i++)
            {
                var index = (int)(i / 8);
                while (bits.Count <= index)
                    bits.Add(0);
                bits[index] |= (byte)(1 << (int)(i % 8));
            }
        }
        if (bits.Count == 0)
            throw CgroupException.Invalid($"{where} \"{list}\" names no CPU or memory node");
        return bits.ToArray();
    }

    private static uint Number(string text, string list, string where)
    {
        if (!uint.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw CgroupException.Invalid($"{where} \"{list}\": \"{text}\" is not a number; expected a list such as \"0-3,7\"");
        return n;
    }

    /// <summary>
    /// The device rules (spec order, runc's defaults last) as DevicePolicy and DeviceAllow. csrt's own
    /// eBPF program enforces the exact rules; systemd's program is attached beside it and a device
    /// must pass both, so this list may be looser than the rules but never stricter:
    /// <list type="bullet">
    /// <item>after the last "deny everything" rule: DevicePolicy=strict and each later allow rule as
    /// "char-*", "block-5" (systemd 240+) or "/dev/char/1:3"; later deny rules are left to the eBPF
    /// program;</item>
    /// <item>otherwise (allow by default, as with "allow everything" last): DevicePolicy=auto and an
    /// empty DeviceAllow, which systemd takes as no device filtering. So is a whitelist with a rule
    /// systemd cannot express (any major with a given minor).</item>
    /// </list>
    /// DeviceAllow is always sent, empty first, so an update replaces the list instead of adding to it.
    /// </summary>
    public static List<UnitProperty> ForDevices(IReadOnlyList<DeviceRule> rules, int systemdVersion)
    {
        var start = -1;
        var whitelist = false;
        for (var i = 0; i < rules.Count; i++)
        {
            var r = rules[i];
            if (r.Type == 'a' && r.Major == DeviceRule.Any && r.Minor == DeviceRule.Any)
            {
                if (!r.Allow && r.Access == DeviceAccess.All)
                {
                    start = i;
                    whitelist = true;
                }
                else if (r.Allow && r.Access == DeviceAccess.All)
                {
                    start = i;
                    whitelist = false;
                }
            }
        }
        var allowAll = new List<UnitProperty>
        {
            UnitProperty.Str("DevicePolicy", "auto"),
            UnitProperty.Devices(Array.Empty<(string, string)>()),
        };
        if (!whitelist)
            return allowAll;

        // Path → access, in first-seen order.
        var entries = new List<(string Path, DeviceAccess Access)>();
        for (var i = start + 1; i < rules.Count; i++)
        {
            var r = rules[i];
            if (!r.Allow)
                continue;
            var types = r.Type == 'a' ? new[] { 'c', 'b' } : new[] { r.Type };
            foreach (var type in types)
            {
                var group = type == 'c' ? "char-" : "block-";
                string path;
                if (r.Major == DeviceRule.Any)
                {
                    if (r.Minor != DeviceRule.Any)
                        return allowAll;
                    path = group + "*";
                }
                else if (r.Minor == DeviceRule.Any)
                {
                    // "char-MAJOR" needs systemd 240; older ones take only /proc/devices group names.
                    if (systemdVersion < 240)
                        return allowAll;
                    path = group + r.Major.ToString(CultureInfo.InvariantCulture);
                }
                else
                {
                    path = (type == 'c' ? "/dev/char/" : "/dev/block/") + r.Major.ToString(CultureInfo.InvariantCulture) + ":" + r.Minor.ToString(CultureInfo.InvariantCulture);
                }
                var k = entries.FindIndex(e => e.Path == path);
                if (k < 0)
                    entries.Add((path, r.Access));
                else
                    entries[k] = (path, entries[k].Access | r.Access);
            }
        }
        var list = new (string, string)[entries.Count];
        for (var i = 0; i < entries.Count; i++)
            list[i] = (entries[i].Path, DeviceRule.AccessString(entries[i].Access));
        return new List<UnitProperty>
        {
            UnitProperty.Str("DevicePolicy", "strict"),
            UnitProperty.Devices(Array.Empty<(string, string)>()),
            UnitProperty.Devices(list),
        };
    }

    /// <summary>runc's unifiedResToSystemdProps: the linux.resources.unified keys systemd has a
    /// property for (cpu.max, cpu.weight, cpuset.cpus/mems, memory.high/low/min/max/swap.max,
    /// pids.max); the others are only written to cgroupfs.</summary>
    /// <exception cref="CgroupException">A key with '/' or without "controller.", a value that is not a number.</exception>
    public static List<UnitProperty> ForUnified(IReadOnlyDictionary<string, string> unified, int systemdVersion, Action<string>? warn)
    {
        var props = new List<UnitProperty>();
        foreach (var (key, raw) in unified)
        {
            var where = $"linux.resources.unified[\"{key}\"]";
            if (key.Contains('/'))
                throw CgroupException.Invalid($"{where}: a unified key is a file name; '/' is not allowed");
            if (key.IndexOf('.') <= 0)
                throw CgroupException.Invalid($"{where}: a unified key has the form CONTROLLER.PARAMETER");
            var value = raw.Trim();
            switch (key)
            {
                case "cpu.max":
                {
                    var fields = value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length is < 1 or > 2)
                        throw CgroupException.Invalid($"{where} \"{raw}\": expected \"QUOTA [PERIOD]\"");
                    long quota = 0;
                    if (fields[0] != "max" && !long.TryParse(fields[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out quota))
                        throw CgroupException.Invalid($"{where} \"{raw}\": quota \"{fields[0]}\" is not a number or \"max\"");
                    var period = DefaultCpuPeriod;
                    if (fields.Length == 2 && !ulong.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out period))
                        throw CgroupException.Invalid($"{where} \"{raw}\": period \"{fields[1]}\" is not a number");
                    AddCpuQuota(props, quota, period, systemdVersion);
                    break;
                }
                case "cpu.weight":
                    props.Add(UnitProperty.U64("CPUWeight", UInt(value, where)));
                    break;
                case "cpuset.cpus":
                    AddCpuset(props, value, null, systemdVersion, where);
                    break;
                case "cpuset.mems":
                    AddCpuset(props, null, value, systemdVersion, where);
                    break;
                case "memory.high" or "memory.low" or "memory.min" or "memory.max" or "memory.swap.max":
                {
                    var name = key switch
                    {
                        "memory.high" => "MemoryHigh",
                        "memory.low" => "MemoryLow",
                        "memory.min" => "MemoryMin",
                        "memory.max" => "MemoryMax",
                        _ => "MemorySwapMax",
                    };
                    props.Add(UnitProperty.U64(name, value == "max" ? UnitProperty.Infinity : UInt(value, where)));
                    break;
                }
                case "pids.max":
                    props.Add(UnitProperty.U64("TasksMax", value == "max" ? UnitProperty.Infinity : UInt(value, where)));
                    break;
                default:
                    // Written to cgroupfs only (memory.oom.group has no exact systemd equivalent).
                    break;
            }
        }
        return props;
    }

    private static ulong UInt(string value, string where) =>
        ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw CgroupException.Invalid($"{where} \"{value}\": expected a non-negative number");
}
