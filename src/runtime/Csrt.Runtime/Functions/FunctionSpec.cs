using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Functions;

/// <summary>
/// The function contract as an OCI spec, in memory: the rootfs read-only with a private tmpfs
/// /tmp; new pid, ipc, uts, mount and network namespaces (the last holding only lo; none with
/// --network host); no capabilities, no_new_privs and containerd's default seccomp profile; the
/// caller's environment minus TMPDIR, then the image's Env, then --env; the image's Entrypoint,
/// Cmd (replaced by the arguments after `--`), WorkingDir and User.
/// </summary>
public static class FunctionSpec
{
    private const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static RuntimeSpec Build(FunctionRequest r)
    {
        var image = r.Image;
        var args = new List<string>();
        args.AddRange(image?.Entrypoint ?? []);
        args.AddRange(r.Args ?? (IReadOnlyList<string>?)image?.Cmd ?? []);
        if (args.Count == 0)
            throw CsrtException.InvalidArgument(image is null
                ? "no command: give it after --, e.g. csrt fn run --rootfs DIR -- /bin/true"
                : "no command: the image has no Entrypoint or Cmd, and none was given after --");
        var env = Environment(r);
        var cwd = image?.WorkingDir is { Length: > 0 } w ? w : "/";
        if (!cwd.StartsWith('/'))
            throw CsrtException.InvalidArgument($"image config: WorkingDir \"{cwd}\" is not an absolute path");

        var process = new Process
        {
            Terminal = r.Terminal,
            User = new User(),
            Args = args,
            Env = env,
            Cwd = cwd,
            Capabilities = new LinuxCapabilities { Bounding = [], Effective = [], Inheritable = [], Permitted = [], Ambient = [] },
            NoNewPrivileges = true,
        };
        if (!Files.IsDirectory(r.Rootfs))
            throw CsrtException.NotFound($"rootfs {r.Rootfs}: no such directory");
        using (var root = OpenRoot(r.Rootfs))
        {
            if (image?.User is { Length: > 0 } user)
                process.User = ImageUser.Resolve(user, root);
            CheckCommand(root, args[0], env);
        }

        var namespaces = new List<LinuxNamespace>
        {
            new() { Type = NamespaceTypes.Pid }, new() { Type = NamespaceTypes.Ipc },
            new() { Type = NamespaceTypes.Uts }, new() { Type = NamespaceTypes.Mount },
        };
        if (!r.HostNetwork)
            namespaces.Add(new() { Type = NamespaceTypes.Network });
        var rootless = r.UserNamespace is not null;
        if (rootless)
            namespaces.Add(new() { Type = NamespaceTypes.User });

        var mounts = new List<Mount>
        {
            new() { Destination = "/proc", Type = "proc", Source = "proc", Options = ["nosuid", "noexec", "nodev"] },
            new() { Destination = "/dev", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            // Rootless, gid 5 may not exist in the user namespace (runc's rootless spec leaves gid= out).
            new() { Destination = "/dev/pts", Type = "devpts", Source = "devpts", Options = rootless
                ? ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
                : ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            new() { Destination = "/dev/shm", Type = "tmpfs", Source = "shm", Options = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            new() { Destination = "/dev/mqueue", Type = "mqueue", Source = "mqueue", Options = ["nosuid", "noexec", "nodev"] },
            // A new sysfs needs a network namespace owned by the container's user namespace: a
            // rootless call on the host's network binds the host's /sys instead.
            rootless && r.HostNetwork
                ? new() { Destination = "/sys", Type = "none", Source = "/sys", Options = ["rbind", "nosuid", "noexec", "nodev", "ro"] }
                : new() { Destination = "/sys", Type = "sysfs", Source = "sysfs", Options = ["nosuid", "noexec", "nodev", "ro"] },
            new() { Destination = "/tmp", Type = "tmpfs", Source = "tmpfs", Options = ["nosuid", "nodev", "mode=1777"] },
        };
        foreach (var m in r.Mounts)
        {
            mounts.Add(new Mount
            {
                Destination = m.Destination, Type = "bind", Source = m.Source,
                Options = m.ReadOnly ? ["rbind", "nosuid", "nodev", "ro"] : ["rbind", "nosuid", "nodev"],
            });
        }

        LinuxResources? resources = null;
        if (r.MemoryBytes is not null || r.Cpus is not null || r.Pids is not null)
        {
            resources = new LinuxResources();
            if (r.MemoryBytes is { } memory)
                resources.Memory = new LinuxMemory { Limit = memory };
            if (r.Cpus is { } cpus)
                resources.Cpu = new LinuxCpu { Quota = (long)Math.Round(cpus * 100_000), Period = 100_000 };
            if (r.Pids is { } pids)
                resources.Pids = new LinuxPids { Limit = pids };
        }

        return new RuntimeSpec
        {
            OciVersion = BuildInfo.OciVersion,
            Process = process,
            Root = new Root { Path = r.Rootfs, Readonly = true },
            Mounts = mounts,
            Linux = new LinuxConfig
            {
                Namespaces = namespaces,
                UidMappings = r.UserNamespace?.Uids,
                GidMappings = r.UserNamespace?.Gids,
                Resources = resources,
                Seccomp = DefaultSeccompProfile.Create(),
                MaskedPaths =
                [
                    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
                ],
                ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
            },
        };
    }

    private static RootDirectory OpenRoot(string rootfs)
    {
        try
        {
            return new RootDirectory(rootfs);
        }
        catch (SyscallException e)
        {
            throw CsrtException.Failed($"rootfs {rootfs}: cannot open it: {e.Message}", e);
        }
    }

    /// <summary>The caller's environment without TMPDIR (its directory is not in the container),
    /// then the image's Env, then --env; a later value of a name replaces an earlier one in place.</summary>
    internal static List<string> Environment(FunctionRequest r)
    {
        var order = new List<string>();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        void Set(string entry, string what)
        {
            var eq = entry.IndexOf('=');
            if (eq <= 0)
                throw CsrtException.InvalidArgument($"{what} \"{entry}\": expected NAME=VALUE");
            var name = entry[..eq];
            if (!values.ContainsKey(name))
                order.Add(name);
            values[name] = entry;
        }
        if (!r.EnvClear)
        {
            foreach (var e in r.CallerEnv)
            {
                if (!e.StartsWith("TMPDIR=", StringComparison.Ordinal) && e.IndexOf('=') > 0)
                    Set(e, "environment variable");
            }
        }
        foreach (var e in r.Image?.Env ?? [])
            Set(e, "image config Env");
        foreach (var e in r.Env)
            Set(e, "--env");
        if (!values.ContainsKey("PATH"))
            Set(DefaultPath, "PATH");
        return order.ConvertAll(n => values[n]);
    }

    /// <summary>A command that is not in the image fails here with the shell's status, 127.</summary>
    private static void CheckCommand(RootDirectory root, string name, List<string> env)
    {
        if (name.Contains('/'))
        {
            if (!IsExecutable(root, name))
                throw new CommandNotFoundException($"exec: \"{name}\": no such executable file in the rootfs {root.Path}");
            return;
        }
        var path = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath[5..];
        foreach (var dir in path.Split(':'))
        {
            if (IsExecutable(root, (dir.Length == 0 ? "/" : dir) + "/" + name))
                return;
        }
        throw new CommandNotFoundException($"exec: \"{name}\": executable file not found in $PATH ({path}) in the rootfs {root.Path}");
    }

    private static bool IsExecutable(RootDirectory root, string path)
    {
        try
        {
            using var fd = root.TryOpen(path);
            return fd is not null && Files.Stat(fd) is { IsRegular: true } info && (info.Mode & FileModes.AnyExecute) != 0;
        }
        catch (SyscallException e) when (e.Errno is Errno.EACCES)
        {
            // A rootless image's directory of another owner may be closed to the caller on the
            // host and open to the container's user: the init's own check decides.
            return true;
        }
    }

    /// <summary>Parses a size: bytes, or with a k/m/g suffix (powers of 1024), as docker's --memory.</summary>
    public static long ParseSize(string text, string what)
    {
        var t = text.Trim().ToLowerInvariant();
        if (t.EndsWith('b'))
            t = t[..^1];
        long unit = 1;
        if (t.Length > 0 && t[^1] is 'k' or 'm' or 'g')
        {
            unit = t[^1] switch { 'k' => 1L << 10, 'm' => 1L << 20, _ => 1L << 30 };
            t = t[..^1];
        }
        if (!long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0 || n > long.MaxValue / unit)
            throw CsrtException.InvalidArgument($"{what} \"{text}\": expected a positive size such as 67108864, 64m or 1g");
        return n * unit;
    }

    /// <summary>Parses a duration: seconds, or with an ms/s/m/h suffix.</summary>
    public static TimeSpan ParseDuration(string text, string what)
    {
        var t = text.Trim();
        double scale = 1;
        foreach (var (suffix, factor) in new[] { ("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0) })
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal) && !(suffix == "s" && t.EndsWith("ms", StringComparison.Ordinal)))
            {
                t = t[..^suffix.Length];
                scale = factor;
                break;
            }
        }
        if (!double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) || v <= 0 || v * scale > 1e7)
            throw CsrtException.InvalidArgument($"{what} \"{text}\": expected a positive duration such as 30, 30s, 500ms or 2m");
        return TimeSpan.FromSeconds(v * scale);
    }

    /// <summary>Parses --mount SRC:DST[:ro]; SRC relative to the current directory, DST absolute.</summary>
    public static FunctionMount ParseMount(string text)
    {
        var parts = text.Split(':');
        var readOnly = parts.Length == 3 && parts[2] == "ro";
        if (parts.Length is < 2 or > 3 || (parts.Length == 3 && !readOnly && parts[2] != "rw") || parts[0].Length == 0 || !parts[1].StartsWith('/'))
            throw CsrtException.InvalidArgument($"--mount \"{text}\": expected SRC:DST[:ro] with DST an absolute path");
        var source = Path.GetFullPath(parts[0]);
        if (!Files.Exists(source))
            throw CsrtException.NotFound($"--mount \"{text}\": {source} does not exist");
        return new FunctionMount(source, parts[1], readOnly);
    }
}

/// <summary>The function's command is not in its rootfs: a shell's "command not found" (127).</summary>
public sealed class CommandNotFoundException(string message) : CsrtException(ErrorKind.NotFound, message)
{
    public const int ExitStatus = 127;
}
