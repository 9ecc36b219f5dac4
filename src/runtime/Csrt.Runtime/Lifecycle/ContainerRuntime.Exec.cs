using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Errors;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

/// <summary>What `exec` runs and how it is wired.</summary>
public sealed class ExecOptions
{
    /// <summary>The process (from --process JSON, or built from the command line over the container's defaults).</summary>
    public required Spec.Process Process { get; init; }

    public string? PidFile { get; init; }

    /// <summary>Where the pty master goes in terminal mode; with neither this nor
    /// <see cref="ConsoleSocket"/>, the master is returned in <see cref="ExecResult.Master"/>.</summary>
    public string? ConsoleSocketPath { get; init; }

    public FileDescriptor? ConsoleSocket { get; init; }

    public FileDescriptor? Stdin { get; init; }

    public FileDescriptor? Stdout { get; init; }

    public FileDescriptor? Stderr { get; init; }

    public int PreserveFds { get; init; }

    /// <summary>The container's <see cref="ContainerRuntime.SavedSpec"/> when the caller already
    /// loaded it (the CLI builds the process over its defaults); null: Exec loads it.</summary>
    public RuntimeSpec? SavedSpec { get; init; }
}

/// <summary>The started process: its pid (a child of the caller) and, in terminal mode without a
/// console socket, the pty master.</summary>
public sealed record ExecResult(int Pid, FileDescriptor? Master);

public sealed partial class ContainerRuntime
{
    /// <summary>
    /// Starts a process inside a created or running container: the C child is born in the
    /// container's cgroup2 directory and joins its v1 hierarchies itself, joins the init's
    /// namespaces (user first, mnt last), waits while the parent sets its rlimits, and finishes
    /// with csrt_exec_final. No .NET code runs inside the container (its root has no .NET loader).
    /// </summary>
    public ExecResult Exec(string id, ExecOptions o)
    {
        // Whatever built the process (CLI flags, a process JSON, the shim's exec spec), its ids,
        // strings and cwd are checked here before anything reaches the child.
        SpecValidator.ValidateProcess(o.Process, "exec process");
        var r = LoadFor(id, "exec in", ContainerStatus.Running, ContainerStatus.Created);
        var spec = o.SavedSpec ?? SavedSpec(id);
        var process = o.Process;
        // A process given without capabilities gets the container's, as in runc (not all of them).
        process.Capabilities ??= spec?.Process?.Capabilities;
        var plan = InitPlanBuilder.BuildProcess(process, spec?.Linux);
        var proc = "/proc/" + Text(r.InitPid);

        var opened = new List<FileDescriptor>();
        FileDescriptor? master = null;
        FileDescriptor? peer = null;
        SpawnedProcess? spawned = null;
        using var consoleSocket = o.ConsoleSocket is null && o.ConsoleSocketPath is not null && process.Terminal ? UnixSockets.Connect(o.ConsoleSocketPath) : null;
        try
        {
            var spawn = new SpawnOptions { WaitForParent = true };
            var all = (CloneFlags)r.Namespaces;
            foreach (var type in NamespacePlan.JoinOrder)
            {
                if ((all & type) == 0)
                    continue;
                var name = Namespaces.ProcName(type);
                var path = $"{proc}/ns/{name}";
                // Joining one's own user namespace is EINVAL; joining any other one we are already in is a waste.
                if (Namespaces.Identity(path) == Namespaces.Identity("/proc/self/ns/" + name))
                    continue;
                var fd = Namespaces.Open(path);
                opened.Add(fd);
                spawn.Joins.Add((fd, type));
                if (type is CloneFlags.CLONE_NEWPID or CloneFlags.CLONE_NEWTIME)
                    spawn.SecondClone = true;
            }

            if (process.Terminal)
            {
                using var root = Files.Open(proc + "/root", OpenFlags.O_PATH | OpenFlags.O_DIRECTORY);
                master = Files.OpenInRoot(root, "dev/pts/ptmx", OpenFlags.O_RDWR | OpenFlags.O_NOCTTY);
                Terminals.UnlockPeer(master);
                peer = Terminals.OpenPeer(master);
                if (plan.ConsoleHeight > 0 || plan.ConsoleWidth > 0)
                    Terminals.SetWindowSize(peer, plan.ConsoleHeight, plan.ConsoleWidth);
                for (var i = 0; i < 3; i++)
                    spawn.Files.Add((peer, i));
                spawn.NewSession = true;
                spawn.ControllingTerminal = 0;
            }
            else
            {
                spawn.Files.Add((o.Stdin ?? FileDescriptor.Borrow(0), 0));
                spawn.Files.Add((o.Stdout ?? FileDescriptor.Borrow(1), 1));
                spawn.Files.Add((o.Stderr ?? FileDescriptor.Borrow(2), 2));
            }
            for (var i = 0; i < o.PreserveFds; i++)
                spawn.Files.Add((FileDescriptor.Borrow(3 + i), 3 + i));

            var env = WithHomeFromContainer(plan.Env, plan.Uid, proc);
            var setgroupsDenied = (r.Namespaces & (ulong)CloneFlags.CLONE_NEWUSER) != 0 && ContainerInit.SetgroupsDenied(proc);
            spawn.Plan = plan.ToExecPlan(env, setgroupsDenied);

            // As the init in Create: moving the child by pid (cgroup.procs) would wait for an RCU
            // grace period; clone3 into the cgroup2 directory and "0" written to each v1
            // hierarchy's "tasks" by the still single-threaded child do not.
            var cgroup = r.CgroupPaths.Count > 0 ? Cgroups(r) : null;
            var unified = cgroup?.OpenUnifiedDirectory();
            if (unified is not null)
                opened.Add(unified);
            spawn.CgroupDirectory = unified;
            foreach (var dir in cgroup?.LegacyDirectories ?? [])
            {
                var tasks = Files.Open(CgroupFs.PathOf(dir, "tasks"), OpenFlags.O_WRONLY);
                opened.Add(tasks);
                spawn.CgroupTaskFiles.Add(tasks);
            }

            spawned = Spawn.Start(spawn);
            // The child reports reaching its sync point before it waits there: read that report
            // first, or Complete's release could close the socket before the child wrote it (EPIPE).
            try
            {
                spawned.WaitForSyncPoint(SpawnDeadline);
            }
            catch (SpawnException e)
            {
                throw CsrtException.Failed($"exec \"{plan.Args[0]}\" in container {id}: {e.Message}", e);
            }
            // The child waits at its sync point: give it the process's limits before it can exec anything.
            var child = spawned.FirstPid;
            if (cgroup is not null && unified is null)
                cgroup.JoinUnified(child);
            // A process without rlimits (or oomScoreAdj) gets the container's, as runc's exec does.
            var rlimits = process.Rlimits is { Count: > 0 } ? process.Rlimits : spec?.Process?.Rlimits ?? new List<PosixRlimit>();
            for (var i = 0; i < rlimits.Count; i++)
            {
                var rl = rlimits[i];
                var resource = KnownRlimits.GetResource(rl.Type, "process", $"$.rlimits[{i}].type");
                try
                {
                    ProcessControl.SetResourceLimit(child, (ResourceLimit)resource, rl.Soft, rl.Hard);
                }
                catch (SyscallException e)
                {
                    throw CsrtException.Failed($"exec in container {id}: process.rlimits {rl.Type} (soft {rl.Soft}, hard {rl.Hard}): {e.Message}", e);
                }
            }
            if ((process.OomScoreAdj ?? spec?.Process?.OomScoreAdj) is { } adj)
                ProcessControl.SetOomScoreAdj(child, adj);
            int pid;
            try
            {
                pid = spawned.Complete(SpawnDeadline);
            }
            catch (SpawnException e)
            {
                throw CsrtException.Failed($"exec \"{plan.Args[0]}\" in container {id}: {e.Message}", e);
            }
            if (o.PidFile is not null)
                Files.WriteAtomic(Path.GetFullPath(o.PidFile), Encoding.ASCII.GetBytes(Text(pid)));
            var console = o.ConsoleSocket ?? consoleSocket;
            if (master is not null && console is not null)
            {
                UnixSockets.Send(console, Encoding.UTF8.GetBytes("/dev/ptmx"), new[] { master.Number });
                master.Dispose();
                master = null;
            }
            var result = new ExecResult(pid, master);
            master = null;
            return result;
        }
        finally
        {
            spawned?.Dispose();
            peer?.Dispose();
            master?.Dispose();
            opened.ForEach(fd => fd.Dispose());
        }
    }

    /// <summary>HOME from the container's /etc/passwd (read through the init's root, never
    /// following links out of it) when the process has none.</summary>
    private static List<string> WithHomeFromContainer(List<string> env, uint uid, string proc) =>
        Passwd.WithHome(env, uid, () =>
        {
            try
            {
                using var root = Files.Open(proc + "/root", OpenFlags.O_PATH | OpenFlags.O_DIRECTORY);
                using var passwd = Files.OpenInRoot(root, "etc/passwd", OpenFlags.O_RDONLY);
                return Encoding.UTF8.GetString(Files.ReadToEnd(passwd));
            }
            catch (SyscallException)
            {
                // No /etc/passwd in the image: "/" as runc does.
                return null;
            }
        });
}
