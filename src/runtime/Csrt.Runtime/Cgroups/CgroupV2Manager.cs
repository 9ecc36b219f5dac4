using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Cgroups;

/// <summary>A container's cgroup on a unified (cgroup v2) host: one directory. Also usable on any
/// cgroup2 mount, e.g. the side hierarchy of a hybrid host, or a temporary directory standing in
/// for one in tests.</summary>
public sealed class CgroupV2Manager : ICgroupManager
{
    private readonly string _path;
    private readonly string _mountPoint;

    /// <param name="path">The cgroup directory.</param>
    /// <param name="mountPoint">The cgroup2 mount point (or any ancestor directory to start enabling
    /// controllers from); ancestors between it and <paramref name="path"/> are created as needed.</param>
    public CgroupV2Manager(string path, string mountPoint)
    {
        _path = path.TrimEnd('/');
        _mountPoint = mountPoint.TrimEnd('/');
        Paths = new Dictionary<string, string>(1) { [""] = _path };
    }

    public CgroupLayout Layout => CgroupLayout.Unified;

    public IReadOnlyDictionary<string, string> Paths { get; }

    public string? UnifiedPath => _path;

    public OomSource? OomSource => new(_path, true);

    public Action<string>? Warning { get; set; }

    public bool Rootless { get; set; }

    public bool Exists => Files.IsDirectory(_path);

    public void Create(LinuxResources? resources)
    {
        var created = new List<string>();
        try
        {
            CreatePath(_mountPoint, _path, null, created);
            Apply(resources ?? new LinuxResources(), update: false);
        }
        catch
        {
            CgroupTree.RemoveCreated(created);
            throw;
        }
    }

    /// <summary>
    /// mkdir of each level below <paramref name="mountPoint"/>, enabling controllers in each parent's
    /// cgroup.subtree_control first (runc's CreateCgroupPath): every controller the parent has
    /// (<paramref name="only"/> limits the set), all in one write, and one by one when that fails (some
    /// cannot be enabled in a containerised or threaded tree; the resource writes report it later).
    /// </summary>
    internal static void CreatePath(string mountPoint, string path, IReadOnlyCollection<string>? only, List<string> created)
    {
        if (!path.StartsWith(mountPoint + "/", StringComparison.Ordinal))
        {
            created.AddRange(CgroupTree.MakeDirectories(path));
            return;
        }
        var current = mountPoint;
        foreach (var part in path[(mountPoint.Length + 1)..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            EnableControllers(current, only);
            current = current + "/" + part;
            if (Files.IsDirectory(current))
                continue;
            try
            {
                Files.MakeDirectory(current);
                created.Add(current);
            }
            catch (SyscallException e) when (e.Errno == Errno.EEXIST)
            {
            }
        }
    }

    internal static void EnableControllers(string dir, IReadOnlyCollection<string>? only)
    {
        var available = CgroupFs.TryRead(dir, "cgroup.controllers");
        if (available is null)
            return;
        var enabled = (CgroupFs.TryRead(dir, "cgroup.subtree_control") ?? "").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var missing = new List<string>();
        foreach (var c in available.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (Array.IndexOf(enabled, c) < 0 && (only is null || only.Contains(c)))
                missing.Add("+" + c);
        }
        if (missing.Count == 0)
            return;
        try
        {
            CgroupFs.Write(dir, "cgroup.subtree_control", string.Join(' ', missing));
        }
        catch (CgroupException)
        {
            foreach (var c in missing)
            {
                try
                {
                    CgroupFs.Write(dir, "cgroup.subtree_control", c);
                }
                catch (CgroupException)
                {
                    // Reported by the resource write that needs it, with the file name.
                }
            }
        }
    }

    public void Join(int pid) => CgroupFs.WriteProcs(_path, pid);

    public IReadOnlyList<string> LegacyDirectories => Array.Empty<string>();

    public void JoinUnified(int pid) => Join(pid);

    public FileDescriptor? OpenUnifiedDirectory() => Files.Open(_path, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);

    public void Update(LinuxResources resources) => Apply(resources, update: true);

    private void Apply(LinuxResources r, bool update)
    {
        var controllers = Controllers(_path);
        if (V2.Cpu.IsSet(r.Cpu))
        {
            if (!V2.Cpu.IsRealtimeSet(r.Cpu))
                Require(controllers, "cpu", "linux.resources.cpu");
            V2.Cpu.Set(_path, r.Cpu!);
        }
        if (V1.Cpuset.IsSet(r.Cpu))
        {
            Require(controllers, "cpuset", "linux.resources.cpu.cpus/mems");
            V2.Cpuset.Set(_path, r.Cpu!);
        }
        if (r.Memory is not null && (V2.Memory.IsSet(r.Memory) || controllers.Contains("memory")))
        {
            Require(controllers, "memory", "linux.resources.memory");
            V2.Memory.Set(_path, r.Memory, update, Warning);
        }
        if (r.Pids is not null && (Pids.IsSet(r.Pids) || controllers.Contains("pids")))
        {
            Require(controllers, "pids", "linux.resources.pids");
            Pids.Set(_path, r.Pids);
        }
        if (r.BlockIO is not null && V2.Io.IsSet(r.BlockIO))
        {
            Require(controllers, "io", "linux.resources.blockIO");
            V2.Io.Set(_path, r.BlockIO, Warning);
        }
        if (V1.Hugetlb.IsSet(r.HugepageLimits))
        {
            Require(controllers, "hugetlb", "linux.resources.hugepageLimits");
            V2.Hugetlb.Set(_path, r.HugepageLimits!);
        }
        if (Rdma.IsSet(r.Rdma))
        {
            Require(controllers, "rdma", "linux.resources.rdma");
            Rdma.Set(_path, r.Rdma!);
        }
        if (V1.Network.IsClassIdSet(r.Network) || V1.Network.IsPrioritiesSet(r.Network))
            throw CgroupException.Unsupported("linux.resources.network (classID, priorities) needs the v1 net_cls/net_prio controllers; cgroup v2 has none");
        if ((!update || r.Devices is not null) && !Rootless)
            V2.Devices.Set(_path, DeviceRules.FromSpec(r.Devices, withDefaults: true));
        // Last, so raw values win over the fields above (as in runc).
        if (r.Unified is { Count: > 0 })
            V2.Unified.Set(_path, r.Unified);
    }

    internal static HashSet<string> Controllers(string dir)
    {
        var text = CgroupFs.TryRead(dir, "cgroup.controllers") ?? "";
        return new HashSet<string>(text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
    }

    private void Require(HashSet<string> controllers, string controller, string what)
    {
        if (!controllers.Contains(controller))
        {
            throw CgroupException.Unsupported(
                $"{what} needs the {controller} controller, which is not enabled for {_path} (cgroup.controllers: \"{string.Join(' ', controllers)}\")");
        }
    }

    public LinuxResources ReadResources()
    {
        var r = new LinuxResources { Cpu = new LinuxCpu(), Memory = new LinuxMemory(), Pids = new LinuxPids(), BlockIO = new LinuxBlockIO() };
        V2.Cpu.Read(_path, r.Cpu);
        V2.Cpuset.Read(_path, r.Cpu);
        V2.Memory.Read(_path, r.Memory);
        Pids.Read(_path, r.Pids);
        V2.Io.Read(_path, r.BlockIO);
        return r;
    }

    public FreezerState Freeze() => V2.Freezer.Freeze(_path);

    public FreezerState Thaw() => V2.Freezer.Thaw(_path);

    public FreezerState GetFreezerState() => V2.Freezer.Get(_path);

    public IReadOnlyList<int> GetPids(bool recursive = true)
    {
        var pids = new List<int>();
        CgroupTree.CollectPids(_path, recursive, pids);
        return pids;
    }

    public void KillAll(int signal) => KillAll(_path, signal, this, Warning);

    /// <summary>cgroup.kill for SIGKILL (kernel 5.14+), else freeze, signal each pid, thaw.</summary>
    internal static void KillAll(string unifiedDir, int signal, ICgroupManager manager, Action<string>? warn)
    {
        if (!manager.Exists)
            return;
        if (signal == Signals.SIGKILL && CgroupFs.Exists(unifiedDir, "cgroup.kill"))
        {
            CgroupFs.Write(unifiedDir, "cgroup.kill", "1");
            return;
        }
        var frozen = false;
        try
        {
            manager.Freeze();
            frozen = true;
        }
        catch (CgroupException e)
        {
            warn?.Invoke($"signalling without freezing first: {e.Message}");
        }
        try
        {
            CgroupTree.SignalAll(manager.GetPids(recursive: true), signal);
        }
        finally
        {
            if (frozen)
                manager.Thaw();
        }
    }

    public void Destroy() => CgroupTree.RemoveAll(new[] { _path });

    public CgroupStats Stats()
    {
        var s = new CgroupStats { FromUnified = true };
        V2.Cpu.Stats(_path, s.Cpu);
        V2.Memory.Stats(_path, s.Memory);
        Pids.Stats(_path, s.Pids);
        V2.Io.Stats(_path, s.Blkio);
        V2.Hugetlb.Stats(_path, s.Hugetlb);
        s.Cpuset = V2.Cpuset.Stats(_path);
        Rdma.Stats(_path, s);
        return s;
    }
}
