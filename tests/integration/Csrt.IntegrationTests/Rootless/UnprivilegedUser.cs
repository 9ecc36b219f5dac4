using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Rootless;

/// <summary>
/// A real unprivileged user for rootless tests, made with useradd: subordinate id ranges in
/// /etc/subuid and /etc/subgid (for newuidmap/newgidmap), a home, an XDG_RUNTIME_DIR
/// (/run/user/UID, 0700), and a work directory it owns holding a copy of the published csrt (the
/// build tree need not be reachable by it) and the bundles. Commands run as the user through
/// setpriv with a clean environment; nothing runs as root pretending. Dispose deletes what the
/// user's runtimes still hold (csrt's and runc's containers, podman's containers and its pause
/// process), then the user with its home and runtime directory.
/// </summary>
public sealed class UnprivilegedUser : IDisposable
{
    public const string Name = "csrt-rootless";
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private const string SearchPath = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

    public UnprivilegedUser()
    {
        var csrt = RepoPaths.RequireBinary(RepoPaths.CsrtBinary);
        if (!Commands.Run("id", ["-u", Name], Timeout).Succeeded)
            Commands.Run("useradd", ["--create-home", "--user-group", "--shell", "/bin/sh", Name], Timeout).EnsureSuccess();
        try
        {
            Uid = uint.Parse(Commands.RunOk("id", "-u", Name).Trim(), CultureInfo.InvariantCulture);
            Gid = uint.Parse(Commands.RunOk("id", "-g", Name).Trim(), CultureInfo.InvariantCulture);
            Home = Commands.RunOk("getent", "passwd", Name).Trim().Split(':')[5];
            SubUids = EnsureRange("/etc/subuid", "--add-subuids");
            SubGids = EnsureRange("/etc/subgid", "--add-subgids");
            RuntimeDir = $"/run/user/{Uid}";
            MakeOwnedDirectory(RuntimeDir, "700");
            WorkDir = Path.Combine(Home, "csrt-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
            MakeOwnedDirectory(WorkDir, "755");
            Csrt = Path.Combine(WorkDir, "csrt");
            File.Copy(csrt, Csrt);
            Chown(Csrt);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public uint Uid { get; }

    public uint Gid { get; }

    public string Home { get; } = "";

    /// <summary>The user's first range in /etc/subuid (start, count).</summary>
    public (uint Start, uint Count) SubUids { get; }

    public (uint Start, uint Count) SubGids { get; }

    /// <summary>$XDG_RUNTIME_DIR of the user's commands.</summary>
    public string RuntimeDir { get; } = "";

    /// <summary>A directory the user owns; bundles go below it.</summary>
    public string WorkDir { get; } = "";

    /// <summary>The user's copy of the published csrt.</summary>
    public string Csrt { get; } = "";

    /// <summary>csrt's default state root for this user.</summary>
    public string CsrtStateRoot => Path.Combine(RuntimeDir, "csrt");

    /// <summary>Runs <paramref name="file"/> as the user, in <paramref name="directory"/> (default
    /// the work directory), with only HOME, USER, LOGNAME, PATH and XDG_RUNTIME_DIR set.</summary>
    public CommandResult Run(string file, IEnumerable<string> args, string? directory = null, string? stdin = null, TimeSpan? timeout = null) =>
        Commands.Run("setpriv", AsUser(file, args), timeout ?? Timeout, stdin, workingDirectory: directory ?? WorkDir);

    /// <summary>The setpriv command line that runs <paramref name="file"/> as the user.</summary>
    public IEnumerable<string> AsUser(string file, IEnumerable<string> args) =>
        new[]
        {
            "--reuid", Text(Uid), "--regid", Text(Gid), "--init-groups", "--", "env", "-i", "HOME=" + Home, "USER=" + Name,
            "LOGNAME=" + Name, "PATH=" + SearchPath, "XDG_RUNTIME_DIR=" + RuntimeDir, file,
        }.Concat(args);

    /// <summary>
    /// A bundle the user owns: a copy of the busybox rootfs and <c>spec --rootless</c> of
    /// <paramref name="runtime"/> written as the user (its uid and gid mapped to root), then
    /// <paramref name="edit"/> applied. process.terminal is off and the rootfs writable.
    /// </summary>
    public string MakeBundle(string runtime, IReadOnlyList<string> args, Action<JsonObject>? edit = null)
    {
        var dir = Path.Combine(WorkDir, "bundle-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
        Directory.CreateDirectory(dir);
        Chown(dir);
        Commands.Run("cp", ["-a", TestImages.Get().RootfsDir, Path.Combine(dir, "rootfs")], Timeout).EnsureSuccess();
        Commands.Run("chown", ["-R", $"{Uid}:{Gid}", Path.Combine(dir, "rootfs")], Timeout).EnsureSuccess();
        Run(runtime, ["spec", "--rootless"], dir).EnsureSuccess();
        var path = Path.Combine(dir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config["process"]!["terminal"] = false;
        config["process"]!["args"] = new JsonArray(args.Select(a => (JsonNode?)JsonValue.Create(a)).ToArray());
        config["root"]!["readonly"] = false;
        edit?.Invoke(config);
        File.WriteAllText(path, config.ToJsonString());
        return dir;
    }

    /// <summary>Gives <paramref name="path"/> to the user.</summary>
    public void Chown(string path) => Commands.Run("chown", [$"{Uid}:{Gid}", path], Timeout).EnsureSuccess();

    public void Dispose()
    {
        if (Uid == 0)
            return;
        // Whatever the tests left: containers of both runtimes (default roots), podman's.
        foreach (var runtime in new[] { Csrt, "/usr/sbin/runc" })
        {
            if (runtime.Length == 0 || !File.Exists(runtime))
                continue;
            var list = Run(runtime, ["list", "-q"], "/");
            foreach (var id in list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                Run(runtime, ["delete", "--force", id], "/");
        }
        if (Directory.Exists(Path.Combine(Home, ".local/share/containers")))
        {
            Run("podman", ["rm", "--all", "--force"], "/");
            StopPodmanPause();
        }
        Commands.Run("userdel", ["--remove", Name], Timeout);
        Commands.Run("rm", ["-rf", "--one-file-system", RuntimeDir], Timeout);
    }

    /// <summary>Rootless podman keeps a pause process holding its user namespace; it must go before userdel.</summary>
    private void StopPodmanPause()
    {
        var pidFile = Path.Combine(RuntimeDir, "libpod/tmp/pause.pid");
        if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            try
            {
                using var p = System.Diagnostics.Process.GetProcessById(pid);
                p.Kill();
                p.WaitForExit(10_000);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }
        }
    }

    private void MakeOwnedDirectory(string path, string mode)
    {
        Directory.CreateDirectory(path);
        Chown(path);
        Commands.Run("chmod", [mode, path], Timeout).EnsureSuccess();
    }

    /// <summary>The user's first range in <paramref name="file"/>; one after every other range
    /// when it has none.</summary>
    private static (uint Start, uint Count) EnsureRange(string file, string usermodFlag)
    {
        if (Find(file) is { } found)
            return found;
        const uint count = 65536;
        var start = 100000u;
        foreach (var line in File.Exists(file) ? File.ReadAllLines(file) : [])
        {
            var f = line.Split(':');
            if (f.Length == 3 && uint.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var s) && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var c))
                start = Math.Max(start, s + c);
        }
        Commands.Run("usermod", [usermodFlag, $"{start}-{start + count - 1}", Name], Timeout).EnsureSuccess();
        return Find(file) ?? throw new InvalidOperationException($"usermod {usermodFlag} added no range for {Name} to {file}");
    }

    private static (uint Start, uint Count)? Find(string file)
    {
        foreach (var line in File.Exists(file) ? File.ReadAllLines(file) : [])
        {
            var f = line.Split(':');
            if (f.Length == 3 && f[0] == Name)
                return (uint.Parse(f[1], CultureInfo.InvariantCulture), uint.Parse(f[2], CultureInfo.InvariantCulture));
        }
        return null;
    }

    private static string Text(uint value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Rootless tests share one user and run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class RootlessCollection : ICollectionFixture<UnprivilegedUser>
{
    public const string Name = "rootless";
}
