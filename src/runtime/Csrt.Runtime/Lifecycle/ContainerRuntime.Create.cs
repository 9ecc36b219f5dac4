using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Hooks;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

/// <summary>What `create` needs beyond the bundle.</summary>
public sealed class CreateOptions
{
    public required string Id { get; init; }

    /// <summary>The bundle directory (config.json and, usually, rootfs).</summary>
    public required string Bundle { get; init; }

    /// <summary>An already-loaded config.json of the bundle (the shim has one); null: load it.</summary>
    public RuntimeSpec? Spec { get; init; }

    /// <summary>The <see cref="Spec"/> exists only in memory (`csrt fn`): no config.json is read or
    /// saved, so the spec may hold no hooks (start and delete find them in the saved copy).</summary>
    public bool SpecInMemoryOnly { get; init; }

    /// <summary>The spec's linux.seccomp, compiled by the caller (`csrt fn` caches the program); null: compile it.</summary>
    public Security.CompiledSeccomp? CompiledSeccomp { get; init; }

    public string? PidFile { get; init; }

    /// <summary>Unix socket path that receives the pty master (terminal mode), as runc's --console-socket.</summary>
    public string? ConsoleSocketPath { get; init; }

    /// <summary>Or an already-connected socket (in-process callers use one end of a socketpair).</summary>
    public FileDescriptor? ConsoleSocket { get; init; }

    public bool NoPivot { get; init; }

    /// <summary>The cgroup driver of this container (the shim's per-task SystemdCgroup); null: the runtime's.</summary>
    public bool? SystemdCgroup { get; init; }

    public bool NoNewKeyring { get; init; }

    /// <summary>Pass the caller's fds 3 … 3+N-1 to the container process.</summary>
    public int PreserveFds { get; init; }

    /// <summary>The container process's stdio; null means the caller's own fd 0/1/2.</summary>
    public FileDescriptor? Stdin { get; init; }

    public FileDescriptor? Stdout { get; init; }

    public FileDescriptor? Stderr { get; init; }
}

public sealed partial class ContainerRuntime
{
    private static readonly TimeSpan SpawnDeadline = TimeSpan.FromSeconds(30);

    /// <summary>config.json into the state directory (0600, atomically) in small pieces: a config
    /// can be large, and its text is not needed in memory once parsed.</summary>
    private static void CopyConfig(string from, string to)
    {
        var tmp = to + ".tmp-" + Environment.ProcessId;
        using (var source = Files.Open(from, OpenFlags.O_RDONLY))
        using (var target = Files.Open(tmp, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC, FileModes.UserReadWrite))
        {
            // On the stack: a heap buffer is a fresh, zeroed allocation that a short command
            // touches page by page.
            Span<byte> chunk = stackalloc byte[16384];
            int n;
            while ((n = Files.Read(source, chunk)) > 0)
                Files.WriteAll(target, chunk[..n]);
        }
        Files.Rename(tmp, to);
    }

    /// <summary>
    /// Creates a container: its cgroup, the init in new namespaces, the rootfs; the init then
    /// waits on exec.fifo until <see cref="Start"/>. On any failure everything made so far is
    /// undone (process killed, cgroup removed, state directory deleted).
    /// </summary>
    public ContainerRecord Create(CreateOptions o)
    {
        ContainerId.Validate(o.Id);
        var bundle = Path.GetFullPath(o.Bundle);
        if (!Files.IsDirectory(bundle))
            throw new DirectoryNotFoundException($"bundle {bundle} does not exist or is not a directory");
        var configPath = Path.Combine(bundle, "config.json");
        var spec = o.Spec ?? SpecLoader.Load(configPath);
        var linux = spec.Linux ?? new LinuxConfig();
        Rootless.CheckSpec(linux);
        if (spec.Process is { Terminal: true } && o.ConsoleSocket is null && o.ConsoleSocketPath is null)
            throw new ArgumentException("process.terminal is true: a --console-socket is needed to receive the pty master");

        using var containerLock = Store.CreateDirectory(o.Id);
        var made = new CreateProgress();
        try
        {
            var namespaces = NamespacePlan.For(linux);
            InitPlan plan;
            // The cgroup layout and the rootfs's parent mount come from one read of mountinfo.
            using (SelfMountinfo.Share())
            {
                made.Cgroup = CreateCgroup(o.Id, linux, o.SystemdCgroup ?? _options.SystemdCgroup);
                plan = InitPlanBuilder.Build(spec, namespaces, new InitPlanBuilder.Options
                {
                    ContainerId = o.Id,
                    Bundle = bundle,
                    NoPivot = o.NoPivot,
                    NoNewKeyring = o.NoNewKeyring,
                    PreserveFds = o.PreserveFds,
                    CgroupLayout = CgroupMountLayouts.Of(made.Cgroup),
                    Seccomp = o.CompiledSeccomp,
                });
            }
            if (!o.SpecInMemoryOnly)
                CopyConfig(configPath, Store.ConfigOf(o.Id));
            else if (spec.Hooks is not null)
                throw new ArgumentException("a spec kept only in memory cannot have hooks: start and delete read them from the saved config.json");
            // Without a mount namespace of its own the init mounts in ours: what it adds under the
            // rootfs is noted, for delete (or a failed create) to remove.
            if (!plan.OwnMountNamespace)
            {
                made.Rootfs = plan.Rootfs;
                made.HostMountsBefore = HostMounts.IdsUnder(plan.Rootfs);
            }

            var idMapRequests = InitPlanBuilder.IdMapRequests(spec, namespaces, bundle);
            var joinedUser = IdMappedMounts.CheckJoinedUserNamespace(linux, namespaces, idMapRequests.Count > 0, _options.ExitMonitor);
            using var idMapped = IdMappedMounts.Prepare(idMapRequests, linux, joinedUser, _options.ExitMonitor);
            using var fifo = MakeExecFifo(o.Id, linux, namespaces);
            var (parentEnd, childEnd) = UnixSockets.Pair(UnixSockets.Kind.SeqPacket);
            using var sync = new SyncChannel(parentEnd);
            using var consoleSocket = o.ConsoleSocket is null && o.ConsoleSocketPath is not null ? UnixSockets.Connect(o.ConsoleSocketPath) : null;
            SpawnInit(o, spec, linux, namespaces, plan, made, new InitFds(childEnd, fifo, o.ConsoleSocket ?? consoleSocket, idMapped));

            var record = new ContainerRecord
            {
                Id = o.Id,
                Bundle = bundle,
                Rootfs = plan.Rootfs,
                InitPid = made.Pid,
                InitStartTime = ProcStat.Read(made.Pid)?.StartTime ?? 0,
                Created = DateTimeOffset.UtcNow,
                Owner = OwnerName(),
                Annotations = spec.Annotations,
                CgroupPaths = new Dictionary<string, string>(made.Cgroup.Paths),
                Systemd = made.Cgroup is Cgroups.Systemd.SystemdCgroupManager,
                Namespaces = (ulong)namespaces.All,
                CreatedNamespaces = (ulong)namespaces.Created,
            };
            RunCreateProtocol(sync, spec, plan, record);

            if (made.HostMountsBefore is not null)
                record.HostMounts = HostMounts.AddedUnder(made.Rootfs!, made.HostMountsBefore);
            Store.Save(record);
            if (o.PidFile is not null)
                Files.WriteAtomic(Path.GetFullPath(o.PidFile), System.Text.Encoding.ASCII.GetBytes(Text(made.Pid)));
            return record;
        }
        catch
        {
            UndoCreate(o.Id, made);
            throw;
        }
        finally
        {
            made.Spawned?.Dispose();
        }
    }

    /// <summary>What a create has made so far, for <see cref="UndoCreate"/> to remove on failure.</summary>
    private sealed class CreateProgress
    {
        public ICgroupManager? Cgroup { get; set; }

        public SpawnedProcess? Spawned { get; set; }

        /// <summary>The init's pid once the spawn completed (0 before).</summary>
        public int Pid { get; set; }

        /// <summary>The rootfs the init mounts under in our mount namespace (it has none of its own).</summary>
        public string? Rootfs { get; set; }

        /// <summary>The mounts under <see cref="Rootfs"/> before the init ran; null with a mount namespace.</summary>
        public HashSet<int>? HostMountsBefore { get; set; }
    }

    /// <summary>The runtime's own descriptors the init inherits after stdio and the preserved fds.</summary>
    private readonly record struct InitFds(FileDescriptor SyncChild, FileDescriptor ExecFifo, FileDescriptor? ConsoleSocket, PreparedIdMappedMounts IdMapped);

    private ICgroupManager CreateCgroup(string id, LinuxConfig linux, bool systemd)
    {
        var cgroup = CgroupManager.Create(new CgroupConfig
        {
            ContainerId = id,
            CgroupsPath = linux.CgroupsPath,
            UseSystemd = systemd,
            Warning = _options.Warning,
        });
        // The rootless rules are cgroupfs's; a systemd unit is systemd's to refuse.
        if (Rootless.IsRootless && !systemd)
            cgroup = RootlessCgroups.Restrict(cgroup, linux.Resources, warning: _options.Warning);
        cgroup.Create(linux.Resources);
        return cgroup;
    }

    /// <summary>exec.fifo in the state directory, opened O_PATH for the init to reopen for writing.</summary>
    private FileDescriptor MakeExecFifo(string id, LinuxConfig linux, NamespacePlan namespaces)
    {
        var fifoPath = Store.ExecFifoOf(id);
        Files.MakeFifo(fifoPath, FileModes.UserReadWriteOthersWrite);
        // As runc: 0622 whatever our umask, owned by the container's root, so an init that is
        // root of a user namespace mapped to another host uid can still open it for writing.
        Files.Chmod(fifoPath, FileModes.UserReadWriteOthersWrite);
        if (namespaces.NewUserNamespace)
        {
            try
            {
                Files.Chown(fifoPath, HostIdOfRoot(linux.UidMappings), HostIdOfRoot(linux.GidMappings));
            }
            catch (SyscallException e) when (e.Errno == Errno.EPERM && Rootless.IsRootless)
            {
                // A rootless caller can give files to no one else; 0622 lets that root open it for writing.
            }
        }
        return Files.Open(fifoPath, OpenFlags.O_PATH);
    }

    /// <summary>
    /// Starts the init through the C child path with its fd table, in its namespaces and cgroups,
    /// writes the parent's part of a new user or time namespace, and waits for the spawn to
    /// complete; <paramref name="made"/> then holds the process and its pid.
    /// </summary>
    private void SpawnInit(CreateOptions o, RuntimeSpec spec, LinuxConfig linux, NamespacePlan namespaces, InitPlan plan, CreateProgress made, InitFds fds)
    {
        var cgroup = made.Cgroup!;
        var spawn = new SpawnOptions
        {
            CloneFlags = namespaces.CloneFlags,
            UnshareFlags = namespaces.UnshareFlags,
            SecondClone = namespaces.SecondClone,
            WaitForParent = namespaces.WaitForParent,
            BecomeRoot = namespaces.BecomeRoot,
        };
        var opened = new List<FileDescriptor>();
        var joinedUnified = false;
        try
        {
            foreach (var (type, path) in namespaces.Joins)
            {
                var fd = Namespaces.Open(path);
                opened.Add(fd);
                spawn.Joins.Add((fd, type));
            }
            var syncFd = AddInitFdTable(spawn, o, spec, plan, fds, opened);
            var binary = _options.InitBinary?.Invoke() ?? SealedExecutable.Self;
            spawn.ExecutableFd = binary.Fd;
            // Non-dumpable from its execve on (the container sees the init before its
            // start-up code runs); the uid this takes is only mapped without a user namespace.
            spawn.NonDumpableExec = (namespaces.All & CloneFlags.CLONE_NEWUSER) == 0 && ProcessControl.GetEffectiveUid() == 0 && Rootless.InInitialUserNamespace;
            // A rootless parent cannot open a non-dumpable child's /proc files (they belong to
            // root) to write its id maps: the child is dumpable while it waits for them.
            spawn.DumpableAtSync = namespaces.NewUserNamespace && Rootless.IsRootless;
            spawn.Args = new[] { "csrt", ContainerInit.Sentinel };
            spawn.Env = new[] { ContainerInit.SyncFdVariable + "=" + Text(syncFd) };
            // The init is born in its cgroups instead of being moved there after its exec,
            // which would wait for an RCU grace period: clone3 into the cgroup2
            // directory, and it writes itself into each v1 hierarchy's "tasks" first thing.
            // With a second clone (a pid or time namespace to enter) the final process is
            // forked by the first one, so it inherits the cgroup too; a new user namespace
            // changes nothing: clone3 checks the move with the runtime's own credentials.
            using var unified = cgroup.UnifiedPath is not null ? cgroup.OpenUnifiedDirectory() : null;
            spawn.CgroupDirectory = unified;
            joinedUnified = unified is not null;
            foreach (var dir in cgroup.LegacyDirectories)
            {
                var tasks = Files.Open(CgroupFs.PathOf(dir, "tasks"), OpenFlags.O_WRONLY);
                opened.Add(tasks);
                spawn.CgroupTaskFiles.Add(tasks);
            }

            try
            {
                made.Spawned = Spawn.Start(spawn);
            }
            finally
            {
                // Our copy of the child's end closed, the init's exit reads as EOF on the sync socket.
                fds.SyncChild.Dispose();
            }
            if (namespaces.WaitForParent)
            {
                made.Spawned.WaitForSyncPoint(SpawnDeadline);
                WriteIdMapsAndTimeOffsets(made.Spawned.FirstPid, linux, namespaces, _options.ExitMonitor);
            }
            made.Pid = made.Spawned.Complete(SpawnDeadline);
        }
        finally
        {
            opened.ForEach(fd => fd.Dispose());
        }
        if (!joinedUnified)
            cgroup.JoinUnified(made.Pid);
    }

    /// <summary>
    /// The init's fd table: stdio, the preserved fds, then the runtime's own (sync socket,
    /// exec.fifo, console socket, id-mapped mounts), whose numbers go into the plan. Returns the sync socket's number.
    /// </summary>
    private static int AddInitFdTable(SpawnOptions spawn, CreateOptions o, RuntimeSpec spec, InitPlan plan, InitFds fds, List<FileDescriptor> opened)
    {
        // With a terminal the user process's stdio is the pty; the init itself gets
        // /dev/null, as runc's does, so it never holds the caller's stdio open (the runc
        // shim reads `create`'s output to EOF: an init holding it would hang the shim).
        FileDescriptor? devNull = null;
        if (spec.Process is { Terminal: true } && (o.Stdin is null || o.Stdout is null || o.Stderr is null))
            opened.Add(devNull = Files.Open("/dev/null", OpenFlags.O_RDWR));
        spawn.Files.Add((o.Stdin ?? devNull ?? FileDescriptor.Borrow(0), 0));
        spawn.Files.Add((o.Stdout ?? devNull ?? FileDescriptor.Borrow(1), 1));
        spawn.Files.Add((o.Stderr ?? devNull ?? FileDescriptor.Borrow(2), 2));
        for (var i = 0; i < o.PreserveFds; i++)
            spawn.Files.Add((FileDescriptor.Borrow(3 + i), 3 + i));
        var next = 3 + o.PreserveFds;
        var syncFd = next++;
        spawn.Files.Add((fds.SyncChild, syncFd));
        plan.ExecFifoFd = next++;
        spawn.Files.Add((fds.ExecFifo, plan.ExecFifoFd));
        if (fds.ConsoleSocket is not null)
        {
            plan.ConsoleSocketFd = next++;
            spawn.Files.Add((fds.ConsoleSocket, plan.ConsoleSocketFd));
        }
        foreach (var (step, mount) in fds.IdMapped.Mounts)
        {
            plan.Mounts[step].MountFd = next++;
            spawn.Files.Add((mount, plan.Mounts[step].MountFd));
        }
        return syncFd;
    }

    /// <summary>
    /// The parent's side of the sync protocol at create: sends the plan, runs the prestart and
    /// createRuntime hooks when the init asks, and waits for Ready (see <see cref="SyncChannel"/>).
    /// </summary>
    private void RunCreateProtocol(SyncChannel sync, RuntimeSpec spec, InitPlan plan, ContainerRecord record)
    {
        // The hooks' state JSON only when there are hooks (most containers have none). Every hook
        // before the user program gets "created", as crun gives them: the environment exists
        // (runtime-spec lifecycle step 2 is over) and the program has not run; poststart gets
        // "running" and poststop "stopped".
        var hookState = spec.Hooks is null ? "" : HookStateJson(record, ContainerStatus.Created);
        if (plan.CreateContainerHooks.Count > 0 || plan.StartContainerHooks.Count > 0)
            plan.HookState = hookState;
        sync.Send(SyncMessageType.Config, InitPlanCodec.Encode(plan));

        sync.Expect(SyncMessageType.HooksPlease, plan);
        foreach (var hook in InitPlanBuilder.Hooks(spec.Hooks?.Prestart))
            HookRunner.Run(hook, "prestart", hookState, _options.ExitMonitor);
        foreach (var hook in InitPlanBuilder.Hooks(spec.Hooks?.CreateRuntime))
            HookRunner.Run(hook, "createRuntime", hookState, _options.ExitMonitor);
        sync.Send(SyncMessageType.HooksDone, HomeForInit(plan, record.InitPid));
        sync.Expect(SyncMessageType.Ready, plan);
    }

    /// <summary>
    /// HooksDone's payload: "HOME=…" for a process whose environment has no HOME, from the
    /// container's /etc/passwd ("/" without an entry), as runc sets it; empty otherwise. Read here,
    /// not by the init (which parses nothing), through the init's root and the rootfs, where the
    /// mounts are made: every component resolved inside the rootfs (openat2 RESOLVE_IN_ROOT), a
    /// regular file only, opened non-blocking so a FIFO planted there cannot stall the runtime.
    /// </summary>
    private static byte[] HomeForInit(InitPlan plan, int initPid)
    {
        if (plan.Process.Env.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal)))
            return Array.Empty<byte>();
        var withHome = Passwd.WithHome(plan.Process.Env, plan.Process.Uid, () => ReadContainerPasswd(plan.Rootfs, initPid));
        return System.Text.Encoding.UTF8.GetBytes(withHome[^1]);
    }

    private static string? ReadContainerPasswd(string rootfs, int initPid)
    {
        const int MaxPasswd = 1 << 20;
        try
        {
            using var initRoot = Files.Open("/proc/" + Text(initPid) + "/root", OpenFlags.O_PATH | OpenFlags.O_DIRECTORY);
            using var root = Files.OpenInRoot(initRoot, rootfs, OpenFlags.O_PATH | OpenFlags.O_DIRECTORY);
            using var passwd = Files.OpenInRoot(root, "/etc/passwd", OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK | OpenFlags.O_NOCTTY);
            var info = Files.Stat(passwd);
            if (!info.IsRegular || info.Size > MaxPasswd)
                return null;
            return System.Text.Encoding.UTF8.GetString(Files.ReadToEnd(passwd));
        }
        catch (SyscallException)
        {
            // No /etc/passwd (or none we may read): HOME is "/", as runc has it.
            return null;
        }
    }

    /// <summary>Undoes a failed create: kills and reaps the init, removes its cgroup and the
    /// mounts it made in our namespace, and deletes the state directory. Errors are warnings.</summary>
    private void UndoCreate(string id, CreateProgress made)
    {
        var killed = made.Pid > 0 ? made.Pid : made.Spawned?.Pid ?? 0;
        if (killed > 0)
        {
            Signals.Send(killed, Signals.SIGKILL);
            TryReap(killed);
        }
        try
        {
            made.Cgroup?.KillAll(Signals.SIGKILL);
            made.Cgroup?.Destroy();
        }
        catch (Exception e)
        {
            Warn($"cleaning up the cgroup of {id}: {e.Message}");
        }
        if (made.HostMountsBefore is not null)
        {
            try
            {
                HostMounts.Detach(HostMounts.AddedUnder(made.Rootfs!, made.HostMountsBefore), Warn);
            }
            catch (SyscallException e)
            {
                Warn($"removing the mounts of {id} under {made.Rootfs}: {e.Message}");
            }
        }
        Store.Remove(id);
    }

    private void TryReap(int pid)
    {
        try
        {
            using var s = _options.ExitMonitor.Subscribe();
            s.Wait(pid, TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is SyscallException or TimeoutException)
        {
            // Not our child any more, or already reaped by the caller's reaping loop.
        }
    }

    /// <summary>The parent's part of a new user or time namespace: uid/gid maps and clock offsets,
    /// written while the child waits at its sync point.</summary>
    private static void WriteIdMapsAndTimeOffsets(int pid, LinuxConfig linux, NamespacePlan namespaces, IExitMonitor monitor)
    {
        if (namespaces.NewUserNamespace)
            IdMaps.Write(pid, linux, monitor);
        if (linux.TimeOffsets is { Count: > 0 } offsets)
            Files.WriteText("/proc/" + Text(pid) + "/timens_offsets", NamespacePlan.TimeOffsetsText(offsets));
    }

    /// <summary>The host id that id 0 of a new user namespace maps to (0 without a mapping for it).</summary>
    private static uint HostIdOfRoot(List<LinuxIdMapping>? mappings)
    {
        foreach (var m in mappings ?? new List<LinuxIdMapping>())
        {
            if (m.ContainerId == 0 && m.Size > 0)
                return m.HostId;
        }
        return 0;
    }

    private static string OwnerName()
    {
        var uid = ProcessControl.GetEffectiveUid();
        return Passwd.Find(Files.TryReadText("/etc/passwd"), uid)?.Name
            ?? "#" + uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
