using System.Text;
using Csrt.Linux;

namespace Csrt.Runtime.Cgroups;

/// <summary>How the host mounts cgroups.</summary>
public enum CgroupLayout
{
    /// <summary>Pure cgroup v2: one cgroup2 mount (normally /sys/fs/cgroup) holds every controller.</summary>
    Unified,

    /// <summary>v1 controller hierarchies plus a cgroup2 mount (systemd's /sys/fs/cgroup/unified) that
    /// holds the controllers v1 does not (often none; hugetlb where its v1 hierarchy is not mounted).</summary>
    Hybrid,

    /// <summary>cgroup v1 only.</summary>
    Legacy,
}

/// <summary>One cgroup filesystem mount from /proc/self/mountinfo.</summary>
/// <param name="MountPoint">Where it is mounted, e.g. /sys/fs/cgroup/cpu.</param>
/// <param name="Root">The cgroup the mount shows as its root (mountinfo field 4), "/" normally.</param>
/// <param name="Controllers">v1: the controllers of the hierarchy ("cpu", "cpuacct", "name=systemd");
/// v2: empty (see <see cref="CgroupHost.UnifiedControllers"/>).</param>
/// <param name="IsUnified">A cgroup2 mount.</param>
public sealed record CgroupMount(string MountPoint, string Root, IReadOnlyList<string> Controllers, bool IsUnified);

/// <summary>The host's cgroup layout: which controllers are mounted where. Parsed once per process
/// from /proc/self/mountinfo (<see cref="Current"/>), touching only the cgroup lines.</summary>
public sealed class CgroupHost
{
    // v1 controller names the kernel knows (superblock options that are not controllers are ignored).
    private static readonly string[] KnownV1Controllers =
    {
        "cpuset", "cpu", "cpuacct", "blkio", "memory", "devices", "freezer", "net_cls", "net_prio",
        "perf_event", "hugetlb", "pids", "rdma", "misc", "debug",
    };

    private static readonly byte[][] KnownV1Bytes = Array.ConvertAll(KnownV1Controllers, Encoding.ASCII.GetBytes);

    /// <summary>Where cgroup filesystems are mounted by convention, on the host and inside a container.</summary>
    public const string ConventionalRoot = "/sys/fs/cgroup";

    private static readonly Lazy<CgroupHost> Lazy = new(Detect, LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Dictionary<string, CgroupMount> _v1 = new(StringComparer.Ordinal);

    public CgroupHost(IEnumerable<CgroupMount> mounts, IEnumerable<string> unifiedControllers)
    {
        var v1 = new List<CgroupMount>();
        foreach (var m in mounts)
        {
            if (m.IsUnified)
            {
                // The first cgroup2 mount wins, unless a later one is the conventional place.
                if (Unified is null || (!IsConventional(Unified.MountPoint) && IsConventional(m.MountPoint)))
                    Unified = m;
                continue;
            }
            foreach (var c in m.Controllers)
            {
                if (!_v1.TryGetValue(c, out var existing) || (!IsConventional(existing.MountPoint) && IsConventional(m.MountPoint)))
                    _v1[c] = m;
            }
        }
        foreach (var m in _v1.Values)
        {
            if (!v1.Contains(m))
                v1.Add(m);
        }
        V1Mounts = v1;
        UnifiedControllers = new HashSet<string>(Unified is null ? Array.Empty<string>() : unifiedControllers, StringComparer.Ordinal);
        var hasV1Controllers = false;
        foreach (var c in _v1.Keys)
        {
            if (!c.StartsWith("name=", StringComparison.Ordinal))
                hasV1Controllers = true;
        }
        // Named-only v1 hierarchies (name=systemd) hold no controllers: a cgroup2 mount beside them
        // still has every controller, so the host counts as unified.
        Layout = Unified is null ? CgroupLayout.Legacy
            : hasV1Controllers ? CgroupLayout.Hybrid
            : CgroupLayout.Unified;
    }

    /// <summary>The layout of this process's mount namespace, detected once.</summary>
    public static CgroupHost Current => Lazy.Value;

    public CgroupLayout Layout { get; }

    /// <summary>The cgroup2 mount, if any (the whole tree on unified hosts, the side hierarchy on hybrid ones).</summary>
    public CgroupMount? Unified { get; private set; }

    /// <summary>Controllers available in the cgroup2 hierarchy (its root's cgroup.controllers).</summary>
    public IReadOnlySet<string> UnifiedControllers { get; }

    /// <summary>One entry per v1 hierarchy (co-mounted controllers share one).</summary>
    public IReadOnlyList<CgroupMount> V1Mounts { get; }

    /// <summary>v1 controller (or "name=systemd") → its mount.</summary>
    public IReadOnlyDictionary<string, CgroupMount> V1Controllers => _v1;

    public bool HasV1(string controller) => _v1.ContainsKey(controller);

    /// <summary>A v2 controller that lives in the cgroup2 hierarchy (and not in a v1 one).</summary>
    public bool HasUnified(string controller) => UnifiedControllers.Contains(controller);

    public CgroupMount? V1Mount(string controller) => _v1.GetValueOrDefault(controller);

    /// <summary>Reads /proc/self/mountinfo and the cgroup2 root's cgroup.controllers.</summary>
    public static CgroupHost Detect() => Parse(Rootfs.SelfMountinfo.Read().Span, Files.TryReadText);

    /// <summary>Builds the layout from mountinfo bytes; <paramref name="readFile"/> reads the cgroup2
    /// root's cgroup.controllers (null when missing).</summary>
    public static CgroupHost Parse(ReadOnlySpan<byte> mountinfo, Func<string, string?> readFile)
    {
        var mounts = new List<CgroupMount>();
        while (!mountinfo.IsEmpty)
        {
            var nl = mountinfo.IndexOf((byte)'\n');
            var line = nl < 0 ? mountinfo : mountinfo[..nl];
            mountinfo = nl < 0 ? default : mountinfo[(nl + 1)..];
            if (ParseLine(line) is { } m)
                mounts.Add(m);
        }
        var unified = mounts.Find(m => m.IsUnified && IsConventional(m.MountPoint)) ?? mounts.Find(m => m.IsUnified);
        IEnumerable<string> controllers = Array.Empty<string>();
        if (unified is not null)
        {
            var text = readFile(unified.MountPoint.TrimEnd('/') + "/cgroup.controllers");
            if (text is not null)
                controllers = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        }
        return new CgroupHost(mounts, controllers);
    }

    /// <summary>One mountinfo line → a cgroup mount, or null for any other filesystem. Only cgroup
    /// lines allocate.</summary>
    internal static CgroupMount? ParseLine(ReadOnlySpan<byte> line)
    {
        // "<id> <parent> <maj:min> <root> <mountpoint> <opts> [optional...] - <fstype> <source> <superopts>"
        var sep = line.IndexOf(" - "u8);
        if (sep < 0)
            return null;
        var tail = line[(sep + 3)..];
        var sp = tail.IndexOf((byte)' ');
        if (sp < 0)
            return null;
        var fstype = tail[..sp];
        var isV2 = fstype.SequenceEqual("cgroup2"u8);
        if (!isV2 && !fstype.SequenceEqual("cgroup"u8))
            return null;
        // Fields 4 and 5 (root, mount point) of the part before " - ".
        var head = line[..sep];
        for (var skip = 0; skip < 3; skip++)
        {
            var space = head.IndexOf((byte)' ');
            if (space < 0)
                return null;
            head = head[(space + 1)..];
        }
        var sp1 = head.IndexOf((byte)' ');
        if (sp1 < 0)
            return null;
        var root = Unescape(head[..sp1]);
        head = head[(sp1 + 1)..];
        var spMount = head.IndexOf((byte)' ');
        var mountPoint = Unescape(spMount < 0 ? head : head[..spMount]);
        if (isV2)
            return new CgroupMount(mountPoint, root, Array.Empty<string>(), true);

        // Super options: "rw,cpu,cpuacct" or "rw,name=systemd"; keep only controllers.
        var rest = tail[(sp + 1)..];
        var sp2 = rest.IndexOf((byte)' ');
        var superOpts = sp2 < 0 ? ReadOnlySpan<byte>.Empty : rest[(sp2 + 1)..];
        var controllers = new List<string>(2);
        while (!superOpts.IsEmpty)
        {
            var comma = superOpts.IndexOf((byte)',');
            var opt = comma < 0 ? superOpts : superOpts[..comma];
            superOpts = comma < 0 ? default : superOpts[(comma + 1)..];
            if (opt.StartsWith("name="u8))
            {
                controllers.Add(Encoding.UTF8.GetString(opt));
                continue;
            }
            for (var k = 0; k < KnownV1Controllers.Length; k++)
            {
                if (opt.SequenceEqual(KnownV1Bytes[k]))
                {
                    controllers.Add(KnownV1Controllers[k]);
                    break;
                }
            }
        }
        return controllers.Count == 0 ? null : new CgroupMount(mountPoint, root, controllers, false);
    }

    // mountinfo escapes space, tab, newline and backslash as \ooo.
    private static string Unescape(ReadOnlySpan<byte> s)
    {
        if (s.IndexOf((byte)'\\') < 0)
            return Encoding.UTF8.GetString(s);
        var bytes = new List<byte>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && IsOctal(s[i + 1]) && IsOctal(s[i + 2]) && IsOctal(s[i + 3]))
            {
                bytes.Add((byte)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(s[i]);
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';

    private static bool IsConventional(string mountPoint) =>
        mountPoint == ConventionalRoot || mountPoint.StartsWith(ConventionalRoot + "/", StringComparison.Ordinal);
}
