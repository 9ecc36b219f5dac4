using System.CommandLine;
using Csrt.Linux;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.Spec;

namespace Csrt.Cli;

/// <summary>create, start, run, state, kill, delete.</summary>
internal static class LifecycleCommands
{
    private sealed class CreateFlags
    {
        public readonly Option<string> Bundle = new("--bundle", "-b") { Description = "path to the root of the bundle directory (default: the current directory)", DefaultValueFactory = _ => "." };
        public readonly Option<string?> ConsoleSocket = new("--console-socket") { Description = "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" };
        public readonly Option<string?> PidFile = new("--pid-file") { Description = "specify the file to write the process id to" };
        public readonly Option<bool> NoPivot = new("--no-pivot") { Description = "do not use pivot root to jail process inside rootfs" };
        public readonly Option<bool> NoNewKeyring = new("--no-new-keyring") { Description = "do not create a new session keyring for the container" };
        public readonly Option<int> PreserveFds = new("--preserve-fds") { Description = "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)" };

        public void AddTo(Command c)
        {
            c.AddOptions(Bundle, ConsoleSocket, PidFile, NoPivot, NoNewKeyring, PreserveFds);
        }

        /// <param name="consoleSocket">A connected console socket to use instead of --console-socket.</param>
        public CreateOptions ToOptions(CliContext ctx, string id, RuntimeSpec? spec = null, FileDescriptor? consoleSocket = null) => new()
        {
            Id = id,
            Spec = spec,
            Bundle = ctx.Get(Bundle),
            ConsoleSocketPath = consoleSocket is null ? ctx.Parse.GetValue(ConsoleSocket) : null,
            ConsoleSocket = consoleSocket,
            PidFile = ctx.Parse.GetValue(PidFile),
            NoPivot = ctx.Get(NoPivot),
            NoNewKeyring = ctx.Get(NoNewKeyring),
            PreserveFds = PreservedFdCount(ctx.Get(PreserveFds)),
        };
    }

    /// <summary>--preserve-fds plus the systemd socket-activation fds ($LISTEN_FDS), as runc counts them.</summary>
    private static int PreservedFdCount(int requested)
    {
        if (requested < 0)
            throw new ArgumentException("--preserve-fds: expected a number ≥ 0");
        var listen = Environment.GetEnvironmentVariable("LISTEN_FDS");
        return requested + (int.TryParse(listen, out var n) && n > 0 ? n : 0);
    }

    public static Command Create()
    {
        var c = new Command("create", "create a container (its init waits for `start`)");
        var id = CommandLine.IdArgument();
        var flags = new CreateFlags();
        flags.AddTo(c);
        c.Arguments.Add(id);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            ctx.Runtime.Create(flags.ToOptions(ctx, ctx.Get(id)));
            return 0;
        }));
        return c;
    }

    public static Command Start() =>
        CommandLine.OnContainer("start", "executes the user defined process in a created container", static (runtime, id) => runtime.Start(id));

    public static Command RunCommand()
    {
        var c = new Command("run", "create and run a container; in the foreground by default, with its exit status as ours");
        var id = CommandLine.IdArgument();
        var flags = new CreateFlags();
        var detach = new Option<bool>("--detach", "-d") { Description = "detach from the container's process" };
        var keep = new Option<bool>("--keep") { Description = "do not delete the container after it exits" };
        var noSubreaper = new Option<bool>("--no-subreaper") { Description = "disable the use of the subreaper used to reap reparented processes" };
        flags.AddTo(c);
        c.AddOptions(detach, keep, noSubreaper);
        c.Arguments.Add(id);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            var containerId = ctx.Get(id);
            var spec = SpecLoader.Load(Path.Combine(Path.GetFullPath(ctx.Get(flags.Bundle)), "config.json"));
            var terminal = spec.Process?.Terminal == true;
            var detached = ctx.Get(detach);
            if (detached)
            {
                if (terminal && ctx.Parse.GetValue(flags.ConsoleSocket) is null)
                    throw new ArgumentException("cannot allocate a tty when detaching (-d) without --console-socket");
                ctx.Runtime.Create(flags.ToOptions(ctx, containerId, spec)); // parsed once
                ctx.Runtime.Start(containerId);
                return 0;
            }
            if (!ctx.Get(noSubreaper))
                ProcessControl.SetChildSubreaper(true);
            // In the foreground with a terminal, csrt itself takes the pty master and relays it.
            FileDescriptor? master = null;
            var (ours, theirs) = terminal && ctx.Parse.GetValue(flags.ConsoleSocket) is null
                ? UnixSockets.Pair(UnixSockets.Kind.Stream)
                : ((FileDescriptor?)null, (FileDescriptor?)null);
            int status;
            using var foreground = Foreground.CatchSignals();
            try
            {
                var record = ctx.Runtime.Create(flags.ToOptions(ctx, containerId, spec, consoleSocket: theirs));
                theirs?.Dispose();
                if (ours is not null)
                    master = ConsoleRelay.ReceiveMaster(ours);
                try
                {
                    ctx.Runtime.Start(containerId);
                }
                catch
                {
                    ctx.Runtime.Delete(containerId, force: true);
                    throw;
                }
                status = foreground.Wait(record.InitPid, master);
            }
            finally
            {
                ours?.Dispose();
                theirs?.Dispose();
                master?.Dispose();
            }
            if (!ctx.Get(keep))
                ctx.Runtime.Delete(containerId, force: true);
            return status;
        }));
        return c;
    }

    public static Command State()
    {
        var c = new Command("state", "output the state of a container");
        var id = CommandLine.IdArgument();
        c.Arguments.Add(id);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            CliContext.Write(OciStateJson.SerializeForStateCommand(ctx.Runtime.State(ctx.Get(id))));
            CliContext.Write("\n");
            return 0;
        }));
        return c;
    }

    public static Command Kill()
    {
        var c = new Command("kill", "kill sends the specified signal (default: SIGTERM) to the container's init process");
        var id = CommandLine.IdArgument();
        var signal = new Argument<string>("signal") { Description = "a signal name or number", DefaultValueFactory = _ => "SIGTERM" };
        var all = new Option<bool>("--all", "-a") { Description = "send the specified signal to all processes inside the container" };
        c.Arguments.Add(id);
        c.Arguments.Add(signal);
        c.Options.Add(all);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            ctx.Runtime.Kill(ctx.Get(id), Signals.Parse(ctx.Get(signal)), ctx.Get(all));
            return 0;
        }));
        return c;
    }

    public static Command Delete()
    {
        var c = new Command("delete", "delete any resources held by the container, often used with detached containers");
        var id = CommandLine.IdArgument();
        var force = new Option<bool>("--force", "-f") { Description = "forcibly delete the container if it is still running (uses SIGKILL)" };
        c.Arguments.Add(id);
        c.Options.Add(force);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            var containerId = ctx.Get(id);
            try
            {
                ctx.Runtime.Delete(containerId, ctx.Get(force));
            }
            catch (Csrt.Runtime.State.ContainerNotFoundException) when (ctx.Get(force))
            {
                // runc: `delete --force` of a container that does not exist succeeds.
            }
            return 0;
        }));
        return c;
    }
}
