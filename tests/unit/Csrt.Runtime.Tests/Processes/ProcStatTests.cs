using Csrt.Runtime.Processes;
using Xunit;

namespace Csrt.Runtime.Tests.Processes;

/// <summary>/proc/&lt;pid&gt;/stat: state (field 3) and start time (field 22), comm may hold anything.</summary>
public sealed class ProcStatTests
{
    private static string Line(string comm, char state, ulong start) =>
        $"4242 ({comm}) {state} 1 4242 4242 0 -1 4194560 107 0 0 0 0 0 0 0 20 0 1 0 {start} 2252800 187 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

    [Fact]
    public void ALine_GivesStateAndStartTime() =>
        Assert.Equal(new ProcStat('S', 98765), ProcStat.Parse(Line("sleep", 'S', 98765)));

    [Theory]
    [InlineData("csrt:[1:INIT]")]
    [InlineData("a b) Z 9 (c")]
    [InlineData(")")]
    [InlineData("")]
    public void ACommandNameWithSpacesOrParentheses_DoesNotShiftTheFields(string comm) =>
        Assert.Equal(new ProcStat('R', 12), ProcStat.Parse(Line(comm, 'R', 12)));

    [Theory]
    [InlineData("")]
    [InlineData("4242 (sleep")]
    [InlineData("4242 (sleep) S 1 2 3")]
    [InlineData("4242 (sleep) SS 1 4242 4242 0 -1 4194560 107 0 0 0 0 0 0 0 20 0 1 0 5 0")]
    [InlineData("4242 (sleep) S 1 4242 4242 0 -1 4194560 107 0 0 0 0 0 0 0 20 0 1 0 notanumber 0")]
    public void AMalformedLine_IsNull(string text) => Assert.Null(ProcStat.Parse(text));

    [Fact]
    public void IsAlive_IsFalseForAnotherStartTime_OrNoProcess()
    {
        var own = ProcStat.Read(Environment.ProcessId);

        Assert.NotNull(own);
        Assert.True(ProcStat.IsAlive(Environment.ProcessId, own.Value.StartTime));
        Assert.False(ProcStat.IsAlive(Environment.ProcessId, own.Value.StartTime + 1), "a reused pid must not count as our process");
        Assert.False(ProcStat.IsAlive(0, 0));
        Assert.Null(ProcStat.Read(-1));
        Assert.Null(ProcStat.Read(int.MaxValue));
    }
}
