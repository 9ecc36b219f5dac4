using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Hooks;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;
using Csrt.Runtime.State;

namespace Csrt.Runtime.Lifecycle;

/// <summary>Settings shared by every operation of a <see cref="ContainerRuntime"/>.</summary>
public sealed class RuntimeOptions
{
    /// <summary>State root (`--root`).</summary>
    public string? Root { get; init; }

    /// <summary>`--systemd-cgroup`: new containers get a systemd scope (Cgroups/Systemd); existing
    /// ones keep the driver they were created with (ContainerRecord.Systemd).</summary>
    public bool SystemdCgroup { get; init; }

    /// <summary>How children's exits are observed (the shim passes its reaper).</summary>
    public IExitMonitor ExitMonitor { get; init; } = DirectExitMonitor.Instance;

    /// <summary>Warnings (ignored settings, failed poststart/poststop hooks).</summary>
    public Action<string>? Warning { get; init; }

    /// <summary>The binary to run as container init; default: a sealed copy of this executable.</summary>
    public Func<SealedExecutable>? InitBinary { get; init; }
}

/// <summary>
/// The OCI runtime operations over one state root. The `csrt` CLI calls one method per command;
/// the shim calls the same methods in-process. The methods that change a container (Create,
/// Start, Kill, Pause, Resume, Update, Delete) take its lock, so they are serialised on one
/// container. Exec and the queries (State, List, Pids, Stats, OomSourceOf, InitPidOf) take none:
/// exec does not change the container's state, and state.json is replaced atomically, so a
/// reader sees either the old record or the new one.
/// </summary>
public sealed partial class ContainerRuntime
{
    private readonly RuntimeOptions _options;

    public ContainerRuntime(RuntimeOptions? options = null)
    {
        _options = options ?? new RuntimeOptions();
        Store = new StateStore(_options.Root);
    }

    /// <summary>The default state root (`--root`), runc's place for it: /run/csrt, or
    /// $XDG_RUNTIME_DIR/csrt when rootless (<see cref="Rootless.DefaultStateRoot()"/>).</summary>
    public static string DefaultStateRoot => StateStore.DefaultRoot;

    /// <summary>Moves a process (the shim's daemon, for the runc option `ShimCgroup`) into an
    /// existing cgroup, named by its absolute path in each hierarchy.</summary>
    public static void MoveIntoCgroup(int pid, string cgroupPath) => Csrt.Runtime.Cgroups.CgroupManager.JoinExisting(cgroupPath, pid);

    internal StateStore Store { get; }

    /// <summary>The state root directory of this runtime's containers.</summary>
    public string StateRoot => Store.Root;

    private void Warn(string message) => _options.Warning?.Invoke(message);

    /// <summary>The live status: stopped when the init is gone, created while exec.fifo exists,
    /// paused when the freezer says so, running otherwise.</summary>
    public ContainerStatus StatusOf(ContainerRecord r)
    {
        if (r.InitPid <= 0 || !ProcStat.IsAlive(r.InitPid, r.InitStartTime))
            return ContainerStatus.Stopped;
        // The freezer first, as runc: a created container can be paused too (and must not be
        // started while frozen: its init could not answer).
        try
        {
            if (r.CgroupPaths.Count > 0 && Cgroups(r).GetFreezerState() != FreezerState.Thawed)
                return ContainerStatus.Paused;
        }
        catch (Exception e) when (e is SyscallException or CgroupException)
        {
            // No freezer reachable: it cannot be paused.
        }
        return Files.Exists(Store.ExecFifoOf(r.Id)) ? ContainerStatus.Created : ContainerStatus.Running;
    }

    /// <summary>Loads a container and checks that <paramref name="operation"/> is allowed in its status.</summary>
    private ContainerRecord LoadFor(string id, string operation, params ContainerStatus[] allowed)
    {
        var r = Store.Load(id);
        var status = StatusOf(r);
        if (Array.IndexOf(allowed, status) < 0)
            throw new InvalidContainerStateException(id, status, operation);
        return r;
    }

    /// <summary>poststart and poststop hooks: a failure is a warning and the rest still run (runtime-spec).</summary>
    private void RunHooksWarningOnFailure(List<Hook>? hooks, string stage, string state)
    {
        foreach (var hook in InitPlanBuilder.Hooks(hooks))
        {
            try
            {
                HookRunner.Run(hook, stage, state, _options.ExitMonitor);
            }
            catch (HookFailedException e)
            {
                Warn(e.Message);
            }
        }
    }

    private ICgroupManager Cgroups(ContainerRecord r)
    {
        return CgroupManager.Open(r.CgroupPaths, systemd: r.Systemd, warning: _options.Warning);
    }

    private OciState ToOciState(ContainerRecord r, ContainerStatus status) => new()
    {
        Id = r.Id,
        Pid = status == ContainerStatus.Stopped ? 0 : r.InitPid,
        Status = status,
        Bundle = r.Bundle,
        Rootfs = r.Rootfs,
        Created = r.Created,
        Annotations = r.Annotations,
        Owner = r.Owner,
    };

    private static string HookStateJson(ContainerRecord r, ContainerStatus status) =>
        System.Text.Encoding.UTF8.GetString(OciStateJson.SerializeForHook(new OciState
        {
            Id = r.Id,
            Pid = r.InitPid,
            Status = status,
            Bundle = r.Bundle,
            Annotations = r.Annotations,
        }));

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
