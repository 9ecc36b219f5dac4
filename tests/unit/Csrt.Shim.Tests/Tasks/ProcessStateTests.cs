using Containerd;
using Csrt.Runtime.Errors;
using Csrt.Shim.Io;
using Csrt.Shim.Tasks;
using Xunit;

namespace Csrt.Shim.Tests.Tasks;

/// <summary>
/// The process state objects of the task service (containerd's init_state.go/exec_state.go, protocol
/// doc §3.3): illegal operations are refused with the state in the message, exits are recorded once,
/// waiters are released, and a process that has not exited reports Go's zero time.
/// </summary>
public sealed class ProcessStateTests
{
    private static InitProcess Init() => new("c1", ProcessIo.Open("c1", "default", "", "", "", false), "/run/b/c1", privatePidNamespace: true);

    private static ExecProcess Exec() => new("c1", "e1", ProcessIo.Open("e1", "default", "", "", "", false), new Csrt.Runtime.Spec.Process());

    [Fact]
    public void ANewProcess_IsCreated_NotExited_AndReportsGoZeroTime()
    {
        var p = Init();
        Assert.Equal(ProcessState.Created, p.State);
        Assert.True(p.IsInit);
        Assert.Equal("c1", p.Id);
        Assert.Null(p.ExitedAt);
        Assert.Equal(0u, p.ExitStatus);
        Assert.False(p.Exited.IsCompleted);
        var t = p.ExitedAtTimestamp();
        Assert.Equal(Timestamps.GoZeroSeconds, t.Seconds);
        Assert.Equal(0, t.Nanos);
    }

    [Fact]
    public void AnExec_IsKnownByItsExecId()
    {
        var e = Exec();
        Assert.False(e.IsInit);
        Assert.Equal("e1", e.Id);
        Assert.Equal("c1", e.ContainerId);
    }

    [Theory]
    [InlineData(ProcessState.Running, "start", "cannot start a running process")]
    [InlineData(ProcessState.Stopped, "start", "cannot start a stopped process")]
    [InlineData(ProcessState.Paused, "delete", "cannot delete a paused process")]
    [InlineData(ProcessState.Created, "pause", "cannot pause a created process")]
    public void RequireRefusesOtherStates_NamingTheOperationAndTheState(ProcessState state, string operation, string message)
    {
        var p = Init();
        p.State = state;
        var allowed = operation switch
        {
            "start" => new[] { ProcessState.Created },
            "delete" => new[] { ProcessState.Created, ProcessState.Stopped },
            _ => new[] { ProcessState.Running },
        };
        var e = Assert.Throws<CsrtException>(() => p.Require(allowed, operation));
        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void RequireAcceptsTheAllowedStates()
    {
        var p = Init();
        p.Require([ProcessState.Created], "start");
        p.State = ProcessState.Stopped;
        p.Require([ProcessState.Created, ProcessState.Stopped], "delete");
    }

    [Fact]
    public async Task SetExited_RecordsStatusAndTime_StopsTheProcess_AndReleasesWaiters()
    {
        var p = Init();
        p.State = ProcessState.Running;
        var waiter = p.Exited;
        var before = DateTimeOffset.UtcNow;
        p.SetExited(137);
        await waiter.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(ProcessState.Stopped, p.State);
        Assert.Equal(137u, p.ExitStatus);
        Assert.InRange(p.ExitedAt!.Value, before, DateTimeOffset.UtcNow);
        Assert.Equal(p.ExitedAt.Value, p.ExitedAtTimestamp().ToDateTimeOffset());
    }

    [Fact]
    public void APausedProcessThatExits_IsStopped()
    {
        var p = Init();
        p.State = ProcessState.Paused;
        p.SetExited(0);
        Assert.Equal(ProcessState.Stopped, p.State);
    }

    [Fact]
    public void Pause_GoesThroughPausingToPaused()
    {
        var p = Init();
        p.State = ProcessState.Running;
        p.BeginPause();
        Assert.Equal(ProcessState.Pausing, p.State);
        Assert.True(p.EndPause(frozen: true));
        Assert.Equal(ProcessState.Paused, p.State);
    }

    [Fact]
    public void BeginPause_RefusesAProcessThatIsNotRunning()
    {
        var p = Init();
        var e = Assert.Throws<CsrtException>(p.BeginPause);
        Assert.Equal(ErrorKind.FailedPrecondition, e.Kind);
        Assert.Equal("cannot pause a created process", e.Message);
        Assert.Equal(ProcessState.Created, p.State);
    }

    [Fact]
    public void AnExitDuringTheFreeze_StaysStopped_SoTheProcessCanBeDeleted()
    {
        var p = Init();
        p.State = ProcessState.Running;
        p.BeginPause();
        p.SetExited(137);
        Assert.False(p.EndPause(frozen: true));
        Assert.Equal(ProcessState.Stopped, p.State);
        p.Require([ProcessState.Created, ProcessState.Stopped], "delete");
    }

    [Fact]
    public void AFailedFreeze_GoesBackToRunning_UnlessTheProcessExitedMeanwhile()
    {
        var running = Init();
        running.State = ProcessState.Running;
        running.BeginPause();
        Assert.True(running.EndPause(frozen: false));
        Assert.Equal(ProcessState.Running, running.State);

        var exited = Init();
        exited.State = ProcessState.Running;
        exited.BeginPause();
        exited.SetExited(1);
        Assert.False(exited.EndPause(frozen: false));
        Assert.Equal(ProcessState.Stopped, exited.State);
    }

    [Fact]
    public void Resume_MakesAPausedProcessRunning_ButAnExitDuringTheThawStaysStopped()
    {
        var resumed = Init();
        resumed.State = ProcessState.Paused;
        Assert.True(resumed.EndResume());
        Assert.Equal(ProcessState.Running, resumed.State);

        var exited = Init();
        exited.State = ProcessState.Paused;
        exited.SetExited(137);
        Assert.False(exited.EndResume());
        Assert.Equal(ProcessState.Stopped, exited.State);
    }

    [Fact]
    public void ADeletedProcessStaysDeleted_WhenItsExitArrivesLate()
    {
        var p = Exec();
        p.State = ProcessState.Deleted;
        p.SetExited(1);
        Assert.Equal(ProcessState.Deleted, p.State);
        Assert.True(p.Exited.IsCompleted);
    }

    [Fact]
    public void AnExitIsClaimedOnce_EvenWhenTheReaperAndTheSpawnerBothSeeIt()
    {
        var p = Exec();
        var claims = 0;
        Parallel.For(0, 64, _ =>
        {
            if (p.ClaimExit())
                Interlocked.Increment(ref claims);
        });
        Assert.Equal(1, claims);
    }

    [Fact]
    public void ExitedAtTimestamp_IsAFreshMessageEachTime()
    {
        var p = Init();
        var a = p.ExitedAtTimestamp();
        a.Seconds = 1;
        Assert.Equal(Timestamps.GoZeroSeconds, p.ExitedAtTimestamp().Seconds);
    }
}
