using System.Globalization;

namespace Csrt.Bench;

/// <summary>
/// CPU time of a process and everything it starts (for containerd: its shims, CNI plugins, runc),
/// from a cpuacct cgroup (v1) or a cgroup (v2) the process is moved into; a container's processes
/// leave it when the runtime moves them into their own cgroups. Unlike wall time, it hardly moves
/// with the other load of a shared machine. Shared by the shim and scale benchmarks.
/// </summary>
internal sealed class CpuAccount : IDisposable
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly string _dir;
    private readonly string _usage;
    private readonly bool _v1;

    private CpuAccount(string dir, bool v1)
    {
        _dir = dir;
        _v1 = v1;
        _usage = Path.Combine(dir, v1 ? "cpuacct.usage" : "cpu.stat");
    }

    /// <summary>Moves <paramref name="pid"/> into a new cgroup named <paramref name="name"/>; null
    /// (said through <paramref name="log"/>) when the host does not allow it.</summary>
    public static CpuAccount? Create(int pid, string name, Action<string> log)
    {
        var v1 = File.Exists("/sys/fs/cgroup/cpuacct/cpuacct.usage");
        var dir = v1 ? $"/sys/fs/cgroup/cpuacct/{name}" : $"/sys/fs/cgroup/{name}";
        try
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "cgroup.procs"), pid.ToString(Inv));
            return new CpuAccount(dir, v1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log($"no CPU accounting ({dir}: {e.Message})");
            return null;
        }
    }

    /// <summary>CPU time so far, in milliseconds.</summary>
    public double Milliseconds()
    {
        var text = File.ReadAllText(_usage);
        if (_v1)
            return long.Parse(text.Trim(), Inv) / 1e6;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("usage_usec ", StringComparison.Ordinal))
                return long.Parse(line["usage_usec ".Length..], Inv) / 1e3;
        }
        return double.NaN;
    }

    public void Dispose()
    {
        // The process and its children are gone by now; the cgroup empties as they are reaped.
        for (var i = 0; i < 50; i++)
        {
            try
            {
                Directory.Delete(_dir);
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(100);
            }
        }
    }
}
