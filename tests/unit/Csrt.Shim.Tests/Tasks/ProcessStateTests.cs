using Csrt.Runtime.Errors;
using Csrt.Shim.Io;
using Csrt.Shim.Tasks;
using Xunit;

namespace Csrt.Shim.Tests.Tasks;

/// <summary>
/// The state objects one by one (containerd's init_state.go/exec_state.go): every operation in
/// every state either gives the next state or is refused with the kind and the words clients see.
/// </summary>
public sealed class ProcessStateTests
{
    private static readonly Dictionary<string, ProcessState> States = new()
    {
        ["reserved"] = ProcessState.Reserved,
        ["init created"] = InitStates.Created,
        ["init running"] = InitStates.Running,
        ["init pausing"] = InitStates.Pausing,
        ["init paused"] = InitStates.Paused,
        ["exec created"] = ExecStates.Created,
        ["exec running"] = ExecStates.Running,
        ["stopped"] = ProcessState.Stopped,
        ["deleted"] = ProcessState.Deleted,
    };

    public static TheoryData<string> AllStates() => new(States.Keys);

    private static InitProcess Init() => new("c1", ProcessIo.Open("c1", "default", "", "", "", false), "/run/b/c1", privatePidNamespace: true) { Pid = 42 };

    private static ExecProcess Exec() => new("c1", "e1", new Csrt.Runtime.Spec.Process()) { Pid = 43 };

    private static void Refused(ErrorKind kind, string message, Action operation)
    {
        var e = Assert.Throws<CsrtException>(operation);
        Assert.Equal(kind, e.Kind);
        Assert.Equal(message, e.Message);
    }

    private static string Word(string state) => state.Split(' ')[^1];

    [Theory]
    [MemberData(nameof(AllStates))]
    public void Start_MovesACreatedInitOrExecToRunning_AndIsRefusedInEveryOtherState(string state)
    {
        var s = States[state];
        if (state == "init created")
            Assert.Same(InitStates.Running, s.Start());
        else if (state == "exec created")
            Assert.Same(ExecStates.Running, s.Start());
        else
            Refused(ErrorKind.FailedPrecondition, $"cannot start a {Word(state)} process", () => s.Start());
    }

    [Theory]
    [MemberData(nameof(AllStates))]
    public void Open_MakesAReservedExecCreated_AndIsRefusedInEveryOtherState(string state)
    {
        var s = States[state];
        if (state == "reserved")
            Assert.Same(ExecStates.Created, s.Open());
        else
            Refused(ErrorKind.FailedPrecondition, $"cannot open a {Word(state)} process", () => s.Open());
    }

    [Theory]
    [MemberData(nameof(AllStates))]
    public void ExecIn_IsAllowedOnlyInACreatedOrRunningInit(string state)
    {
        var s = States[state];
        if (state is "init created" or "init running")
            s.ExecIn();
        else
            Refused(ErrorKind.FailedPrecondition, $"cannot exec in a {Word(state)} process", s.ExecIn);
    }

    [Theory]
    [MemberData(nameof(AllStates))]
    public void PauseAndResume_GoRunningPausingPausedRunning_AndAreRefusedElsewhere(string state)
    {
        var s = States[state];
        if (state == "init running")
            Assert.Same(InitStates.Pausing, s.Pause());
        else
            Refused(ErrorKind.FailedPrecondition, $"cannot pause a {Word(state)} process", () => s.Pause());
        if (state == "init pausing")
        {
            Assert.Same(InitStates.Paused, s.Paused(frozen: true));
            Assert.Same(InitStates.Running, s.Paused(frozen: false));
        }
        else
        {
            Refused(ErrorKind.FailedPrecondition, $"cannot finish pausing a {Word(state)} process", () => s.Paused(frozen: true));
        }
        if (state == "init paused")
            Assert.Same(InitStates.Running, s.Resume());
        else
            Refused(ErrorKind.FailedPrecondition, $"cannot resume a {Word(state)} process", () => s.Resume());
    }

    [Theory]
    [MemberData(nameof(AllStates))]
    public void Delete_IsAllowedWhenCreatedOrStopped_NotFoundWhenDeleted_RefusedOtherwise(string state)
    {
        var s = States[state];
        var p = state.StartsWith("exec", StringComparison.Ordinal) ? (ShimProcess)Exec() : Init();
        if (state is "init created" or "exec created" or "stopped")
            Assert.Same(ProcessState.Deleted, s.Delete(p));
        else if (state == "deleted")
        {
            Refused(ErrorKind.NotFound, "container not created", () => s.Delete(Init()));
            Refused(ErrorKind.NotFound, "process does not exist e1", () => s.Delete(Exec()));
        }
        else
            Refused(ErrorKind.FailedPrecondition, $"cannot delete a {Word(state)} process", () => s.Delete(p));
    }

    [Theory]
    [MemberData(nameof(AllStates))]
    public void Exit_StopsTheProcess_UnlessItIsDeleted(string state) =>
        Assert.Same(state == "deleted" ? ProcessState.Deleted : ProcessState.Stopped, States[state].Exit());

    [Theory]
    [InlineData("init created")]
    [InlineData("init running")]
    [InlineData("init pausing")]
    [InlineData("init paused")]
    public void KillingALiveInit_GoesThroughTheRuntime(string state)
    {
        var control = new FakeControl();
        States[state].Kill(Init(), control, 15, all: false);
        Assert.Equal(["kill c1 15"], control.Calls);
    }

    [Theory]
    [InlineData("stopped")]
    [InlineData("deleted")]
    public void KillingAGoneInit_IsNotFound_ButKillAllStillReachesWhatIsLeftInItsCgroup(string state)
    {
        var control = new FakeControl();
        Refused(ErrorKind.NotFound, "process already finished", () => States[state].Kill(Init(), control, 15, all: false));
        Assert.Empty(control.Calls);
        States[state].Kill(Init(), control, 9, all: true);
        Assert.Equal(["kill c1 9 all"], control.Calls);
    }

    [Theory]
    [InlineData("stopped")]
    [InlineData("deleted")]
    public void KillingAGoneExec_IsNotFound_EvenWithAll(string state)
    {
        var control = new FakeControl();
        Refused(ErrorKind.NotFound, "process already finished", () => States[state].Kill(Exec(), control, 9, all: true));
        Assert.Empty(control.Calls);
    }

    [Fact]
    public void KillingACreatedExec_IsAFailedPrecondition()
    {
        var control = new FakeControl();
        Refused(ErrorKind.FailedPrecondition, "process not created", () => ExecStates.Created.Kill(Exec(), control, 9, all: false));
        Assert.Empty(control.Calls);
    }

    [Fact]
    public void KillingARunningExec_SignalsItsPid_AndIsNotFoundWhenItIsGone()
    {
        var control = new FakeControl();
        ExecStates.Running.Kill(Exec(), control, 15, all: false);
        control.ExecAlive = false;
        Refused(ErrorKind.NotFound, "process already finished", () => ExecStates.Running.Kill(Exec(), control, 15, all: false));
        Assert.Equal(["signal 43 15", "signal 43 15"], control.Calls);
    }

    [Fact]
    public void AReservedIdCannotBeKilled()
    {
        Refused(ErrorKind.FailedPrecondition, "cannot kill a reserved process", () => ProcessState.Reserved.Kill(Exec(), new FakeControl(), 9, all: false));
    }

    [Fact]
    public void TheRuntimesWordsForAGoneContainer_BecomeTheRuncShims()
    {
        // A kill racing with the init's exit (the runtime sees it stopped) or with a delete.
        var control = new FakeControl();
        control.Failures["kill"] = new Csrt.Runtime.State.InvalidContainerStateException("c1", Csrt.Runtime.Spec.ContainerStatus.Stopped, "kill");
        Refused(ErrorKind.NotFound, "process already finished", () => InitStates.Running.Kill(Init(), control, 9, all: false));
        control.Failures["kill"] = new Csrt.Runtime.State.ContainerNotFoundException("c1");
        Refused(ErrorKind.NotFound, "no such container", () => InitStates.Running.Kill(Init(), control, 9, all: false));
    }

    [Fact]
    public void AnyOtherRuntimeFailureOfAKill_PassesThroughUnchanged()
    {
        var control = new FakeControl();
        var failure = CsrtException.Failed("kill(2): EPERM");
        control.Failures["kill"] = failure;
        Assert.Same(failure, Assert.Throws<CsrtException>(() => InitStates.Running.Kill(Init(), control, 9, all: false)));
    }
}
