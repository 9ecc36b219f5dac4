using System.Globalization;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Hooks;
using Csrt.Runtime.Rootfs;

namespace Csrt.Runtime.Processes;

/// <summary>
/// The container init: the runtime binary re-executed (from its sealed memfd) inside the new
/// namespaces as `&lt;binary&gt; init`. It is PID 1 of a new pid namespace and still sees the host's
/// mount table until pivot_root (without a mount namespace of its own, for good: it chroots). It
/// reads its <see cref="InitPlan"/> from the sync socket whose
/// number is in <see cref="SyncFdVariable"/>, builds the container, reports Ready, waits on
/// exec.fifo until `start`, and execs the user process on this (the main) thread, which is where
/// csrt_exec_final's per-thread settings (ids, capabilities, seccomp) take effect.
/// </summary>
public static class ContainerInit
{
    /// <summary>argv[1] that selects the init path in both executables.</summary>
    public const string Sentinel = "init";

    /// <summary>Environment variable carrying the sync socket's fd number.</summary>
    public const string SyncFdVariable = "_CSRT_SYNC_FD";

    public static int Run()
    {
        // The native start-up (csrt_start in csrt_spawn.c) did this before the runtime started;
        // this is the backstop should that code ever not be linked in.
        ProcessControl.SetDumpable(false);
        ProcessControl.SetName("csrt:[1:INIT]");
        var fdText = Environment.GetEnvironmentVariable(SyncFdVariable);
        if (fdText is null || !int.TryParse(fdText, NumberStyles.None, CultureInfo.InvariantCulture, out var fd))
        {
            Console.Error.WriteLine("csrt init: this is the container init, run by the runtime itself, not by hand (" + SyncFdVariable + " is not set)");
            return 2;
        }
        var sync = new SyncChannel(new FileDescriptor(fd));
        var ready = false;
        try
        {
            var (type, payload) = sync.Receive();
            switch (type)
            {
                case SyncMessageType.Probe:
                    return Probe(sync, SyncChannel.Decode(payload, SyncJsonContext.Default.ProbeRequest));
                case SyncMessageType.Config:
                    var plan = InitPlanCodec.Decode(payload);
                    // Opened while the host's /proc is the one in sight (see WaitForStart).
                    var smaps = plan.ExecFifoFd >= 0 ? Memory.OpenOwnMemoryMap() : null;
                    Build(sync, plan, fd, out var procFd, out var console);
                    sync.Send(SyncMessageType.Ready);
                    ready = true;
                    sync.Dispose();
                    WaitForStart(plan, procFd, smaps);
                    foreach (var hook in plan.StartContainerHooks)
                        HookRunner.Run(hook, "startContainer", plan.HookState);
                    Exec(plan, console);
                    return 127; // Exec only returns by throwing.
                default:
                    sync.SendError($"init: unexpected first message {type}");
                    return 1;
            }
        }
        catch (Exception e)
        {
            var message = CsrtException.Describe(e);
            if (!ready)
            {
                try
                {
                    sync.SendError(message);
                }
                catch (Exception)
                {
                    // The parent is gone; nobody to tell but stderr.
                    Console.Error.WriteLine("csrt init: " + message);
                }
            }
            else
            {
                Console.Error.WriteLine("csrt init: " + message);
            }
            return ready ? 127 : 1;
        }
    }

    private static int Probe(SyncChannel sync, ProbeRequest request)
    {
        if (request.Hostname.Length > 0)
            ProcessControl.SetHostname(request.Hostname);
        var report = new ProbeReport { Pid = ProcessControl.GetPid(), Hostname = ProcessControl.GetHostname() };
        sync.Send(SyncMessageType.ProbeReport, report, SyncJsonContext.Default.ProbeReport);
        sync.Dispose();
        return 0;
    }

    /// <summary>Everything between the plan and Ready, in runc's order.</summary>
    private static void Build(SyncChannel sync, InitPlan plan, int syncFd, out FileDescriptor? procFd, out FileDescriptor? console)
    {
        ProcessControl.SetUmask(0);
        if (plan.NewCgroupNamespace)
            Namespaces.Unshare(CloneFlags.CLONE_NEWCGROUP);
        // exec.fifo is reopened for writing through /proc/self/fd after pivot_root: the container's
        // own /proc when it mounts one. Only without one is a handle on the host's /proc/self/fd
        // kept, because while the container waits in `created` a process exec'd into it with
        // CAP_SYS_PTRACE can follow /proc/1/fd/N of any directory fd we hold up to the host's /proc.
        procFd = plan.ExecFifoFd >= 0 && !plan.Mounts.Any(m => m.Type == "proc" && m.Destination == "/proc")
            ? Files.Open("/proc/self/fd", OpenFlags.O_PATH | OpenFlags.O_DIRECTORY)
            : null;

        RootfsBuilder.PrepareRoot(plan);
        using (var root = new RootDirectory(plan.Rootfs))
        {
            RootfsBuilder.ApplyMounts(root, plan);
            RootfsBuilder.SetupDevices(root, plan);
            using (root.MakeDirectories(plan.Process.Cwd))
            {
            }
        }
        if (plan.Hostname is { Length: > 0 })
            ProcessControl.SetHostname(plan.Hostname);
        if (plan.Domainname is { Length: > 0 })
            ProcessControl.SetDomainname(plan.Domainname);

        // prestart and createRuntime hooks run in the runtime's namespaces, now that the mounts exist.
        sync.Send(SyncMessageType.HooksPlease);
        sync.Expect(SyncMessageType.HooksDone);
        foreach (var hook in plan.CreateContainerHooks)
            HookRunner.Run(hook, "createContainer", plan.HookState);

        RootfsBuilder.SwitchRoot(plan);
        console = plan.Process.Terminal ? SetupConsole(plan) : null;
        RootfsBuilder.ApplySysctls(plan);
        RootfsBuilder.Finish(plan);

        foreach (var r in plan.Rlimits)
        {
            try
            {
                ProcessControl.SetResourceLimit(0, (ResourceLimit)r.Resource, r.Soft, r.Hard);
            }
            catch (SyscallException e)
            {
                throw CsrtException.Failed($"process.rlimits {r.Name} (soft {r.Soft}, hard {r.Hard}): {e.Message}", e);
            }
        }
        if (plan.OomScoreAdj is { } adj)
            ProcessControl.SetOomScoreAdj(0, adj);
        if (!plan.NoNewKeyring)
            ProcessSession.JoinNewSessionKeyring("_ses." + plan.ContainerId);

        // Fail `create` (not `start`) when the program is missing, as runc does.
        ExecutableLookup.Resolve(plan.Process.Args[0], plan.Process.Env);
    }

    /// <summary>A pty from the container's devpts: the master goes to the console socket, the peer
    /// becomes /dev/console and the process's stdio.</summary>
    private static FileDescriptor SetupConsole(InitPlan plan)
    {
        if (plan.ConsoleSocketFd < 0)
            throw CsrtException.Failed("process.terminal is true but no console socket was given (--console-socket)");
        FileDescriptor master;
        try
        {
            master = Terminals.OpenMaster("/dev/ptmx");
        }
        catch (SyscallException e)
        {
            throw CsrtException.Failed($"process.terminal is true but the container has no usable /dev/ptmx (is devpts mounted on /dev/pts?): {e.Message}", e);
        }
        using (master)
        {
            var peer = Terminals.OpenPeer(master);
            var name = Terminals.PeerName(master);
            if (plan.Process.ConsoleHeight > 0 || plan.Process.ConsoleWidth > 0)
                Terminals.SetWindowSize(peer, plan.Process.ConsoleHeight, plan.Process.ConsoleWidth);
            if (!Files.Exists("/dev/console"))
            {
                using var f = Files.Open("/dev/console", OpenFlags.O_CREAT | OpenFlags.O_WRONLY | OpenFlags.O_NOFOLLOW, FileModes.UserReadWriteOthersRead);
            }
            Mounts.Mount(name, "/dev/console", null, MountFlags.MS_BIND);
            using var socket = FileDescriptor.Borrow(plan.ConsoleSocketFd);
            UnixSockets.Send(socket, Encoding.UTF8.GetBytes(name), new[] { master.Number });
            return peer;
        }
    }

    /// <summary>Blocks until `start` opens exec.fifo for reading, then tells it we are going.</summary>
    private static void WaitForStart(InitPlan plan, FileDescriptor? procFd, FileDescriptor? smaps)
    {
        if (plan.ExecFifoFd < 0)
            return;
        var number = plan.ExecFifoFd.ToString(CultureInfo.InvariantCulture);
        // A created container can wait for hours: while it does, the runtime's code and read-only
        // data mapped while building the container stay in the page cache, shared, instead of in this process's RSS. What exec needs faults back in after start.
        string memoryMap;
        using (smaps)
            memoryMap = Encoding.UTF8.GetString(Files.ReadToEnd(smaps!));
        using (procFd)
        using (var fifo = Memory.OpenAfterReleasingReadOnlyFileMappings(memoryMap, procFd, procFd is null ? "/proc/self/fd/" + number : number, OpenFlags.O_WRONLY))
        {
            Files.WriteAll(fifo, "0"u8);
        }
    }

    private static void Exec(InitPlan plan, FileDescriptor? console)
    {
        var p = plan.Process;
        if (console is not null)
        {
            ProcessSession.NewSession();
            Terminals.SetControllingTerminal(console);
            for (var i = 0; i < 3; i++)
                Files.DuplicateTo(console, i);
        }
        // Nothing of the runtime reaches the user process: every fd above stdio and the preserved
        // ones closes on exec (the CVE-2024-21626 class).
        Files.CloseOnExecFrom(3 + plan.PreserveFds);
        var env = WithHome(p.Env, p.Uid);
        Spawn.ExecFinal(p.ToExecPlan(env, plan.InUserNamespace && SetgroupsDenied("/proc/self")));
    }

    /// <summary>Whether the user namespace of the process at <paramref name="proc"/> (a /proc/&lt;pid&gt;
    /// directory) has setgroups denied: its processes' supplementary groups cannot be set.</summary>
    internal static bool SetgroupsDenied(string proc) => Files.TryReadText(proc + "/setgroups")?.Trim() == "deny";

    /// <summary>runc sets HOME from the container's /etc/passwd when the spec does not.</summary>
    internal static List<string> WithHome(List<string> env, uint uid) =>
        Passwd.WithHome(env, uid, static () => Files.TryReadText("/etc/passwd"));
}
