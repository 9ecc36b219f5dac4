using Csrt.Cli;
using Csrt.Runtime.Errors;
using Xunit;

namespace Csrt.Runtime.Tests.Cli;

/// <summary>The pure parts of the csrt command line: argv splitting, sizes, durations, ps filtering, kernel lists.</summary>
public sealed class CliParsingTests
{
    [Theory]
    // runc stops reading flags at the container id: what follows is the command, flags included.
    [InlineData("exec c1 ps -ef", "exec c1 -- ps -ef")]
    [InlineData("--root /r --log /l exec --cwd /tmp -e A=1 c1 sh -c x", "--root /r --log /l exec --cwd /tmp -e A=1 c1 -- sh -c x")]
    [InlineData("exec -t -d c1 sh", "exec -t -d c1 -- sh")]
    [InlineData("exec --env=A=B --user 0:0 c1 id -u", "exec --env=A=B --user 0:0 c1 -- id -u")]
    [InlineData("exec --process p.json c1", "exec --process p.json c1")]
    [InlineData("exec -- c1 true", "exec -- c1 true")]
    [InlineData("ps c1 -o pid,args", "ps c1 -- -o pid,args")]
    [InlineData("ps --format json c1", "ps --format json c1")]
    [InlineData("kill c1 KILL", "kill c1 KILL")]
    [InlineData("run -d c1", "run -d c1")]
    [InlineData("--debug", "--debug")]
    public void Prepare_EndsFlagParsingAfterTheContainerId_ForExecAndPs(string args, string expected) =>
        Assert.Equal(expected.Split(' '), ArgumentSplitter.Prepare(args.Split(' ')));

    [Fact]
    public void Prepare_OfNothing_IsNothing() => Assert.Empty(ArgumentSplitter.Prepare([]));

    [Theory]
    [InlineData("state c1", 0)]
    [InlineData("--root /r --debug state c1", 3)]
    [InlineData("--root=/r state c1", 1)]
    [InlineData("--log /l --log-format json delete -f c1", 4)]
    [InlineData("--root", 1)]
    public void CommandIndex_IsPastTheGlobalFlagsAndTheirValues(string args, int expected) =>
        Assert.Equal(expected, ArgumentSplitter.CommandIndex(args.Split(' ')));

    [Theory]
    [InlineData("state c1", "state")]
    [InlineData("--root /r delete -f c1", "delete")]
    [InlineData("run -d --bundle /b c1", "run")]
    public void Branch_IsTheGlobalOptionsAndTheNamedCommandAlone(string args, string command)
    {
        var root = CommandLine.Branch(args.Split(' '));

        Assert.NotNull(root);
        Assert.Equal(command, Assert.Single(root.Subcommands).Name);
        Assert.Equal(["--root", "--log", "--log-format", "--debug", "--systemd-cgroup"], root.Options.Select(o => o.Name));
    }

    [Theory]
    // Help, version and response files mean something only to the whole tree; so does a name
    // that is no command (its error message lists the commands).
    [InlineData("state c1 --help")]
    [InlineData("kill c1 -h")]
    [InlineData("delete -? c1")]
    [InlineData("state /? c1")]
    [InlineData("--version")]
    [InlineData("state @args.rsp")]
    [InlineData("nosuch c1")]
    [InlineData("--root /r")]
    [InlineData("[suggest] sta")]
    public void Branch_IsNone_WhenOnlyTheWholeTreeCanAnswer(string args) =>
        Assert.Null(CommandLine.Branch(args.Split(' ')));

    [Theory]
    [InlineData("1024", 1024L)]
    [InlineData("512k", 512L << 10)]
    [InlineData("512K", 512L << 10)]
    [InlineData("64m", 64L << 20)]
    [InlineData("64mb", 64L << 20)]
    [InlineData("2g", 2L << 30)]
    [InlineData("1t", 1L << 40)]
    [InlineData("-1", -1L)]
    [InlineData(" 7 ", 7L)]
    public void Bytes_TakesRuncsSizes(string text, long expected) => Assert.Equal(expected, ResourceCommands.Bytes(text, "--memory"));

    [Theory]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("12x")]
    [InlineData("1.5g")]
    [InlineData("-2")]
    public void Bytes_RefusesNonsense_NamingTheFlag(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => ResourceCommands.Bytes(text, "--memory-swap"));

        Assert.Contains("--memory-swap", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_RefusesAnOverflow() =>
        Assert.Throws<OverflowException>(() => ResourceCommands.Bytes("99999999999t", "--memory"));

    [Theory]
    [InlineData("5s", 5_000)]
    [InlineData("500ms", 500)]
    [InlineData("1m", 60_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2h", 7_200_000)]
    [InlineData("250us", 0.25)]
    public void Duration_TakesGoDurations(string text, double milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), ResourceCommands.Duration(text));

    [Theory]
    [InlineData("5")]
    [InlineData("0s")]
    [InlineData("-1s")]
    [InlineData("fast")]
    public void Duration_RefusesWhatIsNotAPositiveDuration(string text) =>
        Assert.Throws<ArgumentException>(() => ResourceCommands.Duration(text));

    private const string PsOutput = """
        UID          PID    PPID  C STIME TTY          TIME CMD
        root           1       0  0 10:00 ?        00:00:01 /sbin/init
        root        4242       1  0 10:01 ?        00:00:00 sleep 1000
        root        4243    4242  0 10:01 ?        00:00:00 sh -c echo 4242
        root       14242       1  0 10:01 ?        00:00:00 other
        """;

    [Fact]
    public void FilterPs_KeepsTheHeaderAndTheContainersPids_ByThePidColumn()
    {
        var filtered = InfoCommands.FilterPs(PsOutput, [4242, 4243]).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(3, filtered.Length);
        Assert.StartsWith("UID", filtered[0]);
        Assert.Contains("sleep 1000", filtered[1], StringComparison.Ordinal);
        Assert.Contains("sh -c echo 4242", filtered[2], StringComparison.Ordinal);
    }

    [Fact]
    public void FilterPs_FindsThePidColumnWherePsPutsIt()
    {
        var output = "  PID COMMAND\n 4242 sleep\n   12 other\n";

        Assert.Equal("  PID COMMAND\n 4242 sleep\n", InfoCommands.FilterPs(output, [4242]));
    }

    [Fact]
    public void FilterPs_WithoutAPidColumn_SaysSo()
    {
        var e = Assert.Throws<CsrtException>(() => InfoCommands.FilterPs("USER COMMAND\nroot sleep\n", [1]));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);

        Assert.Contains("PID", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0-1", new ulong[] { 0, 1 })]
    [InlineData("0,2-4,7", new ulong[] { 0, 2, 3, 4, 7 })]
    [InlineData("3", new ulong[] { 3 })]
    [InlineData("", new ulong[0])]
    [InlineData("x,1", new ulong[] { 1 })]
    public void ExpandList_GivesTheNumbersOfAKernelList(string list, ulong[] expected) =>
        Assert.Equal(expected, EventsJson.ExpandList(list));
}
