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

    public string? PidFile { get; init; }

    /// <summary>Unix socket path that receives the pty master (terminal mode), as runc's --console-socket.</summary>
    public string? ConsoleSocketPath { get; init; }

    /// <summary>Or an already-connected socket (in-process callers use one end of a socketpair).</summary>
    public FileDescriptor? ConsoleSocket { get; init; }

    public bool NoPivot { get; init; }

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
        using (var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0))
        using (var target = Files.Open(tmp, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_TRUNC, FileModes.UserReadWrite))
        {
            var chunk = new byte[1 << 16];
            int n;
            while ((n = source.Read(chunk)) > 0)
                Files.WriteAll(target, chunk.AsSpan(0, n));
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
        if (spec.Process is { Terminal: true } && o.ConsoleSocket is null && o.ConsoleSocketPath is null)
            throw new ArgumentException("process.terminal is true: a --console-socket is needed to receive the pty master");

        using var containerLock = Store.CreateDirectory(o.Id);
        ICgroupManager? cgroup = null;
        SpawnedProcess? spawned = null;
        var pid = 0;
        // Without a mount namespace of its own the init mounts in ours: what it adds under the
        // rootfs is noted, for delete (or a failed create) to remove.
        HashSet<int>? hostMountsBefore = null;
        string? rootfs = null;
        try
        {
            var namespaces = NamespacePlan.For(linux);
            cgroup = CgroupManager.Create(new CgroupConfig
            {
                ContainerId = o.Id,
                CgroupsPath = linux.CgroupsPath,
                UseSystemd = _options.SystemdCgroup,
                Warning = _options.Warning,
            });
            cgroup.Create(linux.Resources);
            var plan = InitPlanBuilder.Build(spec, namespaces, new InitPlanBuilder.Options
            {
                ContainerId = o.Id,
                Bundle = bundle,
                NoPivot = o.NoPivot,
                NoNewKeyring = o.NoNewKeyring,
                PreserveFds = o.PreserveFds,
                CgroupLayout = CgroupMountLayoutOf(cgroup),
            });
            CopyConfig(configPath, Store.ConfigOf(o.Id));
            if (!plan.OwnMountNamespace)
            {
                rootfs = plan.Rootfs;
                hostMountsBefore = HostMounts.IdsUnder(rootfs);
            }

            var fifoPath = Store.ExecFifoOf(o.Id);
            Files.MakeFifo(fifoPath, FileModes.UserReadWriteOthersWrite);
            // As runc: 0622 whatever our umask, owned by the container's root, so an init that is
            // root of a user namespace mapped to another host uid can still open it for writing.
            Files.Chmod(fifoPath, FileModes.UserReadWriteOthersWrite);
            if (namespaces.NewUserNamespace)
                Files.Chown(fifoPath, HostIdOfRoot(linux.UidMappings), HostIdOfRoot(linux.GidMappings));
            using var fifo = Files.Open(fifoPath, OpenFlags.O_PATH);
            var (parentEnd, childEnd) = UnixSockets.Pair(UnixSockets.Kind.SeqPacket);
            using var sync = new SyncChannel(parentEnd);
            using var consoleSocket = o.ConsoleSocket is null && o.ConsoleSocketPath is not null ? UnixSockets.Connect(o.ConsoleSocketPath) : null;

            // The init's fd table: stdio, the preserved fds, then the runtime's own.
            var spawn = new SpawnOptions
            {
                CloneFlags = namespaces.CloneFlags,
                UnshareFlags = namespaces.UnshareFlags,
                SecondClone = namespaces.SecondClone,
                WaitForParent = namespaces.WaitForParent,
                BecomeRoot = namespaces.BecomeRoot,
            };
            var opened = new List<FileDescriptor>();
            FileDescriptor? devNull = null;
            var joinedUnified = false;
            try
            {
                foreach (var (type, path) in namespaces.Joins)
                {
                    var fd = Namespaces.Open(path);
                    opened.Add(fd);
                    spawn.Joins.Add((fd, type));
                }
                // With a terminal the user process's stdio is the pty; the init itself gets
                // /dev/null, as runc's does, so it never holds the caller's stdio open (the runc
                // shim reads `create`'s output to EOF: an init holding it would hang the shim).
                if (spec.Process is { Terminal: true } && (o.Stdin is null || o.Stdout is null || o.Stderr is null))
                    opened.Add(devNull = Files.Open("/dev/null", OpenFlags.O_RDWR));
                spawn.Files.Add((o.Stdin ?? devNull ?? FileDescriptor.Borrow(0), 0));
                spawn.Files.Add((o.Stdout ?? devNull ?? FileDescriptor.Borrow(1), 1));
                spawn.Files.Add((o.Stderr ?? devNull ?? FileDescriptor.Borrow(2), 2));
                for (var i = 0; i < o.PreserveFds; i++)
                    spawn.Files.Add((FileDescriptor.Borrow(3 + i), 3 + i));
                var next = 3 + o.PreserveFds;
                var syncFd = next++;
                spawn.Files.Add((childEnd, syncFd));
                plan.ExecFifoFd = next++;
                spawn.Files.Add((fifo, plan.ExecFifoFd));
                var console = o.ConsoleSocket ?? consoleSocket;
                if (console is not null)
                {
                    plan.ConsoleSocketFd = next++;
                    spawn.Files.Add((console, plan.ConsoleSocketFd));
                }
                var binary = _options.InitBinary?.Invoke() ?? SealedExecutable.Self;
                spawn.ExecutableFd = binary.Fd;
                // Non-dumpable from its execve on (the container sees the init before its
                // start-up code runs); the uid this takes is only mapped without a user namespace.
                spawn.NonDumpableExec = (namespaces.All & CloneFlags.CLONE_NEWUSER) == 0 && ProcessControl.GetEffectiveUid() == 0;
                spawn.Args = new[] { "csrt", ContainerInit.Sentinel };
                spawn.Env = new[] { ContainerInit.SyncFdVariable + "=" + Text(syncFd) };
                // The init is born in its cgroups instead of being moved there after its exec,
                // which would wait for an RCU grace period: clone3 into the cgroup2
                // directory, and it writes itself into each v1 hierarchy's "tasks" first thing.
                using var unified = cgroup.UnifiedPath is not null && !namespaces.WaitForParent && !namespaces.SecondClone ? cgroup.OpenUnifiedDirectory() : null;
                spawn.CgroupDirectory = unified;
                joinedUnified = unified is not null;
                foreach (var dir in cgroup.LegacyDirectories)
                {
                    var tasks = Files.Open(CgroupFs.PathOf(dir, "tasks"), OpenFlags.O_WRONLY);
                    opened.Add(tasks);
                    spawn.CgroupTaskFiles.Add(tasks);
                }

                spawned = Spawn.Start(spawn);
                childEnd.Dispose();
                if (namespaces.WaitForParent)
                {
                    spawned.WaitForSyncPoint(SpawnDeadline);
                    WriteIdMapsAndTimeOffsets(spawned.FirstPid, linux, namespaces);
                }
                pid = spawned.Complete(SpawnDeadline);
            }
            finally
            {
                opened.ForEach(fd => fd.Dispose());
            }

            if (!joinedUnified)
                cgroup.JoinUnified(pid);
            var record = new ContainerRecord
            {
                Id = o.Id,
                Bundle = bundle,
                Rootfs = plan.Rootfs,
                InitPid = pid,
                InitStartTime = ProcStat.Read(pid)?.StartTime ?? 0,
                Created = DateTimeOffset.UtcNow,
                Owner = OwnerName(),
                Annotations = spec.Annotations,
                CgroupPaths = new Dictionary<string, string>(cgroup.Paths),
                Namespaces = (ulong)namespaces.All,
                CreatedNamespaces = (ulong)namespaces.Created,
            };
            // The hooks' state JSON only when there are hooks (most containers have none). Every hook
            // before the user program gets "created", as crun gives them: the environment exists
            // (runtime-spec lifecycle step 2 is over) and the program has not run; poststart gets
            // "running" and poststop "stopped".
            var hookState = spec.Hooks is null ? "" : HookStateJson(record, ContainerStatus.Created);
            if (plan.CreateContainerHooks.Count > 0 || plan.StartContainerHooks.Count > 0)
                plan.HookState = hookState;
            sync.Send(SyncMessageType.Config, InitPlanCodec.Encode(plan));

            sync.Expect(SyncMessageType.HooksPlease);
            foreach (var hook in InitPlanBuilder.Hooks(spec.Hooks?.Prestart))
                HookRunner.Run(hook, "prestart", hookState, _options.ExitMonitor);
            foreach (var hook in InitPlanBuilder.Hooks(spec.Hooks?.CreateRuntime))
                HookRunner.Run(hook, "createRuntime", hookState, _options.ExitMonitor);
            sync.Send(SyncMessageType.HooksDone);
            sync.Expect(SyncMessageType.Ready);

            if (hostMountsBefore is not null)
                record.HostMounts = HostMounts.AddedUnder(rootfs!, hostMountsBefore);
            Store.Save(record);
            if (o.PidFile is not null)
                Files.WriteAtomic(Path.GetFullPath(o.PidFile), System.Text.Encoding.ASCII.GetBytes(Text(pid)));
            return record;
        }
        catch
        {
            var killed = pid > 0 ? pid : spawned?.Pid ?? 0;
            if (killed > 0)
            {
                Signals.Send(killed, Signals.SIGKILL);
                TryReap(killed);
            }
            try
            {
                cgroup?.KillAll(Signals.SIGKILL);
                cgroup?.Destroy();
            }
            catch (Exception e)
            {
                Warn($"cleaning up the cgroup of {o.Id}: {e.Message}");
            }
            if (hostMountsBefore is not null)
            {
                try
                {
                    HostMounts.Detach(HostMounts.AddedUnder(rootfs!, hostMountsBefore), Warn);
                }
                catch (SyscallException e)
                {
                    Warn($"removing the mounts of {o.Id} under {rootfs}: {e.Message}");
                }
            }
            Store.Remove(o.Id);
            throw;
        }
        finally
        {
            spawned?.Dispose();
        }
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
    private static void WriteIdMapsAndTimeOffsets(int pid, LinuxConfig linux, NamespacePlan namespaces)
    {
        var proc = "/proc/" + Text(pid);
        if (namespaces.NewUserNamespace)
        {
            if (linux.UidMappings is { Count: > 0 } uids)
                Files.WriteText(proc + "/uid_map", NamespacePlan.IdMapText(uids));
            if (linux.GidMappings is { Count: > 0 } gids)
                Files.WriteText(proc + "/gid_map", NamespacePlan.IdMapText(gids));
        }
        if (linux.TimeOffsets is { Count: > 0 } offsets)
            Files.WriteText(proc + "/timens_offsets", NamespacePlan.TimeOffsetsText(offsets));
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

    /// <summary>How the container's cgroups appear inside it, from the manager's directories.</summary>
    private static CgroupMountLayout CgroupMountLayoutOf(ICgroupManager cgroup)
    {
        if (cgroup.Layout == CgroupLayout.Unified)
            return new CgroupMountLayout(true, Array.Empty<CgroupMountSource>(), cgroup.UnifiedPath);
        var sources = new Dictionary<string, CgroupMountSource>(StringComparer.Ordinal);
        foreach (var (controller, dir) in cgroup.Paths)
        {
            const string root = "/sys/fs/cgroup/";
            if (!dir.StartsWith(root, StringComparison.Ordinal))
                continue;
            var name = dir[root.Length..].Split('/')[0];
            if (sources.ContainsKey(name))
                continue;
            var options = controller switch
            {
                "" => "",
                _ when controller.StartsWith("name=", StringComparison.Ordinal) => "none," + controller,
                _ => name,
            };
            var source = new CgroupMountSource { Name = name, HostPath = dir, Options = options };
            if (name.Contains(','))
                source.Aliases.AddRange(name.Split(','));
            sources[name] = source;
        }
        return new CgroupMountLayout(false, sources.Values.ToList(), cgroup.UnifiedPath);
    }

    private static string OwnerName()
    {
        var uid = ProcessControl.GetEffectiveUid();
        return Passwd.Find(Files.TryReadText("/etc/passwd"), uid)?.Name
            ?? "#" + uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
