using Csrt.Linux;

namespace Csrt.Runtime.Cgroups;

/// <summary>A process's cgroup membership, from /proc/&lt;pid&gt;/cgroup:
/// "4:memory:/a/b" (v1, one line per hierarchy, co-mounted controllers comma-separated,
/// named hierarchies as "name=systemd") and "0::/a/b" (the cgroup2 hierarchy).</summary>
public sealed class ProcCgroups
{
    private readonly Dictionary<string, string> _v1 = new(StringComparer.Ordinal);

    private ProcCgroups()
    {
    }

    /// <summary>The path in the cgroup2 hierarchy ("0::" line); null when there is none.</summary>
    public string? Unified { get; private set; }

    /// <summary>v1 controller (or "name=…") → path.</summary>
    public IReadOnlyDictionary<string, string> V1 => _v1;

    /// <summary>The path for a v1 controller, or for the cgroup2 hierarchy when <paramref name="controller"/> is "".</summary>
    public string? Get(string controller) => controller.Length == 0 ? Unified : _v1.GetValueOrDefault(controller);

    /// <summary>The calling process's membership (/proc/self/cgroup). runc reads the same file: every
    /// thread of csrt stays in one cgroup, so self and thread-self agree.</summary>
    public static ProcCgroups Self() => Parse(Files.ReadText("/proc/self/cgroup"));

    public static ProcCgroups Parse(string text)
    {
        var result = new ProcCgroups();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
                continue;
            var first = line.IndexOf(':');
            var second = first < 0 ? -1 : line.IndexOf(':', first + 1);
            if (second < 0)
                throw CgroupException.Invalid($"/proc/self/cgroup: malformed line \"{line}\"; expected \"id:controllers:path\"");
            var controllers = line.AsSpan(first + 1, second - first - 1);
            var path = line[(second + 1)..];
            if (line.AsSpan(0, first).SequenceEqual("0") && controllers.IsEmpty)
            {
                result.Unified = path;
                continue;
            }
            foreach (var range in controllers.Split(','))
            {
                var c = controllers[range];
                if (!c.IsEmpty)
                    result._v1[c.ToString()] = path;
            }
        }
        return result;
    }
}
