using System.CommandLine;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.Spec;

namespace Csrt.Cli;

/// <summary>The runc-compatible command tree. Each command parses its flags and calls one
/// runtime-core operation; errors become a message on stderr (and in --log) and exit code 1.</summary>
internal static class CommandLine
{
    internal static readonly Option<string> Root = new("--root")
    {
        Description = "root directory for storage of container state (this should be located in tmpfs)",
        DefaultValueFactory = _ => ContainerRuntime.DefaultStateRoot,
        Recursive = true,
    };

    internal static readonly Option<string?> Log = new("--log") { Description = "set the log file to write csrt logs to (default: stderr only)", Recursive = true };

    internal static readonly Option<string> LogFormat = new("--log-format")
    {
        Description = "set the log format ('text' (default), or 'json')",
        DefaultValueFactory = _ => "text",
        Recursive = true,
    };

    internal static readonly Option<bool> Debug = new("--debug") { Description = "enable debug logging", Recursive = true };

    internal static readonly Option<bool> SystemdCgroup = new("--systemd-cgroup")
    {
        Description = "use the systemd cgroup driver: linux.cgroupsPath is \"slice:prefix:name\" and the container a transient scope (cgroup v2 hosts with systemd as init)",
        Recursive = true,
    };

    internal static int Run(string[] args)
    {
        var root = new RootCommand("csrt: an OCI container runtime with a runc-compatible command line");
        root.AddOptions(Root, Log, LogFormat, Debug, SystemdCgroup);
        foreach (var command in new[]
                 {
                     LifecycleCommands.Create(), LifecycleCommands.Start(), LifecycleCommands.RunCommand(),
                     LifecycleCommands.State(), LifecycleCommands.Kill(), LifecycleCommands.Delete(),
                     ExecCommand.Build(), InfoCommands.List(), InfoCommands.Ps(), InfoCommands.Spec(),
                     InfoCommands.Features(), ResourceCommands.Pause(), ResourceCommands.Resume(),
                     ResourceCommands.Update(), ResourceCommands.Events(), FnCommand.Build(),
                 })
            root.Subcommands.Add(command);
        return root.Parse(ArgumentSplitter.Prepare(args)).Invoke();
    }

    /// <summary>The container id argument of every command that acts on one container.</summary>
    internal static Argument<string> IdArgument() => new("container-id") { Description = "the container's id, unique on this host" };

    /// <summary>A command that takes the container id alone and runs one runtime operation on it.</summary>
    internal static Command OnContainer(string name, string description, Action<ContainerRuntime, string> operation)
    {
        var c = new Command(name, description);
        var id = IdArgument();
        c.Arguments.Add(id);
        c.SetAction(parse => Act(parse, ctx =>
        {
            operation(ctx.Runtime, ctx.Get(id));
            return 0;
        }));
        return c;
    }

    internal static void AddOptions(this Command c, params Option[] options)
    {
        foreach (var o in options)
            c.Options.Add(o);
    }

    /// <summary>Runs a command body with the global options, turning failures into runc-style errors.</summary>
    /// <param name="failure">The exit code of a failed command: 1, except `exec`, which exits 255
    /// when the process could not be started (as runc does; its own exit codes are 0-255 otherwise).</param>
    internal static int Act(ParseResult parse, Func<CliContext, int> body, int failure = 1)
    {
        CliLog log;
        try
        {
            log = new CliLog(parse.GetValue(Log), parse.GetValue(LogFormat) ?? "text", parse.GetValue(Debug));
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine("csrt: " + e.Message);
            return failure;
        }
        try
        {
            var context = new CliContext(parse, log);
            log.Debug($"{parse.CommandResult.Command.Name}: {string.Join(' ', parse.Tokens.Select(t => t.Value))} (pid {Environment.ProcessId})");
            var code = body(context);
            log.Debug($"{parse.CommandResult.Command.Name}: exit status {code}");
            return code;
        }
        catch (Exception e)
        {
            log.Debug($"{parse.CommandResult.Command.Name}: {e}");
            var (code, message) = Report(e, failure);
            log.Error(message);
            return code;
        }
    }

    /// <summary>
    /// The exit code and the message of a failed command: runc exits 1 whatever the
    /// <see cref="ErrorKind"/>, and shows an expected failure's message alone.
    /// </summary>
    internal static (int Code, string Message) Report(Exception e, int failure = 1) => (failure, CsrtException.Describe(e));
}

/// <summary>Per-invocation state: the parse result, the log, and the runtime over --root.</summary>
internal sealed class CliContext
{
    private ContainerRuntime? _runtime;

    public CliContext(ParseResult parse, CliLog log)
    {
        Parse = parse;
        Log = log;
    }

    public ParseResult Parse { get; }

    public CliLog Log { get; }

    public ContainerRuntime Runtime => _runtime ??= new ContainerRuntime(new RuntimeOptions
    {
        Root = Parse.GetValue(CommandLine.Root),
        SystemdCgroup = Parse.GetValue(CommandLine.SystemdCgroup),
        Warning = WarningsAsDebug ? Log.Debug : Log.Warning,
        InitBinary = () => InitBinary.Get(_runtime!.StateRoot),
    });

    /// <summary>The runtime's warnings go to the debug log only (`fn run`: stderr is the function's).</summary>
    public bool WarningsAsDebug { get; set; }

    public T Get<T>(Option<T> option) => Parse.GetValue(option)!;

    public T Get<T>(Argument<T> argument) => Parse.GetValue(argument)!;

    public static void Write(string text) => Console.OpenStandardOutput().Write(System.Text.Encoding.UTF8.GetBytes(text));

    public static void Write(byte[] bytes) => Console.OpenStandardOutput().Write(bytes);
}

/// <summary>
/// runc (urfave/cli) stops reading flags at the first positional argument, so
/// `csrt exec c1 ps -ef` runs `ps -ef`. System.CommandLine keeps parsing, so for the commands that
/// take a command line after the container id a "--" is inserted after the id.
/// </summary>
internal static class ArgumentSplitter
{
    /// <summary>Flags of exec and ps that take a value (their next token is not positional).</summary>
    private static readonly HashSet<string> ValueFlags = new(StringComparer.Ordinal)
    {
        "--console-socket", "--cwd", "--env", "-e", "--user", "-u", "--additional-gids", "-g", "--process", "-p",
        "--pid-file", "--process-label", "--apparmor", "--cap", "-c", "--preserve-fds", "--cgroup", "--format", "-f",
        "--root", "--log", "--log-format",
    };

    public static string[] Prepare(string[] args)
    {
        var i = 0;
        // Global flags before the command.
        while (i < args.Length && args[i].StartsWith('-'))
            i += ValueFlags.Contains(args[i]) ? 2 : 1;
        if (i >= args.Length || args[i] is not ("exec" or "ps"))
            return args;
        for (var j = i + 1; j < args.Length; j++)
        {
            if (args[j] == "--")
                return args;
            if (args[j].StartsWith('-'))
            {
                if (ValueFlags.Contains(args[j]) && !args[j].Contains('='))
                    j++;
                continue;
            }
            // args[j] is the container id: everything after it belongs to the command.
            if (j + 1 >= args.Length)
                return args;
            return args.Take(j + 1).Append("--").Concat(args.Skip(j + 1)).ToArray();
        }
        return args;
    }
}
