using System.Diagnostics;
using Csrt.Linux;
using Csrt.Runtime.Cgroups;

namespace Csrt.IntegrationTests.Cgroups;

/// <summary>
/// Real cgroups and processes for one test: every manager and process it hands out is killed and
/// removed on Dispose, even when the test failed half way (a directory left behind is removed with
/// rmdir, sub-cgroups first).
/// </summary>
internal sealed class CgroupScope : IDisposable
{
    private readonly List<ICgroupManager> _managers = new();
    private readonly List<Process> _processes = new();

    public CgroupScope()
    {
        Name = "csrt-it-" + Guid.NewGuid().ToString("N")[..10];
    }

    /// <summary>A unique name for this test's cgroups.</summary>
    public string Name { get; }

    public static CgroupHost Host => CgroupHost.Current;

    public T Track<T>(T manager) where T : ICgroupManager
    {
        _managers.Add(manager);
        return manager;
    }

    /// <summary>A manager through the factory, as the runtime makes one.</summary>
    public ICgroupManager Manager(string? cgroupsPath = null) =>
        Track(CgroupManager.Create(new CgroupConfig { ContainerId = Name, CgroupsPath = cgroupsPath }));

    /// <summary>A v2 manager on the host's cgroup2 mount (the side hierarchy on this hybrid machine).</summary>
    public CgroupV2Manager UnifiedManager(string suffix = "")
    {
        var mount = Host.Unified ?? throw new InvalidOperationException("this host has no cgroup2 mount");
        return Track(new CgroupV2Manager(mount.MountPoint.TrimEnd('/') + "/" + Name + suffix, mount.MountPoint));
    }

    /// <summary>Starts <c>sh -c script</c>; the script's stdin is a pipe the test can write to (to hold
    /// the process until it has been moved into a cgroup).</summary>
    public Process Shell(string script)
    {
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("sh did not start");
        _processes.Add(p);
        return p;
    }

    /// <summary>Runs a script to the end and returns (exit code, stdout + stderr).</summary>
    public (int Exit, string Output) RunShell(string script)
    {
        var p = Shell(script);
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(20)))
            throw new TimeoutException($"sh -c '{script}' did not finish in 20 s");
        return (p.ExitCode, output.Result + error.Result);
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try
            {
                if (!p.HasExited)
                    p.Kill();
                p.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
            p.Dispose();
        }
        foreach (var m in _managers)
        {
            try
            {
                m.Thaw();
            }
            catch (Exception)
            {
            }
            try
            {
                m.KillAll(Signals.SIGKILL);
            }
            catch (Exception)
            {
            }
            try
            {
                m.Destroy();
            }
            catch (Exception)
            {
                foreach (var dir in m.Paths.Values.Distinct())
                    RemoveTree(dir);
            }
        }
    }

    private static void RemoveTree(string dir)
    {
        if (!Directory.Exists(dir))
            return;
        foreach (var child in Directory.GetDirectories(dir))
            RemoveTree(child);
        try
        {
            Directory.Delete(dir);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>The block device of the root filesystem's disk, "major:minor" from /sys/block.</summary>
    public static (long Major, long Minor)? SomeBlockDevice()
    {
        foreach (var dir in Directory.GetDirectories("/sys/block").OrderBy(d => d.Contains("loop") ? 1 : 0))
        {
            var dev = Path.Combine(dir, "dev");
            if (!File.Exists(dev))
                continue;
            var parts = File.ReadAllText(dev).Trim().Split(':');
            return (long.Parse(parts[0]), long.Parse(parts[1]));
        }
        return null;
    }
}
