using Containerd;
using Csrt.Runtime.Errors;
using Csrt.Shim.Bootstrap;
using Csrt.Shim.Io;
using Csrt.Shim.Tasks;
using Xunit;
using Ev = Containerd.Events;

namespace Csrt.Shim.Tests.Tasks;

/// <summary>
/// A container's processes and the order of their events, with a fake runtime: no containerd, no
/// kernel. What a ShimContainer returns is exactly what the task service publishes, in that order.
/// </summary>
public sealed class ShimContainerTests
{
    private readonly FakeControl _control = new();

    private ShimContainer Container(bool privatePidNamespace = true) =>
        new(new InitProcess("c1", NoIo("c1"), "/run/b/c1", privatePidNamespace) { Pid = 42 }, _control, ShimOptions.None, rootfsMounted: false);

    private static ProcessIo NoIo(string id) => ProcessIo.Open(id, "default", "", "", "", false);

    private static ExecProcess AddExec(ShimContainer c, string execId)
    {
        var exec = c.ReserveExec(execId, new Csrt.Runtime.Spec.Process());
        c.AddExec(exec, NoIo(execId));
        return exec;
    }

    private static ExecProcess StartExec(ShimContainer c, string execId)
    {
        var exec = AddExec(c, execId);
        c.StartExec(execId);
        return exec;
    }

    /// <summary>An exit as the task service hands it on: claimed once (by the reaper or the spawner), then recorded.</summary>
    private static IReadOnlyList<TaskEvent> Exit(ShimContainer c, ShimProcess p, int status)
    {
        Assert.True(p.ClaimExit());
        return c.Exited(p, status);
    }

    /// <summary>What the exits read as: "exit e1 3" per TaskExit, in order.</summary>
    private static string[] Exits(IReadOnlyList<TaskEvent> events) =>
        events.Select(e =>
        {
            Assert.Equal("/tasks/exit", e.Topic);
            var exit = Assert.IsType<Ev.TaskExit>(e.Message);
            Assert.Equal("c1", exit.ContainerId);
            return $"exit {exit.Id} {exit.ExitStatus}";
        }).ToArray();

    private static void Refused(ErrorKind kind, string message, Action operation)
    {
        var e = Assert.Throws<CsrtException>(operation);
        Assert.Equal(kind, e.Kind);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void ANewInit_IsCreated_NotExited_AndReportsGoZeroTime()
    {
        var c = Container();
        Assert.Equal(ProcessStatus.Created, c.Init.Status);
        Assert.Same(c.Init, c.Process(""));
        Assert.Equal("c1", c.Init.Id);
        Assert.False(c.Init.Exited.IsCompleted);
        Assert.Equal(Timestamps.GoZeroSeconds, c.Init.ExitedAtTimestamp().Seconds);
    }

    [Fact]
    public void Start_StartsTheInitThroughTheRuntime_AndReturnsTaskStartWithItsPid()
    {
        var c = Container();
        var events = c.Start();
        var e = Assert.Single(events);
        Assert.Equal("/tasks/start", e.Topic);
        Assert.Equal(42u, Assert.IsType<Ev.TaskStart>(e.Message).Pid);
        Assert.Equal(ProcessStatus.Running, c.Init.Status);
        Assert.Equal(["start c1"], _control.Calls);
        Refused(ErrorKind.FailedPrecondition, "cannot start a running process", () => c.Start());
    }

    [Fact]
    public void AFailedStart_LeavesTheInitCreated()
    {
        var c = Container();
        _control.Failures["start"] = CsrtException.Failed("hook failed");
        Assert.Throws<CsrtException>(() => c.Start());
        Assert.Equal(ProcessStatus.Created, c.Init.Status);
    }

    [Fact]
    public async Task TheInitsExit_IsHeldWhileExecsRun_AndReturnedAfterTheLastOfTheirs()
    {
        var c = Container();
        c.Start();
        var e1 = StartExec(c, "e1");
        var e2 = StartExec(c, "e2");

        Assert.Empty(Exit(c, c.Init, 137));
        Assert.False(c.Init.Exited.IsCompleted);
        Assert.Equal(ProcessStatus.Running, c.Init.Status);

        Assert.Equal(["exit e1 0"], Exits(Exit(c, e1, 0)));
        Assert.False(c.Init.Exited.IsCompleted);

        Assert.Equal(["exit e2 1", "exit c1 137"], Exits(Exit(c, e2, 1)));
        await c.Init.Exited.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(137u, c.Init.ExitStatus);
        Assert.Equal(ProcessStatus.Stopped, c.Init.Status);
        Assert.NotNull(c.Init.ExitedAt);
    }

    [Fact]
    public void TheInitsExit_IsReturnedAtOnce_WhenNoExecRuns()
    {
        var c = Container();
        c.Start();
        AddExec(c, "created-only");
        var stopped = StartExec(c, "stopped");
        Exit(c, stopped, 0);
        Assert.Equal(["exit c1 0"], Exits(Exit(c, c.Init, 0)));
        Assert.True(c.Init.Exited.IsCompleted);
    }

    [Fact]
    public void AnInitWithoutItsOwnPidNamespace_KillsWhatIsLeftInItsCgroup_WhenItExits()
    {
        var shared = Container(privatePidNamespace: false);
        shared.Start();
        Exit(shared, shared.Init, 0);
        Assert.Contains("kill c1 9 all", _control.Calls);

        _control.Calls.Clear();
        var own = Container(privatePidNamespace: true);
        own.Start();
        Exit(own, own.Init, 0);
        Assert.DoesNotContain(_control.Calls, call => call.StartsWith("kill", StringComparison.Ordinal));
    }

    [Fact]
    public void AFailedKillAll_AfterTheInitExited_StillReturnsItsExit()
    {
        var c = Container(privatePidNamespace: false);
        c.Start();
        _control.Failures["kill"] = CsrtException.Failed("cgroup.procs: EACCES");
        Assert.Equal(["exit c1 0"], Exits(Exit(c, c.Init, 0)));
    }

    [Fact]
    public void AReservedExecId_IsTaken_ButNoRpcSeesIt_UntilItsIoIsOpen()
    {
        var c = Container();
        var exec = c.ReserveExec("e1", new Csrt.Runtime.Spec.Process());
        Assert.Equal(ProcessStatus.Reserved, exec.Status);
        Refused(ErrorKind.NotFound, "process does not exist e1", () => c.Process("e1"));
        Refused(ErrorKind.AlreadyExists, "id e1", () => c.ReserveExec("e1", new Csrt.Runtime.Spec.Process()));

        var added = c.AddExec(exec, NoIo("e1"));
        Assert.Equal("/tasks/exec-added", Assert.Single(added).Topic);
        Assert.Same(exec, c.Process("e1"));
        Assert.Equal(ProcessStatus.Created, exec.Status);
    }

    [Fact]
    public void AReleasedReservation_FreesTheId()
    {
        var c = Container();
        var exec = c.ReserveExec("e1", new Csrt.Runtime.Spec.Process());
        c.ReleaseExec(exec);
        var again = c.ReserveExec("e1", new Csrt.Runtime.Spec.Process());
        Assert.NotSame(exec, again);
    }

    [Fact]
    public void ReleasingAnExecThatIsAlreadyAdded_LeavesIt()
    {
        var c = Container();
        var exec = AddExec(c, "e1");
        c.ReleaseExec(exec);
        Assert.Same(exec, c.Process("e1"));
    }

    [Fact]
    public void DeletingAnExec_FreesItsId_AndASecondDeleteIsNotFound()
    {
        var c = Container();
        c.Start();
        var exec = StartExec(c, "e1");
        Exit(c, exec, 3);
        Assert.Same(exec, c.DeleteExec("e1"));
        Assert.Equal(ProcessStatus.Deleted, exec.Status);
        Assert.Equal(3u, exec.ExitStatus);
        Refused(ErrorKind.NotFound, "process does not exist e1", () => c.DeleteExec("e1"));
        AddExec(c, "e1");
    }

    [Fact]
    public void ExecsAreAddedOnlyToACreatedOrRunningInit()
    {
        var c = Container();
        c.Start();
        c.Pause();
        Refused(ErrorKind.FailedPrecondition, "cannot exec in a paused process", () => c.ReserveExec("e1", new Csrt.Runtime.Spec.Process()));
    }

    [Fact]
    public async Task StartExec_ReturnsExecStarted_WithThePidTheRuntimeGave_AfterTheCallbackSawIt()
    {
        var c = Container();
        c.Start();
        var exec = AddExec(c, "e1");
        var seen = 0;
        var events = c.StartExec("e1", e => seen = e.Pid);
        var started = Assert.IsType<Ev.TaskExecStarted>(Assert.Single(events).Message);
        Assert.Equal("e1", started.ExecId);
        Assert.Equal((uint)exec.Pid, started.Pid);
        Assert.Equal(exec.Pid, seen);
        Assert.Equal(ProcessStatus.Running, exec.Status);
        Assert.Equal(new Dictionary<int, string> { [exec.Pid] = "e1" }, c.ExecPids());
        Refused(ErrorKind.FailedPrecondition, "cannot start a running process", () => c.StartExec("e1"));
        Refused(ErrorKind.FailedPrecondition, "cannot delete a running process", () => c.DeleteExec("e1"));
        Assert.Equal(["exit e1 0"], Exits(Exit(c, exec, 0)));
        await exec.Exited.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task AnExecThatFailsToStart_IsStoppedWith127_ReleasingItsWaiters_AndItsExitIsClaimed()
    {
        var c = Container();
        c.Start();
        var exec = AddExec(c, "e1");
        _control.Failures["exec"] = CsrtException.Failed("exec: no such file");
        Assert.Throws<CsrtException>(() => c.StartExec("e1"));
        await exec.Exited.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(127u, exec.ExitStatus);
        Assert.Equal(ProcessStatus.Stopped, exec.Status);
        Assert.False(exec.ClaimExit());
        c.DeleteExec("e1");
    }

    [Fact]
    public async Task AnExecDeletedWithoutEverRunning_AnswersItsWaitWithStatus0()
    {
        var c = Container();
        var exec = AddExec(c, "e1");
        var waiter = exec.Exited;
        c.DeleteExec("e1");
        await waiter.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(0u, exec.ExitStatus);
        Assert.Equal(ProcessStatus.Deleted, exec.Status);
    }

    [Fact]
    public void NoExecStartsOnceTheInitHasStopped()
    {
        var c = Container();
        c.Start();
        AddExec(c, "e1");
        Exit(c, c.Init, 0);
        Refused(ErrorKind.FailedPrecondition, "container c1 init process is not running", () => c.StartExec("e1"));
        Assert.DoesNotContain(_control.Calls, call => call.StartsWith("exec", StringComparison.Ordinal));
    }

    [Fact]
    public void PauseAndResume_ReturnTheirEvents_AndMoveTheInit()
    {
        var c = Container();
        c.Start();
        Assert.Equal("/tasks/paused", Assert.Single(c.Pause()).Topic);
        Assert.Equal(ProcessStatus.Paused, c.Init.Status);
        Refused(ErrorKind.FailedPrecondition, "cannot pause a paused process", () => c.Pause());
        Refused(ErrorKind.FailedPrecondition, "cannot delete a paused process", () => c.Delete());
        Assert.Equal("/tasks/resumed", Assert.Single(c.Resume()).Topic);
        Assert.Equal(ProcessStatus.Running, c.Init.Status);
        Refused(ErrorKind.FailedPrecondition, "cannot resume a running process", () => c.Resume());
        Assert.Equal(["start c1", "pause c1", "resume c1"], _control.Calls);
    }

    [Fact]
    public void AFailedFreeze_LeavesTheInitRunning_AndAFailedThawLeavesItPaused()
    {
        var c = Container();
        c.Start();
        _control.Failures["pause"] = CsrtException.Failed("freezer.state: EBUSY");
        Assert.Throws<CsrtException>(() => c.Pause());
        Assert.Equal(ProcessStatus.Running, c.Init.Status);
        c.Pause();
        _control.Failures["resume"] = CsrtException.Failed("freezer.state: EBUSY");
        Assert.Throws<CsrtException>(() => c.Resume());
        Assert.Equal(ProcessStatus.Paused, c.Init.Status);
    }

    [Fact]
    public void APausedInitThatExits_IsStopped_AndCanBeDeleted()
    {
        var c = Container();
        c.Start();
        c.Pause();
        Assert.Equal(["exit c1 137"], Exits(Exit(c, c.Init, 137)));
        Assert.Equal(ProcessStatus.Stopped, c.Init.Status);
        c.Delete();
    }

    [Fact]
    public void Delete_RemovesTheContainerThroughTheRuntime_ReturnsTaskDelete_AndNoExitFollows()
    {
        var c = Container();
        c.Start();
        var exec = StartExec(c, "e1");
        Refused(ErrorKind.FailedPrecondition, "cannot delete a running process", () => c.Delete());
        Assert.Equal(["exit e1 9"], Exits(Exit(c, exec, 9)));
        Assert.Equal(["exit c1 0"], Exits(Exit(c, c.Init, 0)));
        var deleted = Assert.IsType<Ev.TaskDelete>(Assert.Single(c.Delete()).Message);
        Assert.Equal(42u, deleted.Pid);
        Assert.Equal(ProcessStatus.Deleted, c.Init.Status);
        Assert.Contains("delete c1", _control.Calls);
        Refused(ErrorKind.NotFound, "container not created", () => c.Delete());
    }

    [Fact]
    public void ACreatedContainerCanBeDeleted_AndItsInitsLateExitPublishesNothing()
    {
        var c = Container();
        c.Delete();
        Assert.Empty(Exit(c, c.Init, 137));
        Assert.Equal(ProcessStatus.Deleted, c.Init.Status);
        Assert.True(c.Init.Exited.IsCompleted);
    }

    [Fact]
    public void AFailedRuntimeDelete_LeavesTheInitStopped_SoDeleteCanBeRetried()
    {
        var c = Container();
        c.Start();
        Exit(c, c.Init, 0);
        _control.Failures["delete"] = CsrtException.Failed("rmdir: EBUSY");
        Assert.Throws<CsrtException>(() => c.Delete());
        Assert.Equal(ProcessStatus.Stopped, c.Init.Status);
        c.Delete();
    }

    [Fact]
    public void Kill_GoesByTheStateOfTheProcessNamed()
    {
        var c = Container();
        c.Start();
        var exec = AddExec(c, "e1");
        Refused(ErrorKind.FailedPrecondition, "process not created", () => c.Kill("e1", 9, all: false));
        c.StartExec("e1");
        c.Kill("e1", 15, all: false);
        c.Kill("", 15, all: false);
        Refused(ErrorKind.NotFound, "process does not exist nobody", () => c.Kill("nobody", 9, all: false));
        Assert.Equal(["start c1", "exec c1", $"signal {exec.Pid} 15", "kill c1 15"], _control.Calls);
    }

    [Fact]
    public void AnExitIsClaimedOnce_EvenWhenTheReaperAndTheSpawnerBothSeeIt()
    {
        var c = Container();
        var claims = 0;
        Parallel.For(0, 64, _ =>
        {
            if (c.Init.ClaimExit())
                Interlocked.Increment(ref claims);
        });
        Assert.Equal(1, claims);
    }

    [Fact]
    public void ExitedAtTimestamp_IsAFreshMessageEachTime()
    {
        var c = Container();
        var a = c.Init.ExitedAtTimestamp();
        a.Seconds = 1;
        Assert.Equal(Timestamps.GoZeroSeconds, c.Init.ExitedAtTimestamp().Seconds);
    }
}
