using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups.Systemd;

/// <summary>
/// The systemd cgroup driver on a unified (cgroup v2) host, as runc's: the container's cgroup is a
/// transient scope ("prefix-name.scope") that systemd creates with the init in it, delegated to us;
/// the resource properties systemd knows are set on the unit (<see cref="SystemdProperties"/>), and
/// then every setting is written through cgroupfs by <see cref="CgroupV2Manager"/>, which also does
/// freeze, kill, stats, pids and OOM exactly as for the cgroupfs driver. Exec'd processes join the
/// scope's cgroup directly (no new unit).
/// <para>A scope needs a process, so <see cref="Create"/> only checks the resources; the unit is
/// started by <see cref="JoinUnified"/> with the init's pid (the init waits for its plan meanwhile),
/// and <see cref="OpenUnifiedDirectory"/> gives no directory before that.</para>
/// </summary>
public sealed class SystemdCgroupManager : ICgroupManager
{
    private readonly CgroupV2Manager _fs;
    private readonly string _path;
    private readonly SystemdCgroupPath? _spec;
    private readonly Func<SystemdBus> _connect;
    private LinuxResources? _pending;
    private bool _started;

    private SystemdCgroupManager(string path, string mountPoint, string unit, SystemdCgroupPath? spec, bool started, Func<SystemdBus>? connect)
    {
        _path = path.TrimEnd('/');
        _fs = new CgroupV2Manager(_path, mountPoint);
        Unit = unit;
        _spec = spec;
        _started = started;
        _connect = connect ?? (static () => SystemdBus.Connect());
    }

    /// <summary>The container's unit, e.g. "cri-containerd-abc.scope".</summary>
    public string Unit { get; }

    /// <summary>The manager of a new container: parses linux.cgroupsPath as "slice:prefix:name" and
    /// checks that the host can run the driver. Nothing is created yet.</summary>
    /// <exception cref="CgroupException">A malformed path or refused name; a host without unified
    /// cgroups or without systemd as init.</exception>
    public static SystemdCgroupManager Create(CgroupConfig config, CgroupHost host, Func<SystemdBus>? connect = null)
    {
        var spec = SystemdCgroupPath.Parse(config.CgroupsPath, config.ContainerId);
        if (host.Layout != CgroupLayout.Unified)
        {
            // runc has a second (v1) systemd driver for these hosts; csrt has not.
            throw CgroupException.Unsupported(
                $"the systemd cgroup driver needs the unified cgroup v2 hierarchy, and this host mounts cgroups in the {host.Layout.ToString().ToLowerInvariant()} (v1) layout; use the cgroupfs driver (no --systemd-cgroup, SystemdCgroup = false) or boot with systemd.unified_cgroup_hierarchy=1");
        }
        if (!Files.IsDirectory("/run/systemd/system"))
            throw CgroupException.Unsupported("the systemd cgroup driver needs systemd as init, and /run/systemd/system does not exist; use the cgroupfs driver (no --systemd-cgroup, SystemdCgroup = false)");
        var mount = host.Unified!.MountPoint;
        return new SystemdCgroupManager(CgroupPaths.Join(mount, spec.RelativePath), mount, spec.UnitName, spec, started: false, connect)
        {
            Warning = config.Warning,
        };
    }

    /// <summary>Reopens a container's scope from the directory saved at create (its unit is the last path element).</summary>
    public static SystemdCgroupManager Open(string directory, string mountPoint, Action<string>? warning = null, Func<SystemdBus>? connect = null) =>
        new(directory, mountPoint, SystemdCgroupPath.UnitOfDirectory(directory), null, started: true, connect) { Warning = warning };

    public CgroupLayout Layout => CgroupLayout.Unified;

    public IReadOnlyDictionary<string, string> Paths => _fs.Paths;

    public string? UnifiedPath => _path;

    public OomSource? OomSource => _fs.OomSource;

    public Action<string>? Warning
    {
        get => _fs.Warning;
        set => _fs.Warning = value;
    }

    public bool Rootless
    {
        get => _fs.Rootless;
        set => _fs.Rootless = value;
    }

    /// <summary>False before the unit was started by this manager: a directory of that name then
    /// belongs to another unit, which kill and destroy must not touch.</summary>
    public bool Exists => _started && _fs.Exists;

    public IReadOnlyList<string> LegacyDirectories => Array.Empty<string>();

    /// <summary>Checks that every resource converts to unit properties; they are applied when the
    /// unit starts (<see cref="JoinUnified"/>).</summary>
    public void Create(LinuxResources? resources)
    {
        SystemdProperties.ForResources(resources ?? new LinuxResources(), int.MaxValue, update: false, warn: null);
        _pending = resources;
    }

    public void Join(int pid) => JoinUnified(pid);

    /// <summary>The first call starts the unit with <paramref name="pid"/> in it (mode "replace",
    /// waiting for the job), then writes every resource through cgroupfs; later calls move a process
    /// into the scope's cgroup.</summary>
    public void JoinUnified(int pid)
    {
        if (_started)
        {
            _fs.Join(pid);
            return;
        }
        var spec = _spec!;
        using var bus = _connect();
        var properties = SystemdProperties.ForStart(spec, pid, _pending, bus.Version(), Warning);
        bus.StartTransientUnit(Unit, properties);
        _started = true;
        try
        {
            // systemd made the scope's cgroup with the pid in it; a slice's is made here if systemd
            // has not realised it yet, and the init moved in.
            _fs.Create(_pending);
            if (spec.IsSliceUnit)
                _fs.Join(pid);
        }
        catch (Exception e) when (e is CgroupException or SyscallException)
        {
            try
            {
                // Stopping a scope sends SIGTERM and waits for its processes; the init, pid 1 of its
                // namespace, ignores SIGTERM, so it goes first.
                _fs.KillAll(Signals.SIGKILL);
                bus.StopUnit(Unit, Warning);
            }
            catch (Exception stop) when (stop is CgroupException or SyscallException)
            {
                Warning?.Invoke($"removing systemd unit {Unit} after a failed start: {stop.Message}");
            }
            _started = false;
            throw;
        }
    }

    public FileDescriptor? OpenUnifiedDirectory() => _started ? _fs.OpenUnifiedDirectory() : null;

    /// <summary>SetUnitProperties (runtime) with what systemd knows, then cgroupfs, as runc's Set.</summary>
    public void Update(LinuxResources resources)
    {
        using (var bus = _connect())
            bus.SetUnitProperties(Unit, SystemdProperties.ForResources(resources, bus.Version(), update: true, Warning));
        _fs.Update(resources);
    }

    public LinuxResources ReadResources() => _fs.ReadResources();

    public FreezerState Freeze() => _fs.Freeze();

    public FreezerState Thaw() => _fs.Thaw();

    public FreezerState GetFreezerState() => _fs.GetFreezerState();

    public IReadOnlyList<int> GetPids(bool recursive = true) => _fs.GetPids(recursive);

    public void KillAll(int signal)
    {
        if (_started)
            _fs.KillAll(signal);
    }

    /// <summary>StopUnit and ResetFailedUnit (systemd removes the scope's cgroup), then whatever the
    /// container left below it.</summary>
    public void Destroy()
    {
        if (!_started)
            return;
        using (var bus = _connect())
            bus.StopUnit(Unit, Warning);
        _fs.Destroy();
    }

    public CgroupStats Stats() => _fs.Stats();
}
