using System.Runtime.InteropServices;
using Csrt.Linux.Native;

namespace Csrt.Linux;

/// <summary>The five capability sets as bit masks (bit n = capability n).</summary>
public readonly record struct CapabilitySets(ulong Bounding, ulong Effective, ulong Permitted, ulong Inheritable, ulong Ambient);

/// <summary>The last steps before a user process starts, run by csrt_exec_final on the thread that
/// execs: ids, capabilities, no_new_privs, seccomp, cwd, signal reset, execve.</summary>
public sealed class ExecPlan
{
    /// <summary>The executable; without a '/', searched in the PATH of <see cref="Env"/>.</summary>
    public required string Path { get; init; }

    public required IReadOnlyList<string> Args { get; init; }

    public IReadOnlyList<string> Env { get; init; } = Array.Empty<string>();

    public string? Cwd { get; init; }

    /// <summary>When true, setgroups (unless <see cref="AdditionalGids"/> is null), setresgid, setresuid.</summary>
    public bool SetIds { get; init; }

    public uint Uid { get; init; }

    public uint Gid { get; init; }

    /// <summary>Supplementary groups; null leaves them (needed when setgroups is denied in a user namespace).</summary>
    public IReadOnlyList<uint>? AdditionalGids { get; init; }

    /// <summary>Null keeps the current sets (and lets a uid change drop them as the kernel does).</summary>
    public CapabilitySets? Capabilities { get; init; }

    public bool NoNewPrivileges { get; init; }

    public int? Umask { get; init; }

    public int? Personality { get; init; }

    /// <summary>A compiled seccomp program: struct sock_filter[] (8 bytes per instruction).</summary>
    public byte[]? SeccompFilter { get; init; }

    public uint SeccompFlags { get; init; }
}

/// <summary>What a new process gets: namespaces, fd table, session, and what it executes.</summary>
public sealed class SpawnOptions
{
    /// <summary>Namespaces created by the first clone.</summary>
    public CloneFlags CloneFlags { get; set; }

    /// <summary>Namespaces created after <see cref="Joins"/> (a new user namespace must come after joining
    /// namespaces owned by the host's).</summary>
    public CloneFlags UnshareFlags { get; set; }

    /// <summary>setns in this order (user first, mnt last).</summary>
    public List<(FileDescriptor Fd, CloneFlags Type)> Joins { get; } = new();

    /// <summary>The new process's fd table: each fd lands on its target number; every other fd is closed on exec.</summary>
    public List<(FileDescriptor Fd, int Target)> Files { get; } = new();

    /// <summary>Exec this fd (a sealed memfd of the runtime), or <see cref="ExecutablePath"/>.</summary>
    public FileDescriptor? ExecutableFd { get; set; }

    public string? ExecutablePath { get; set; }

    public IReadOnlyList<string> Args { get; set; } = Array.Empty<string>();

    public IReadOnlyList<string> Env { get; set; } = Array.Empty<string>();

    /// <summary>Finish with csrt_exec_final instead of a plain execve (exec into a container).</summary>
    public ExecPlan? Plan { get; set; }

    /// <summary>The child waits for <see cref="SpawnedProcess.Release"/> after its unshares (the parent writes id maps and time offsets
    /// then, after <see cref="SpawnedProcess.WaitForSyncPoint"/>).</summary>
    public bool WaitForParent { get; set; }

    /// <summary>After joining and unsharing, become root (uid/gid 0) of the user namespace.</summary>
    public bool BecomeRoot { get; set; }

    /// <summary>Clone once more (CLONE_PARENT) so the process lands in a pid or time namespace that was joined or unshared.</summary>
    public bool SecondClone { get; set; }

    public bool NewSession { get; set; }

    /// <summary>A target fd number to make the controlling terminal (needs <see cref="NewSession"/>).</summary>
    public int ControllingTerminal { get; set; } = -1;

    /// <summary>cgroup v2 directory to be born in (clone3 CLONE_INTO_CGROUP).</summary>
    public FileDescriptor? CgroupDirectory { get; set; }

    /// <summary>cgroup v1 "tasks" files, open for writing: the child joins these cgroups itself,
    /// right after the clone, by writing "0" (itself, single-threaded) to each. Unlike moving a
    /// process by pid through cgroup.procs, that takes no global lock, whose writer waits for an
    /// RCU grace period per container (docs/benchmarks.md, runtime: the init born in its cgroups).</summary>
    public List<FileDescriptor> CgroupTaskFiles { get; } = new();

    public int ParentDeathSignal { get; set; }

    /// <summary>Exec <see cref="ExecutableFd"/> (the runtime's own init, whose start-up restores
    /// it) with a real uid other than the effective 0, so the kernel makes the new image
    /// non-dumpable from its first instruction. Root only, and no user namespace: the uid must be
    /// mapped.</summary>
    public bool NonDumpableExec { get; set; }

    /// <summary>With <see cref="WaitForParent"/>: the child is dumpable while it waits, so a parent
    /// without privilege (a rootless runtime) may open its /proc files to write the uid/gid maps
    /// (a non-dumpable process's /proc files belong to root). As runc does; it becomes
    /// non-dumpable again before anything else.</summary>
    public bool DumpableAtSync { get; set; }
}

/// <summary>A child failed before its execve; <see cref="Stage"/> says which step.</summary>
public sealed class SpawnException : SyscallException
{
    public SpawnException(string stage, Errno errno, string? what)
        : base(stage, errno, what)
    {
        Stage = stage;
    }

    public string Stage { get; }

    /// <summary>The name of a stage of csrt_spawn.h's <c>enum csrt_stage</c> (NativeLayoutTests
    /// checks that every stage there has one).</summary>
    internal static string StageName(int stage) => stage switch
    {
        1 => "setns",
        2 => "sync with parent",
        3 => "unshare",
        4 => "clone(CLONE_PARENT)",
        5 => "set up fds",
        6 => "setsid",
        7 => "ioctl(TIOCSCTTY)",
        8 => "drop bounding capabilities",
        9 => "setgroups",
        10 => "setresgid",
        11 => "setresuid",
        12 => "capset",
        13 => "set ambient capabilities",
        14 => "prctl(PR_SET_NO_NEW_PRIVS)",
        15 => "seccomp(SECCOMP_SET_MODE_FILTER)",
        16 => "chdir",
        17 => "execve",
        18 => "personality",
        19 => "clone",
        20 => "join cgroup (write tasks)",
        21 => "prctl(PR_SET_DUMPABLE)",
        22 => "prctl(PR_SET_PDEATHSIG)",
        _ => $"stage {stage}",
    };
}

/// <summary>A process started by <see cref="Spawn.Start"/>, not yet known to have exec'd.</summary>
public sealed class SpawnedProcess : IDisposable
{
    private FileDescriptor? _sync;
    private FileDescriptor? _pidPipe;
    private FileDescriptor? _errors;
    private readonly string _what;

    /// <summary>The working directory the plan asked for: a failed chdir names it, not the program.</summary>
    private readonly string? _cwd;

    internal SpawnedProcess(int firstPid, FileDescriptor? sync, FileDescriptor? pidPipe, FileDescriptor errors, string what, string? cwd = null)
    {
        _cwd = cwd;
        FirstPid = firstPid;
        Pid = pidPipe is null ? firstPid : 0;
        _sync = sync;
        _pidPipe = pidPipe;
        _errors = errors;
        _what = what;
    }

    /// <summary>The clone child; with a second clone, the intermediate that exits at once.</summary>
    public int FirstPid { get; }

    /// <summary>The process that execs (known after <see cref="Complete"/> when there is a second clone).</summary>
    public int Pid { get; private set; }

    /// <summary>
    /// With <see cref="SpawnOptions.WaitForParent"/>: waits until the child has joined and created its
    /// namespaces and stopped at its sync point, so its uid/gid maps and time offsets can be written.
    /// A child that failed before is reported as <see cref="Complete(TimeSpan)"/> reports it.
    /// </summary>
    public void WaitForSyncPoint(TimeSpan timeout)
    {
        if (_sync is null)
            return;
        if (!Polling.WaitReadable(_sync, timeout))
        {
            Signals.Send(FirstPid, Signals.SIGKILL);
            ReapQuietly(FirstPid);
            throw new TimeoutException($"the child {FirstPid} ({_what}) did not reach its sync point within {timeout.TotalSeconds:0.#} s");
        }
        Span<byte> b = stackalloc byte[1];
        if (Files.Read(_sync, b) == 1)
            return;
        // EOF: it died on the way; its error report says where.
        _sync.Dispose();
        _sync = null;
        Complete(timeout);
        throw new SpawnException("sync with parent", Errno.EPIPE, _what);
    }

    /// <summary>Lets the child go on past its sync point.</summary>
    public void Release()
    {
        if (_sync is null)
            return;
        try
        {
            Files.WriteAll(_sync, "1"u8);
        }
        finally
        {
            _sync.Dispose();
            _sync = null;
        }
    }

    /// <summary>Waits until the process has exec'd; throws <see cref="SpawnException"/> with the
    /// failed step otherwise (and reaps what failed).</summary>
    public int Complete() => Complete(Timeout.InfiniteTimeSpan);

    /// <summary>As <see cref="Complete()"/>, but a child that neither execs nor fails within
    /// <paramref name="timeout"/> is killed and reported as hung (TimeoutException).</summary>
    public int Complete(TimeSpan timeout)
    {
        Release();
        if (timeout != Timeout.InfiniteTimeSpan)
        {
            var watched = _pidPipe ?? _errors!;
            if (!Polling.WaitReadable(watched, timeout))
            {
                Signals.Send(FirstPid, Signals.SIGKILL);
                ReapQuietly(FirstPid);
                throw new TimeoutException($"the child {FirstPid} ({_what}) neither exec'd nor failed within {timeout.TotalSeconds:0.#} s");
            }
        }
        if (_pidPipe is not null)
        {
            Span<byte> buf = stackalloc byte[4];
            var n = Files.ReadFull(_pidPipe, buf);
            _pidPipe.Dispose();
            _pidPipe = null;
            ReapQuietly(FirstPid);
            if (n == 4)
                Pid = MemoryMarshal.Read<int>(buf);
        }
        Span<byte> err = stackalloc byte[8];
        var got = Files.ReadFull(_errors!, err);
        _errors!.Dispose();
        _errors = null;
        if (got == 0 && Pid > 0)
            return Pid;
        if (Pid > 0)
            ReapQuietly(Pid);
        else if (_pidPipe is null && FirstPid > 0)
            ReapQuietly(FirstPid);
        if (got < 8)
            throw new SpawnException("clone child", Errno.EPIPE, _what);
        var report = MemoryMarshal.Read<csrt_child_error>(err);
        var stage = SpawnException.StageName(report.stage);
        throw new SpawnException(stage, (Errno)report.err, stage == "chdir" && _cwd is not null ? _cwd : _what);
    }

    private static void ReapQuietly(int pid)
    {
        try
        {
            Waiting.WaitFor(pid);
        }
        catch (SyscallException e) when (e.Errno == Errno.ECHILD)
        {
            // A subreaper's reaping loop got it first.
        }
    }

    public void Dispose()
    {
        _sync?.Dispose();
        _pidPipe?.Dispose();
        _errors?.Dispose();
    }
}

/// <summary>Starting processes through the C child path (src/linux/native/csrt_spawn.c).</summary>
public static unsafe class Spawn
{
    /// <summary>Clones and starts the child; call <see cref="SpawnedProcess.Complete"/> to learn
    /// whether it exec'd.</summary>
    public static SpawnedProcess Start(SpawnOptions o)
    {
        var what = o.Plan?.Path ?? o.ExecutablePath ?? (o.ExecutableFd is not null ? "runtime binary" : null);
        using var arena = new NativeArena();
        var (errRead, errWrite) = Files.Pipe();
        FileDescriptor? syncRead = null, syncWrite = null, pidRead = null, pidWrite = null;
        if (o.WaitForParent)
            (syncRead, syncWrite) = UnixSockets.Pair(UnixSockets.Kind.Stream);
        if (o.SecondClone)
            (pidRead, pidWrite) = Files.Pipe();
        var refs = new List<SafeHandle>();
        try
        {
            var req = arena.Alloc<csrt_spawn_request>();
            req->clone_flags = (ulong)o.CloneFlags;
            req->unshare_flags = (ulong)o.UnshareFlags;
            req->join_count = o.Joins.Count;
            req->join_fds = arena.Alloc<int>(o.Joins.Count);
            req->join_types = arena.Alloc<int>(o.Joins.Count);
            for (var i = 0; i < o.Joins.Count; i++)
            {
                req->join_fds[i] = AddRef(refs, o.Joins[i].Fd);
                req->join_types[i] = (int)o.Joins[i].Type;
            }
            req->fd_count = o.Files.Count;
            req->fds = arena.Alloc<csrt_fd_map>(o.Files.Count);
            for (var i = 0; i < o.Files.Count; i++)
            {
                req->fds[i].src = AddRef(refs, o.Files[i].Fd);
                req->fds[i].dst = o.Files[i].Target;
            }
            req->exec_path = arena.String(o.ExecutablePath);
            req->exec_fd = o.ExecutableFd is null ? -1 : AddRef(refs, o.ExecutableFd);
            req->argv = arena.Strings(o.Args);
            req->envp = arena.Strings(o.Env);
            req->plan = o.Plan is null ? null : BuildPlan(arena, o.Plan);
            req->sync_fd = syncRead?.Number ?? -1;
            req->sync_peer_fd = syncWrite?.Number ?? -1;
            req->second_clone = o.SecondClone ? 1 : 0;
            req->pid_fd = pidWrite?.Number ?? -1;
            req->err_fd = errWrite.Number;
            req->setsid = o.NewSession ? 1 : 0;
            req->ctty_fd = o.ControllingTerminal;
            req->cgroup_fd = o.CgroupDirectory is null ? -1 : AddRef(refs, o.CgroupDirectory);
            req->parent_death_signal = o.ParentDeathSignal;
            req->become_root = o.BecomeRoot ? 1 : 0;
            req->nondumpable_exec = o.NonDumpableExec ? 1 : 0;
            req->dumpable_at_sync = o.DumpableAtSync ? 1 : 0;
            req->cgroup_task_count = o.CgroupTaskFiles.Count;
            req->cgroup_task_fds = arena.Alloc<int>(o.CgroupTaskFiles.Count);
            for (var i = 0; i < o.CgroupTaskFiles.Count; i++)
                req->cgroup_task_fds[i] = AddRef(refs, o.CgroupTaskFiles[i]);
            if (o.ExecutableFd is null && o.ExecutablePath is null && o.Plan is null)
                throw new ArgumentException("nothing to execute: set ExecutableFd, ExecutablePath or Plan");
            if (o.NonDumpableExec && (o.ExecutableFd is null || o.Plan is not null))
                throw new ArgumentException("NonDumpableExec applies to ExecutableFd (the runtime's init) only");

            var pid = NativeMethods.csrt_spawn(req);
            if (pid < 0)
                throw new SyscallException(o.CgroupDirectory is null ? "clone" : "clone3", (Errno)(-pid), what);
            return new SpawnedProcess(pid, syncWrite, pidRead, errRead, what ?? "process", o.Plan?.Cwd);
        }
        catch
        {
            errRead.Dispose();
            syncWrite?.Dispose();
            pidRead?.Dispose();
            throw;
        }
        finally
        {
            foreach (var r in refs)
                r.DangerousRelease();
            // The child's ends: only the child keeps them.
            errWrite.Dispose();
            syncRead?.Dispose();
            pidWrite?.Dispose();
        }
    }

    private static int AddRef(List<SafeHandle> refs, FileDescriptor fd)
    {
        var ok = false;
        fd.DangerousAddRef(ref ok);
        refs.Add(fd);
        return fd.Number;
    }

    private static csrt_exec_plan* BuildPlan(NativeArena arena, ExecPlan p)
    {
        var plan = arena.Alloc<csrt_exec_plan>();
        plan->path = arena.String(p.Path);
        plan->argv = arena.Strings(p.Args);
        plan->envp = arena.Strings(p.Env);
        plan->cwd = arena.String(p.Cwd);
        plan->set_ids = p.SetIds ? 1 : 0;
        plan->uid = p.Uid;
        plan->gid = p.Gid;
        if (p.AdditionalGids is null)
        {
            plan->ngroups = -1;
        }
        else
        {
            plan->ngroups = p.AdditionalGids.Count;
            plan->groups = arena.Alloc<uint>(p.AdditionalGids.Count);
            for (var i = 0; i < p.AdditionalGids.Count; i++)
                plan->groups[i] = p.AdditionalGids[i];
        }
        if (p.Capabilities is { } caps)
        {
            plan->set_caps = 1;
            plan->cap_bounding = caps.Bounding;
            plan->cap_effective = caps.Effective;
            plan->cap_permitted = caps.Permitted;
            plan->cap_inheritable = caps.Inheritable;
            plan->cap_ambient = caps.Ambient;
        }
        plan->no_new_privs = p.NoNewPrivileges ? 1 : 0;
        plan->umask = p.Umask ?? -1;
        plan->personality = p.Personality ?? -1;
        plan->last_cap = ProcessControl.LastCapability;
        plan->err_fd = -1;
        if (p.SeccompFilter is { Length: > 0 } filter)
        {
            if (filter.Length % 8 != 0)
                throw new ArgumentException("a seccomp program is a whole number of 8-byte instructions");
            var mem = arena.Alloc<byte>(filter.Length);
            filter.CopyTo(new Span<byte>(mem, filter.Length));
            plan->seccomp_filter = mem;
            plan->seccomp_len = (uint)(filter.Length / 8);
            plan->seccomp_flags = p.SeccompFlags;
        }
        return plan;
    }

    /// <summary>Runs the finishing sequence on this thread and execs; only returns by throwing.</summary>
    public static void ExecFinal(ExecPlan plan)
    {
        using var arena = new NativeArena();
        var p = BuildPlan(arena, plan);
        int stage = 0;
        var r = NativeMethods.csrt_exec_final(p, &stage);
        var name = SpawnException.StageName(stage);
        throw new SpawnException(name, (Errno)(-r), name == "chdir" && plan.Cwd is not null ? plan.Cwd : plan.Path);
    }
}
