using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups;

/// <summary>
/// A container's cgroup on a legacy (v1) or hybrid host: one directory per v1 hierarchy, plus on a
/// hybrid host the same path in the cgroup2 hierarchy (key ""), created and joined as runc does.
/// A controller that is not mounted as v1 but lives in the cgroup2 hierarchy (hugetlb on this
/// machine) is enabled in the cgroup2 parents' cgroup.subtree_control and driven through its v2 files.
/// </summary>
public sealed class CgroupV1Manager : ICgroupManager
{
    // v2 controller name → the v1 controller that would hold it.
    private static readonly Dictionary<string, string> V1NameOf = new(StringComparer.Ordinal)
    {
        ["cpu"] = "cpu", ["cpuset"] = "cpuset", ["memory"] = "memory", ["pids"] = "pids", ["io"] = "blkio",
        ["hugetlb"] = "hugetlb", ["rdma"] = "rdma", ["misc"] = "misc", ["perf_event"] = "perf_event",
    };

    private readonly Dictionary<string, string> _paths;
    private readonly CgroupHost? _givenHost;

    /// <param name="paths">Controller → directory; "" for the cgroup2 directory of a hybrid host.</param>
    /// <param name="host">The host's layout; null: <see cref="CgroupHost.Current"/>, read when first
    /// needed (reading a freezer's state, killing and removing need only the paths).</param>
    public CgroupV1Manager(IReadOnlyDictionary<string, string> paths, CgroupHost? host)
    {
        _paths = new Dictionary<string, string>(paths.Count, StringComparer.Ordinal);
        foreach (var (k, v) in paths)
            _paths[k] = v.TrimEnd('/');
        _givenHost = host;
    }

    private CgroupHost Host => _givenHost ?? CgroupHost.Current;

    public CgroupLayout Layout => Host.Layout == CgroupLayout.Unified ? CgroupLayout.Hybrid : Host.Layout;

    public IReadOnlyDictionary<string, string> Paths => _paths;

    public string? UnifiedPath => _paths.GetValueOrDefault("");

    public Action<string>? Warning { get; set; }

    public bool Rootless { get; set; }

    public OomSource? OomSource =>
        Dir("memory") is { } m ? new OomSource(m, false)
        : UnifiedDirFor("memory") is { } u ? new OomSource(u, true)
        : null;

    public bool Exists
    {
        get
        {
            foreach (var d in _paths.Values)
            {
                if (Files.IsDirectory(d))
                    return true;
            }
            return false;
        }
    }

    private string? Dir(string v1Controller) => _paths.GetValueOrDefault(v1Controller);

    /// <summary>The cgroup2 directory, when <paramref name="v2Controller"/> lives there and not in v1.</summary>
    private string? UnifiedDirFor(string v2Controller)
    {
        if (UnifiedPath is not { } u || !Host.HasUnified(v2Controller))
            return null;
        return V1NameOf.TryGetValue(v2Controller, out var v1) && Host.HasV1(v1) ? null : u;
    }

    /// <summary>Runs <paramref name="v1"/> on the controller's v1 directory, else <paramref name="v2"/> on the
    /// cgroup2 directory when the controller lives there; false when the host has it in neither.</summary>
    private bool OnController(string v1Controller, string v2Controller, Action<string> v1, Action<string> v2)
    {
        if (Dir(v1Controller) is { } d)
            v1(d);
        else if (UnifiedDirFor(v2Controller) is { } u)
            v2(u);
        else
            return false;
        return true;
    }

    /// <summary>Controllers of the cgroup2 hierarchy that no v1 hierarchy holds (e.g. hugetlb where its v1 hierarchy is not mounted).</summary>
    private List<string> UnifiedOnlyControllers()
    {
        var list = new List<string>();
        foreach (var c in Host.UnifiedControllers)
        {
            if (!(V1NameOf.TryGetValue(c, out var v1) && Host.HasV1(v1)))
                list.Add(c);
        }
        return list;
    }

    private IEnumerable<string> UniqueDirs() => _paths.Values.Distinct(StringComparer.Ordinal);

    public void Create(LinuxResources? resources)
    {
        var created = new List<string>();
        try
        {
            var cpuset = Dir("cpuset");
            foreach (var (controller, dir) in _paths)
            {
                if (controller.Length == 0 || (dir == cpuset && controller != "cpuset"))
                    continue;
                if (controller == "cpuset" && Host.V1Mount("cpuset") is { } mount)
                    created.AddRange(V1.Cpuset.Create(mount.MountPoint, dir));
                else if (!Files.IsDirectory(dir))
                    created.AddRange(CgroupTree.MakeDirectories(dir));
            }
            if (UnifiedPath is { } unified)
            {
                var extra = UnifiedOnlyControllers();
                if (extra.Count > 0 && Host.Unified is { } u)
                    CgroupV2Manager.CreatePath(u.MountPoint.TrimEnd('/'), unified, extra, created);
                else
                    created.AddRange(CgroupTree.MakeDirectories(unified));
            }
            Apply(resources ?? new LinuxResources(), update: false);
        }
        catch
        {
            CgroupTree.RemoveCreated(created);
            throw;
        }
    }

    public void Join(int pid)
    {
        foreach (var dir in UniqueDirs())
            CgroupFs.WriteProcs(dir, pid);
    }

    public IReadOnlyList<string> LegacyDirectories =>
        UniqueDirs().Where(d => !string.Equals(d, UnifiedPath, StringComparison.Ordinal)).ToList();

    public void JoinUnified(int pid)
    {
        if (UnifiedPath is { } unified)
            CgroupFs.WriteProcs(unified, pid);
    }

    public FileDescriptor? OpenUnifiedDirectory() =>
        UnifiedPath is { } u ? Files.Open(u, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY) : null;

    public void Update(LinuxResources resources) => Apply(resources, update: true);

    private void Apply(LinuxResources r, bool update)
    {
        var cpu = r.Cpu;
        if (V1.Cpu.IsSet(cpu) && !OnController("cpu", "cpu", d => V1.Cpu.Set(d, cpu!), u => V2.Cpu.Set(u, cpu!)))
            throw Missing("linux.resources.cpu", "cpu");
        if (V1.Cpuset.IsSet(cpu) && !OnController("cpuset", "cpuset", d => V1.Cpuset.Set(d, cpu!), u => V2.Cpuset.Set(u, cpu!)))
            throw Missing("linux.resources.cpu.cpus/mems", "cpuset");
        if (r.Memory is { } memory
            && !OnController("memory", "memory", d => V1.Memory.Set(d, memory, update, Warning), u => V2.Memory.Set(u, memory, update, Warning))
            && V1.Memory.IsSet(memory))
            throw Missing("linux.resources.memory", "memory");
        if (r.Pids is { } pids)
        {
            if ((Dir("pids") ?? UnifiedDirFor("pids")) is { } d)
                Pids.Set(d, pids);
            else if (Pids.IsSet(pids))
                throw Missing("linux.resources.pids", "pids");
        }
        if (V1.Blkio.IsSet(r.BlockIO) && !OnController("blkio", "io", d => V1.Blkio.Set(d, r.BlockIO!), u => V2.Io.Set(u, r.BlockIO!, Warning)))
            throw Missing("linux.resources.blockIO", "blkio");
        if (V1.Hugetlb.IsSet(r.HugepageLimits)
            && !OnController("hugetlb", "hugetlb", d => V1.Hugetlb.Set(d, r.HugepageLimits!), u => V2.Hugetlb.Set(u, r.HugepageLimits!)))
            throw Missing("linux.resources.hugepageLimits", "hugetlb");
        if (Rdma.IsSet(r.Rdma))
        {
            if ((Dir("rdma") ?? UnifiedDirFor("rdma")) is { } d)
                Rdma.Set(d, r.Rdma!);
            else
                throw Missing("linux.resources.rdma", "rdma");
        }
        if (V1.Network.IsClassIdSet(r.Network))
        {
            if (Dir("net_cls") is not { } d)
                throw Missing("linux.resources.network.classID", "net_cls");
            V1.Network.SetClassId(d, r.Network!);
        }
        if (V1.Network.IsPrioritiesSet(r.Network))
        {
            if (Dir("net_prio") is not { } d)
                throw Missing("linux.resources.network.priorities", "net_prio");
            V1.Network.SetPriorities(d, r.Network!);
        }
        if ((!update || r.Devices is not null) && !Rootless)
        {
            var rules = DeviceRules.FromSpec(r.Devices, withDefaults: true);
            if (Dir("devices") is { } d)
                V1.Devices.Set(d, rules);
            else if (UnifiedPath is { } u)
                V2.Devices.Set(u, rules); // device programs attach to any cgroup2 directory
            else if (r.Devices is not null)
                throw Missing("linux.resources.devices", "devices");
        }
        if (r.Unified is { Count: > 0 })
            ApplyUnified(r.Unified);
    }

    /// <summary>On a hybrid host, raw v2 files of controllers that live in the cgroup2 hierarchy (and
    /// its core "cgroup.*" files) are written there; anything else has no v2 file to write.</summary>
    private void ApplyUnified(Dictionary<string, string> values)
    {
        if (UnifiedPath is not { } u)
            throw CgroupException.Unsupported("linux.resources.unified needs cgroup v2, and this host has cgroup v1 only");
        foreach (var key in values.Keys)
        {
            V2.Unified.CheckKey(key);
            var controller = V2.Unified.Controller(key);
            if (controller != "cgroup" && UnifiedDirFor(controller) is null)
                throw CgroupException.Unsupported($"linux.resources.unified \"{key}\": on this hybrid host the {controller} controller is not in the cgroup2 hierarchy ({Host.Unified?.MountPoint})");
        }
        V2.Unified.Set(u, values);
    }

    private CgroupException Missing(string what, string controller) =>
        CgroupException.Unsupported($"{what} needs the {controller} cgroup controller, which this host mounts neither as cgroup v1 nor in a cgroup2 hierarchy usable here");

    public LinuxResources ReadResources()
    {
        var r = new LinuxResources { Cpu = new LinuxCpu(), Memory = new LinuxMemory(), Pids = new LinuxPids(), BlockIO = new LinuxBlockIO() };
        OnController("cpu", "cpu", d => V1.Cpu.Read(d, r.Cpu), u => V2.Cpu.Read(u, r.Cpu));
        OnController("cpuset", "cpuset", d => V1.Cpuset.Read(d, r.Cpu), u => V2.Cpuset.Read(u, r.Cpu));
        OnController("memory", "memory", d => V1.Memory.Read(d, r.Memory), u => V2.Memory.Read(u, r.Memory));
        if ((Dir("pids") ?? UnifiedDirFor("pids")) is { } pids)
            Pids.Read(pids, r.Pids);
        OnController("blkio", "io", d => V1.Blkio.Read(d, r.BlockIO), u => V2.Io.Read(u, r.BlockIO));
        return r;
    }

    public FreezerState Freeze() =>
        Dir("freezer") is { } d ? V1.Freezer.Freeze(d)
        : UnifiedPath is { } u ? V2.Freezer.Freeze(u)
        : throw NoFreezer();

    public FreezerState Thaw() =>
        Dir("freezer") is { } d ? V1.Freezer.Thaw(d)
        : UnifiedPath is { } u ? V2.Freezer.Thaw(u)
        : throw NoFreezer();

    public FreezerState GetFreezerState() =>
        Dir("freezer") is { } d ? V1.Freezer.Get(d)
        : UnifiedPath is { } u ? V2.Freezer.Get(u)
        : throw NoFreezer();

    private static CgroupException NoFreezer() =>
        CgroupException.Unsupported("pause/resume needs the freezer: this host mounts no v1 freezer and has no cgroup2 hierarchy");

    public IReadOnlyList<int> GetPids(bool recursive = true)
    {
        var dir = Dir("pids") ?? Dir("devices") ?? Dir("freezer") ?? Dir("memory") ?? Dir("cpu") ?? UnifiedPath ?? _paths.Values.FirstOrDefault();
        var pids = new List<int>();
        if (dir is not null)
            CgroupTree.CollectPids(dir, recursive, pids);
        return pids;
    }

    /// <summary>On a hybrid host every process of the container is also in the cgroup2 directory, so
    /// cgroup.kill there kills them all (runc does the same).</summary>
    public void KillAll(int signal)
    {
        if (UnifiedPath is { } u)
        {
            CgroupV2Manager.KillAll(u, signal, this, Warning);
            return;
        }
        if (!Exists)
            return;
        var frozen = false;
        if (Dir("freezer") is not null)
        {
            try
            {
                Freeze();
                frozen = true;
            }
            catch (CgroupException e)
            {
                Warning?.Invoke($"signalling without freezing first: {e.Message}");
            }
        }
        try
        {
            CgroupTree.SignalAll(GetPids(recursive: true), signal);
        }
        finally
        {
            if (frozen)
                Thaw();
        }
    }

    public void Destroy() => CgroupTree.RemoveAll(UniqueDirs());

    public CgroupStats Stats()
    {
        var s = new CgroupStats();
        if (Dir("cpu") is { } cpu)
            V1.Cpu.Stats(cpu, s.Cpu);
        OnController("cpuacct", "cpu", d => V1.CpuAcct.Stats(d, s.Cpu), u => V2.Cpu.Stats(u, s.Cpu));
        OnController("memory", "memory", d => V1.Memory.Stats(d, s.Memory), u => V2.Memory.Stats(u, s.Memory));
        if ((Dir("pids") ?? UnifiedDirFor("pids")) is { } pids)
            Pids.Stats(pids, s.Pids);
        OnController("blkio", "io", d => V1.Blkio.Stats(d, s.Blkio), u => V2.Io.Stats(u, s.Blkio));
        OnController("hugetlb", "hugetlb", d => V1.Hugetlb.Stats(d, s.Hugetlb), u => V2.Hugetlb.Stats(u, s.Hugetlb));
        if (Dir("cpuset") is { } cpuset)
            s.Cpuset = V1.Cpuset.Stats(cpuset);
        if ((Dir("rdma") ?? UnifiedDirFor("rdma")) is { } rdma)
            Rdma.Stats(rdma, s);
        return s;
    }
}
