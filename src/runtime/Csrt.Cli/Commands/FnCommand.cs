using System.Collections;
using System.CommandLine;
using Csrt.Linux;
using Csrt.Runtime.Functions;
using Csrt.Runtime.Images;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Spec;

namespace Csrt.Cli;

/// <summary>
/// `csrt fn run`: one program in a fresh container that is removed when it ends, from a rootfs
/// directory or an OCI image (oci:DIR[:TAG], oci-archive:FILE[:TAG]); no bundle. `csrt fn spec`
/// prints the config.json the same flags would run, for comparing with other runtimes.
/// </summary>
internal static class FnCommand
{
    private sealed class Flags
    {
        public readonly Option<string?> Rootfs = new("--rootfs") { Description = "the root filesystem directory" };
        public readonly Option<string?> Image = new("--image") { Description = "an OCI image: oci:DIR[:TAG] (image layout) or oci-archive:FILE[:TAG]" };
        public readonly Option<string?> ImageCache = new("--image-cache") { Description = "where images are unpacked (default /var/cache/csrt for root, $XDG_CACHE_HOME/csrt otherwise)" };
        public readonly Option<string> Network = new("--network") { Description = "none (a new network namespace with only lo) or host", DefaultValueFactory = _ => "none" };
        public readonly Option<string[]> Env = new("--env", "-e") { Description = "set an environment variable NAME=VALUE (after the caller's and the image's)" };
        public readonly Option<bool> EnvClear = new("--env-clear") { Description = "do not pass the caller's environment" };
        public readonly Option<string[]> Mount = new("--mount") { Description = "bind-mount a host path: SRC:DST[:ro]" };
        public readonly Option<string?> Memory = new("--memory", "-m") { Description = "memory limit (bytes, or with k/m/g)" };
        public readonly Option<double?> Cpus = new("--cpus") { Description = "CPU limit in CPUs (e.g. 0.5)" };
        public readonly Option<long?> Pids = new("--pids") { Description = "the most processes at once" };
        public readonly Option<bool> Tty = new("--tty", "-t") { Description = "allocate a pseudo-terminal" };
        public readonly Argument<string[]> Command = new("command") { Arity = ArgumentArity.ZeroOrMore, Description = "after --: the command and its arguments (replace the image's Cmd)" };

        public void AddTo(Command c)
        {
            foreach (var o in new Option[] { Rootfs, Image, ImageCache, Network, Env, EnvClear, Mount, Memory, Cpus, Pids, Tty })
                c.Options.Add(o);
            c.Arguments.Add(Command);
        }

        public string CacheRoot(CliContext ctx) =>
            ctx.Parse.GetValue(ImageCache) is { } dir ? Path.GetFullPath(dir) : Csrt.Runtime.Images.ImageCache.DefaultRoot;

        public RuntimeSpec BuildSpec(CliContext ctx)
        {
            var rootfs = ctx.Parse.GetValue(Rootfs);
            var image = ctx.Parse.GetValue(Image);
            if ((rootfs is null) == (image is null))
                throw new ArgumentException("give exactly one of --rootfs DIR and --image oci:DIR[:TAG] | oci-archive:FILE[:TAG]");
            var network = ctx.Get(Network);
            if (network is not ("none" or "host"))
                throw new ArgumentException($"--network \"{network}\": expected none or host");
            OciRunConfig? config = null;
            // One mapping for the unpack and the container: the image's owners are kept through it.
            var userNamespace = Rootless.IsRootless ? UserNamespaceMappings.ForCaller() : null;
            if (image is not null)
            {
                var cache = userNamespace is not null
                    ? Csrt.Runtime.Images.ImageCache.ForRootless(CacheRoot(ctx), userNamespace.Uids, userNamespace.Gids)
                    : Csrt.Runtime.Images.ImageCache.ForRoot(CacheRoot(ctx));
                var prepared = cache.Prepare(ImageReference.Parse(image));
                rootfs = prepared.Rootfs;
                config = prepared.Config;
            }
            var command = ctx.Parse.GetValue(Command) ?? [];
            var cpus = ctx.Parse.GetValue(Cpus);
            if (cpus is <= 0)
                throw new ArgumentException($"--cpus {cpus}: expected a positive number");
            var pids = ctx.Parse.GetValue(Pids);
            if (pids is <= 0)
                throw new ArgumentException($"--pids {pids}: expected a positive number");
            var memory = ctx.Parse.GetValue(Memory);
            return FunctionSpec.Build(new FunctionRequest
            {
                Rootfs = Path.GetFullPath(rootfs!),
                Image = config,
                Args = command.Length > 0 ? command : null,
                CallerEnv = CallerEnvironment(),
                EnvClear = ctx.Get(EnvClear),
                Env = ctx.Parse.GetValue(Env) ?? [],
                HostNetwork = network == "host",
                Mounts = (ctx.Parse.GetValue(Mount) ?? []).Select(FunctionSpec.ParseMount).ToList(),
                MemoryBytes = memory is null ? null : FunctionSpec.ParseSize(memory, "--memory"),
                Cpus = cpus,
                Pids = pids,
                Terminal = ctx.Get(Tty),
                UserNamespace = userNamespace,
            });
        }
    }

    private static List<string> CallerEnvironment()
    {
        var env = new List<string>();
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            env.Add(e.Key + "=" + e.Value);
        env.Sort(StringComparer.Ordinal);
        return env;
    }

    public static Command Build()
    {
        var fn = new Command("fn", "run functions: one program per call in a fresh, read-only, network-less container");
        fn.Subcommands.Add(Run());
        fn.Subcommands.Add(Spec());
        return fn;
    }

    private static Command Run()
    {
        var c = new Command("run", "run a program in a fresh container removed when it ends; exits with its status (128+N on signal N)");
        var flags = new Flags();
        var timeout = new Option<string?>("--timeout") { Description = "kill the program after this long (30, 30s, 500ms, 2m)" };
        flags.AddTo(c);
        c.Options.Add(timeout);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            // The function's stderr is its own: csrt's warnings (a rootless call without a
            // writable cgroup) are shown with --debug only; errors still reach stderr.
            ctx.WarningsAsDebug = true;
            var limit = ctx.Parse.GetValue(timeout) is { } t ? FunctionSpec.ParseDuration(t, "--timeout") : (TimeSpan?)null;
            RuntimeSpec spec;
            try
            {
                spec = flags.BuildSpec(ctx);
            }
            catch (CommandNotFoundException e)
            {
                ctx.Log.Error(e.Message);
                return CommandNotFoundException.ExitStatus;
            }
            var timedOut = false;
            // Caught before the container exists: a SIGTERM during create is held and forwarded.
            using var foreground = Foreground.CatchSignals();
            return FunctionRunner.Run(ctx.Runtime, spec, flags.CacheRoot(ctx), (pid, master) =>
            {
                using var timer = limit is { } l
                    ? new Timer(_ =>
                    {
                        timedOut = true;
                        Signals.Send(pid, Signals.SIGKILL);
                    }, null, l, Timeout.InfiniteTimeSpan)
                    : null;
                var status = foreground.Wait(pid, master);
                if (timedOut)
                    ctx.Log.Error($"the program ran longer than --timeout {ctx.Parse.GetValue(timeout)} and was killed");
                return status;
            });
        }));
        return c;
    }

    private static Command Spec()
    {
        var c = new Command("spec", "print the config.json that `fn run` with the same flags would run (for running the same container with another runtime)");
        var flags = new Flags();
        flags.AddTo(c);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            CliContext.Write(SpecJson.Serialize(flags.BuildSpec(ctx), indented: true));
            CliContext.Write("\n");
            return 0;
        }));
        return c;
    }
}
