using System.CommandLine;
using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Lifecycle;
using Csrt.Runtime.Spec;

namespace Csrt.Cli;

/// <summary>`csrt exec`: run a new process inside a container.</summary>
internal static class ExecCommand
{
    public static Command Build()
    {
        var c = new Command("exec", "execute new process inside the container");
        var id = CommandLine.IdArgument();
        var command = new Argument<string[]>("command") { Arity = ArgumentArity.ZeroOrMore, Description = "the command and its arguments (or use --process)" };
        var consoleSocket = new Option<string?>("--console-socket") { Description = "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal" };
        var cwd = new Option<string?>("--cwd") { Description = "current working directory in the container" };
        var env = new Option<string[]>("--env", "-e") { Description = "set environment variables" };
        var tty = new Option<bool>("--tty", "-t") { Description = "allocate a pseudo-TTY" };
        var user = new Option<string?>("--user", "-u") { Description = "UID (format: <uid>[:<gid>])" };
        var additionalGids = new Option<string[]>("--additional-gids", "-g") { Description = "additional gids" };
        var process = new Option<string?>("--process", "-p") { Description = "path to the process.json" };
        var detach = new Option<bool>("--detach", "-d") { Description = "detach from the container's process" };
        var pidFile = new Option<string?>("--pid-file") { Description = "specify the file to write the process id to" };
        var processLabel = new Option<string?>("--process-label") { Description = "set the asm process label for the process commonly used with selinux" };
        var apparmor = new Option<string?>("--apparmor") { Description = "set the apparmor profile for the process" };
        var noNewPrivs = new Option<bool>("--no-new-privs") { Description = "set the no new privileges value for the process" };
        var caps = new Option<string[]>("--cap", "-c") { Description = "add a capability to the bounding set for the process" };
        var preserveFds = new Option<int>("--preserve-fds") { Description = "pass N additional file descriptors to the container" };
        c.AddOptions(consoleSocket, cwd, env, tty, user, additionalGids, process, detach, pidFile, processLabel, apparmor, noNewPrivs, caps, preserveFds);
        c.Arguments.Add(id);
        c.Arguments.Add(command);
        c.SetAction(parse => CommandLine.Act(parse, ctx =>
        {
            InitBinary.ReexecSealed(ctx.Runtime.StateRoot);
            var containerId = ctx.Get(id);
            var saved = ctx.Runtime.SavedSpec(containerId);
            Process spec;
            var processPath = ctx.Parse.GetValue(process);
            if (processPath is not null)
            {
                spec = SpecLoader.LoadProcess(processPath);
            }
            else
            {
                var args = ctx.Parse.GetValue(command) ?? Array.Empty<string>();
                if (args.Length == 0)
                    throw new ArgumentException("exec: no command given (and no --process)");
                spec = FromContainerDefaults(saved, args);
                if (ctx.Parse.GetValue(cwd) is { } dir)
                    spec.Cwd = dir;
                foreach (var e in ctx.Parse.GetValue(env) ?? Array.Empty<string>())
                    SetEnv(spec, e);
                if (ctx.Parse.GetValue(user) is { } u)
                    ApplyUser(spec, u);
                foreach (var g in ctx.Parse.GetValue(additionalGids) ?? Array.Empty<string>())
                    (spec.User.AdditionalGids ??= new List<uint>()).Add(ParseId(g, "--additional-gids"));
                if (ctx.Get(noNewPrivs))
                    spec.NoNewPrivileges = true;
                foreach (var cap in ctx.Parse.GetValue(caps) ?? Array.Empty<string>())
                    AddCapability(spec, cap);
                spec.Terminal = ctx.Get(tty);
            }
            if (ctx.Parse.GetValue(apparmor) is { Length: > 0 })
                throw new NotSupportedException("--apparmor: AppArmor is not supported by csrt");
            if (ctx.Parse.GetValue(processLabel) is { Length: > 0 })
                throw new NotSupportedException("--process-label: SELinux labels are not supported by csrt");
            var detached = ctx.Get(detach);
            var socketPath = ctx.Parse.GetValue(consoleSocket);
            if (spec.Terminal && detached && socketPath is null)
                throw new ArgumentException("cannot allocate a tty when detaching (-d) without --console-socket");
            using var foreground = detached ? null : Foreground.CatchSignals();
            var result = ctx.Runtime.Exec(containerId, new ExecOptions
            {
                Process = spec,
                PidFile = ctx.Parse.GetValue(pidFile),
                ConsoleSocketPath = socketPath,
                PreserveFds = ctx.Get(preserveFds),
                SavedSpec = saved,
            });
            if (foreground is null)
            {
                result.Master?.Dispose();
                return 0;
            }
            try
            {
                return foreground.Wait(result.Pid, result.Master);
            }
            finally
            {
                result.Master?.Dispose();
            }
        }, failure: 255));
        return c;
    }

    /// <summary>runc exec starts from the container's own process (env, cwd, user, capabilities,
    /// rlimits are not inherited: env, cwd, user, caps, no_new_privs, apparmor are).</summary>
    private static Process FromContainerDefaults(RuntimeSpec? saved, string[] args)
    {
        var defaults = saved?.Process;
        return new Process
        {
            Args = args.ToList(),
            Env = defaults?.Env?.ToList() ?? new List<string> { "PATH=" + Csrt.Runtime.Processes.ExecutableLookup.DefaultPath },
            Cwd = defaults?.Cwd is { Length: > 0 } d ? d : "/",
            User = new User { Uid = defaults?.User.Uid ?? 0, Gid = defaults?.User.Gid ?? 0, AdditionalGids = defaults?.User.AdditionalGids?.ToList(), Umask = defaults?.User.Umask },
            Capabilities = defaults?.Capabilities,
            NoNewPrivileges = defaults?.NoNewPrivileges ?? false,
        };
    }

    private static void SetEnv(Process p, string entry)
    {
        var env = p.Env ??= new List<string>();
        var name = entry.Split('=', 2)[0];
        env.RemoveAll(e => e.Split('=', 2)[0] == name);
        env.Add(entry);
    }

    private static void ApplyUser(Process p, string user)
    {
        var parts = user.Split(':', 2);
        p.User.Uid = ParseId(parts[0], "--user");
        if (parts.Length > 1)
            p.User.Gid = ParseId(parts[1], "--user");
    }

    internal static uint ParseId(string text, string flag)
    {
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            throw new ArgumentException($"{flag}: expected a numeric id, got \"{text}\"");
        // 4294967295 is (uid_t)-1, "leave unchanged" to setresuid: the process would stay root.
        if (v > SpecValidator.MaxId)
            throw new ArgumentException($"{flag}: {SpecValidator.IdOutOfRange(text)}");
        return (uint)v;
    }

    /// <summary>
    /// `--cap` grants the capability to the process itself (bounding, effective, permitted), never
    /// to the inheritable set: an inheritable capability passes to any program whose file
    /// capabilities name it, even run as another user (CVE-2022-29162). Ambient follows runc: only
    /// what the container already makes inheritable, the kernel refusing the rest anyway.
    /// </summary>
    internal static void AddCapability(Process p, string cap)
    {
        var name = cap.StartsWith("CAP_", StringComparison.Ordinal) ? cap : "CAP_" + cap.ToUpperInvariant();
        if (!KnownCapabilities.TryGetNumber(name, out _))
            throw new ArgumentException($"--cap: unknown capability \"{cap}\"");
        var c = p.Capabilities ??= new LinuxCapabilities();
        AddOnce(c.Bounding ??= new(), name);
        AddOnce(c.Effective ??= new(), name);
        AddOnce(c.Permitted ??= new(), name);
        if (c.Inheritable?.Contains(name) == true)
            AddOnce(c.Ambient ??= new(), name);

        static void AddOnce(List<string> set, string name)
        {
            if (!set.Contains(name))
                set.Add(name);
        }
    }
}
