using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace Csrt.VmTests.Fixtures;

/// <summary>What a command run in the guest printed and how it exited.</summary>
public sealed record GuestResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Throws naming the command, its exit code, stdout and stderr unless it exited 0.</summary>
    public GuestResult EnsureSuccess() => ExitCode == 0
        ? this
        : throw new InvalidOperationException($"in the guest, {this}");

    public override string ToString() =>
        $"`{Command}` exited {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Every VM test shares one guest: booting one under TCG is the lane's biggest cost.</summary>
[CollectionDefinition(Name)]
public sealed class GuestCollection : ICollectionFixture<GuestFixture>
{
    public const string Name = "guest";
}

/// <summary>
/// One QEMU guest for the whole test run (hack/vm/boot.sh): Debian 12 with systemd as PID 1 and the
/// unified cgroup v2 hierarchy, the repository mounted read-only at the same absolute path as on the
/// host (so <see cref="Csrt"/> and the test images under out/ work unchanged). Built and booted once
/// when the first test of <see cref="GuestCollection"/> runs, powered off after the last.
/// </summary>
public sealed class GuestFixture : IAsyncLifetime
{
    /// <summary>Image build on a fresh machine (debootstrap) plus boot under TCG.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The repository root, on the host and in the guest alike.</summary>
    public string RepoRoot { get; } = FindRoot();

    /// <summary>The guest's state on the host: ssh_config, console.log, qemu.pid, share/.</summary>
    public string StateDir { get; } = $"/run/csrt-vm/{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";

    /// <summary>A writable directory mounted at the same path in the guest (host and guest see one file set).</summary>
    public string SharedDir => Path.Combine(StateDir, "share");

    /// <summary>The published csrt (hack/publish.sh), a path valid in the guest.</summary>
    public string Csrt => Path.Combine(RepoRoot, "out", "bin", "csrt");

    /// <summary>The busybox rootfs of hack/images/build.sh, a path valid in the guest.</summary>
    public string BusyboxRootfs => Path.Combine(RepoRoot, "out", "images", "busybox-rootfs");

    /// <summary>Where the guest's bundles live (on the guest's own disk, not on the 9p share).</summary>
    public const string BundlesDir = "/var/lib/csrt-vm/bundles";

    public async Task InitializeAsync()
    {
        foreach (var required in new[] { Csrt, BusyboxRootfs })
        {
            if (!Path.Exists(required))
                throw new FileNotFoundException($"{required} does not exist; run hack/publish.sh and hack/images/build.sh first", required);
        }
        Directory.CreateDirectory(StateDir);
        // The owner pid lets boot.sh's watchdog power the guest off should this process be killed.
        var boot = await RunHostAsync(Path.Combine(RepoRoot, "hack", "vm", "boot.sh"), ["up", StateDir], StartTimeout,
            environment: new Dictionary<string, string> { ["CSRT_VM_OWNER_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        if (boot.ExitCode != 0)
            throw new InvalidOperationException($"the guest did not boot: {boot}");
        (await RunAsync($"mkdir -p {BundlesDir}", TimeSpan.FromSeconds(30))).EnsureSuccess();
    }

    public async Task DisposeAsync()
    {
        try
        {
            await RunHostAsync(Path.Combine(RepoRoot, "hack", "vm", "boot.sh"), ["down", StateDir], StopTimeout);
        }
        finally
        {
            if (!File.Exists(Path.Combine(StateDir, "qemu.pid")))
                Directory.Delete(StateDir, recursive: true);
        }
    }

    /// <summary>
    /// Runs <paramref name="shellCommand"/> with sh as root in the guest. Bounded on both sides: the guest
    /// kills the command after <paramref name="timeout"/>, and the host gives up (throwing, with what it
    /// printed so far) shortly after.
    /// </summary>
    public Task<GuestResult> RunAsync(string shellCommand, TimeSpan timeout) => RunAsync(shellCommand, timeout, stdin: null);

    /// <summary><see cref="RunAsync(string, TimeSpan)"/> with <paramref name="stdin"/> fed to the command.</summary>
    public async Task<GuestResult> RunAsync(string shellCommand, TimeSpan timeout, string? stdin)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(timeout.TotalSeconds));
        var remote = $"timeout --kill-after=5 {seconds} sh -c {Quote(shellCommand)}";
        var r = await RunHostAsync("ssh", ["-F", Path.Combine(StateDir, "ssh_config"), "guest", remote],
            timeout + TimeSpan.FromSeconds(30), stdin);
        // ssh's own failure (connection lost) is 255; the command's exit code is passed through otherwise.
        if (r.ExitCode == 255)
            throw new InvalidOperationException($"ssh to the guest failed running `{shellCommand}`: {r.Stderr.Trim()}\n{ConsoleTail()}");
        return r with { Command = shellCommand };
    }

    /// <summary>
    /// Forwards <paramref name="hostSocket"/> (a new Unix socket on the host) to <paramref name="guestSocket"/> through
    /// the guest's multiplexed ssh connection; <see cref="CancelForwardAsync"/> undoes it.
    /// </summary>
    public async Task ForwardAsync(string hostSocket, string guestSocket)
    {
        var r = await RunHostAsync("ssh", ["-F", Path.Combine(StateDir, "ssh_config"), "-O", "forward", "-L", $"{hostSocket}:{guestSocket}", "guest"],
            TimeSpan.FromSeconds(30));
        if (r.ExitCode != 0 || !File.Exists(hostSocket))
            throw new InvalidOperationException($"forwarding {hostSocket} to the guest's {guestSocket} failed: {r}");
    }

    /// <summary>Ends a forward of <see cref="ForwardAsync"/> and removes its host socket.</summary>
    public async Task CancelForwardAsync(string hostSocket, string guestSocket)
    {
        try
        {
            await RunHostAsync("ssh", ["-F", Path.Combine(StateDir, "ssh_config"), "-O", "cancel", "-L", $"{hostSocket}:{guestSocket}", "guest"],
                TimeSpan.FromSeconds(30));
        }
        finally
        {
            File.Delete(hostSocket);
        }
    }

    /// <summary>A bound for one guest command when the test gives none: generous, a TCG guest on a busy host is slow.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary><see cref="RunAsync(string, TimeSpan)"/> that throws unless the command exited 0; returns its stdout.</summary>
    public async Task<string> OkAsync(string shellCommand, TimeSpan? timeout = null) =>
        (await RunAsync(shellCommand, timeout ?? DefaultTimeout)).EnsureSuccess().Stdout;

    /// <summary>A string as one sh word.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>The last lines of the guest's serial console, for failure messages.</summary>
    public string ConsoleTail(int lines = 40)
    {
        var path = Path.Combine(StateDir, "console.log");
        if (!File.Exists(path))
            return $"(no {path})";
        var all = File.ReadAllLines(path);
        return $"--- the last lines of {path}:\n" + string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    private static async Task<GuestResult> RunHostAsync(string file, IReadOnlyList<string> args, TimeSpan timeout, string? stdin = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            psi.Environment[k] = v;
        var display = $"{file} {string.Join(' ', args)}";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {display}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
            await p.StandardInput.WriteAsync(stdin);
        p.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            throw new TimeoutException($"{display} did not finish within {timeout}\n--- stdout ---\n{await stdout}\n--- stderr ---\n{await stderr}");
        }
        return new GuestResult(display, p.ExitCode, await stdout, await stderr);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Shim.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no Shim.sln found in {AppContext.BaseDirectory} or any parent; the tests must run from a build inside the repository");
    }
}
