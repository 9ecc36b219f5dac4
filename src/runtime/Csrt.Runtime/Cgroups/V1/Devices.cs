namespace Csrt.Runtime.Cgroups.V1;

/// <summary>v1 devices controller: devices.deny / devices.allow, one rule per write, in rule order
/// (see <see cref="DeviceRules.ToV1Writes"/> for the exact lines).</summary>
internal static class Devices
{
    public static void Set(string dir, IReadOnlyList<DeviceRule> rules)
    {
        foreach (var (file, line) in DeviceRules.ToV1Writes(rules))
            CgroupFs.Write(dir, file, line);
    }
}
