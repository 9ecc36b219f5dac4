using System.Text;
using Csrt.Runtime.Cgroups;

namespace Csrt.Runtime.Tests.Cgroups;

/// <summary>mountinfo and /proc/self/cgroup as real hosts print them.</summary>
internal static class CgroupSamples
{
    // This machine (Debian 12 VM): v1 controllers mounted separately (cpu and cpuacct apart), a
    // name=systemd hierarchy, and a cgroup2 mount at /sys/fs/cgroup/unified that holds hugetlb.
    public const string HybridMountinfo =
        "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n" +
        "23 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs devtmpfs rw,size=4096k\n" +
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n" +
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n" +
        "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
        "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n" +
        "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n" +
        "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n" +
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n" +
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n" +
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    public const string HybridProcCgroup =
        "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n" +
        "4:memory:/process_api/3602f0166a704291f2ea1cf3013e5f3a\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

    // Debian 12 / systemd default: pure cgroup v2, with nsdelegate and a few optional fields.
    public const string UnifiedMountinfo =
        "24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,errors=remount-ro\n" +
        "25 24 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n" +
        "26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

    public const string UnifiedProcCgroup = "0::/user.slice/user-1000.slice/session-3.scope\n";

    // An older distribution: cpu and cpuacct co-mounted, net_cls,net_prio co-mounted, no cgroup2.
    public const string LegacyMountinfo =
        "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs ro,mode=755\n" +
        "31 30 0:27 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n" +
        "34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct\n" +
        "35 30 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio\n" +
        "36 30 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,memory\n" +
        "37 30 0:33 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:18 - cgroup cgroup rw,cpuset,clone_children\n" +
        "38 30 0:34 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,devices\n";

    public const string LegacyProcCgroup =
        "7:devices:/user.slice\n6:cpuset:/\n5:memory:/user.slice/user-1000.slice/session-2.scope\n" +
        "4:net_cls,net_prio:/\n3:cpu,cpuacct:/user.slice\n1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n";

    public static CgroupHost Host(string mountinfo, string? unifiedControllers = null) =>
        CgroupHost.Parse(Encoding.UTF8.GetBytes(mountinfo), path => path.EndsWith("/cgroup.controllers", StringComparison.Ordinal) ? unifiedControllers : null);
}
