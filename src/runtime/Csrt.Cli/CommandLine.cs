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
        args = ArgumentSplitter.Prepare(args);
        // Nearly every invocation names one command with arguments that parse: that command alone
        // under the global options parses them the same way. The whole tree is built for help,
        // --version and any argument error, so every message and the help output come from it as
        // before; its RootCommand's help option reads System.CommandLine's localized resources
        // (a ResourceManager, found through attribute reflection) as it is built.
        if (Branch(args) is { } branch)
        {
            var parse = branch.Parse(args);
            if (parse.Errors.Count == 0)
                return parse.Invoke();
        }
        var root = new RootCommand("csrt: an OCI container runtime with a runc-compatible command line");
        root.AddOptions(GlobalOptions());
        foreach (var name in CommandNames)
            root.Subcommands.Add(Build(name)!);
        return root.Parse(args).Invoke();
    }

    /// <summary>The subcommands in the order the help lists them.</summary>
    private static readonly string[] CommandNames =
    [
        "create", "start", "run", "state", "kill", "delete", "exec", "list", "ps", "spec", "features",
        "pause", "resume", "update", "events", "fn",
    ];

    private static Option[] GlobalOptions() => [Root, Log, LogFormat, Debug, SystemdCgroup];

    private static Command? Build(string name) => name switch
    {
        "create" => LifecycleCommands.Create(),
        "start" => LifecycleCommands.Start(),
        "run" => LifecycleCommands.RunCommand(),
        "state" => LifecycleCommands.State(),
        "kill" => LifecycleCommands.Kill(),
        "delete" => LifecycleCommands.Delete(),
        "exec" => ExecCommand.Build(),
        "list" => InfoCommands.List(),
        "ps" => InfoCommands.Ps(),
        "spec" => InfoCommands.Spec(),
        "features" => InfoCommands.Features(),
        "pause" => ResourceCommands.Pause(),
        "resume" => ResourceCommands.Resume(),
        "update" => ResourceCommands.Update(),
        "events" => ResourceCommands.Events(),
        "fn" => FnCommand.Build(),
        _ => null,
    };

    /// <summary>A root with the global options and the one command the arguments name; null when
    /// they name none, or hold a token only the whole tree gives a meaning: the help and version
    /// options (an unknown token would otherwise become an argument value) or a response file.</summary>
    internal static Command? Branch(string[] args)
    {
        foreach (var arg in args)
        {
            if (arg is "-h" or "/h" or "--help" or "-?" or "/?" or "--version" || arg.StartsWith('@'))
                return null;
        }
        var i = ArgumentSplitter.CommandIndex(args);
        if (i >= args.Length || Build(args[i]) is not { } command)
            return null;
        var root = new Command("csrt");
        root.AddOptions(GlobalOptions());
        root.Subcommands.Add(command);
        return root;
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
            // The messages are built only for --debug: every command passes here.
            if (log.DebugEnabled)
                log.Debug($"{parse.CommandResult.Command.Name}: {string.Join(' ', parse.Tokens.Select(t => t.Value))} (pid {Environment.ProcessId})");
            var code = body(context);
            if (log.DebugEnabled)
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

    public static void Write(string text) => StandardStreams.Out(System.Text.Encoding.UTF8.GetBytes(text));

    public static void Write(byte[] bytes) => StandardStreams.Out(bytes);
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

    /// <summary>The index of the command's name: after the global flags (args.Length when none).</summary>
    public static int CommandIndex(string[] args)
    {
        var i = 0;
        while (i < args.Length && args[i].StartsWith('-'))
            i += ValueFlags.Contains(args[i]) ? 2 : 1;
        return Math.Min(i, args.Length);
    }

    public static string[] Prepare(string[] args)
    {
        var i = CommandIndex(args);
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
