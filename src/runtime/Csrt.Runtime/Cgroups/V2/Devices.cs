using Csrt.Linux;

namespace Csrt.Runtime.Cgroups.V2;

/// <summary>v2 device control: the rules compiled to an eBPF program (<see cref="DeviceFilter"/>),
/// loaded with bpf(2) and attached to the cgroup directory as BPF_CGROUP_DEVICE with
/// BPF_F_ALLOW_MULTI. An update swaps the old program atomically with BPF_F_REPLACE when exactly one
/// is attached, else attaches the new one first and detaches the old ones after, so the cgroup is
/// never left without a filter (runc's LoadAttachCgroupDeviceFilter).</summary>
internal static class Devices
{
    public static void Set(string dir, IReadOnlyList<DeviceRule> rules)
    {
        var program = DeviceFilter.Build(rules);
        using var cgroup = Files.Open(dir, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        var old = Bpf.QueryCgroupDevice(cgroup, out _, dir);
        using var prog = Bpf.LoadCgroupDeviceProgram(program, DeviceFilter.License);
        if (old.Length == 1 && Bpf.OpenProgram(old[0]) is { } previous)
        {
            using (previous)
            {
                try
                {
                    Bpf.AttachCgroupDevice(cgroup, prog, Bpf.BPF_F_ALLOW_MULTI | Bpf.BPF_F_REPLACE, previous, dir);
                    return;
                }
                catch (SyscallException e) when (e.Errno is Errno.EINVAL or Errno.EOPNOTSUPP or Errno.ENOENT)
                {
                    // Kernel without BPF_F_REPLACE (before 5.6), or the old program went away: fall through.
                }
            }
        }
        Bpf.AttachCgroupDevice(cgroup, prog, Bpf.BPF_F_ALLOW_MULTI, null, dir);
        foreach (var id in old)
        {
            using var p = Bpf.OpenProgram(id);
            if (p is not null)
                Bpf.DetachCgroupDevice(cgroup, p, dir);
        }
    }

    /// <summary>Ids of the device programs attached to the cgroup (for tests and debugging).</summary>
    public static uint[] Attached(string dir)
    {
        using var cgroup = Files.Open(dir, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        return Bpf.QueryCgroupDevice(cgroup, out _, dir);
    }
}
