using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// One OCI runtime binary (the published csrt, or runc as the reference) over a state root of
/// its own under /run/csrt-test/roots, plus the bundles a test made for it. Every bundle gets an
/// absolute <c>linux.cgroupsPath</c> of <c>/csrt-test/&lt;id&gt;</c>, so what a container leaves
/// behind can be found exactly. Dispose deletes every container under the root (<c>delete
/// --force</c>), kills whatever is still in their cgroups, removes the cgroups, the root and the
/// bundles, whatever state the test left them in.
/// <para>
/// A test run that is killed cannot dispose: each root holds an flock on <c>&lt;root&gt;.lock</c>
/// while it lives and lists its container ids in <c>&lt;root&gt;.ids</c>; the first root made in a
/// process cleans up every root whose lock nobody holds any more.
/// </para>
/// </summary>
public sealed class RuntimeRoot : IDisposable
{
    /// <summary>Generous: a loaded 2-core machine may be slow, but no command here should hang.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private const string CgroupParent = "csrt-test";
    private const string CsrtPrefix = "csrt-", RuncPrefix = "runc-";
    private static readonly string RootsDir = Path.Combine(RepoPaths.RunDir, "roots");
    private static readonly Lazy<bool> Swept = new(SweepAbandoned, LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly List<TestBundle> _bundles = new();
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly FileStream _lock;

    private RuntimeRoot(string binary, string name)
    {
        _ = Swept.Value;
        Binary = binary;
        Root = Path.Combine(RootsDir, $"{name}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        Directory.CreateDirectory(RootsDir);
        _lock = new FileStream(Root + ".lock", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
    }

    /// <summary>The published csrt (out/bin/csrt) over a fresh root.</summary>
    public static RuntimeRoot Csrt(string name) => new(RepoPaths.RequireBinary(RepoPaths.CsrtBinary), CsrtPrefix + name);

    /// <summary>runc, the reference runtime, over a fresh root.</summary>
    public static RuntimeRoot Runc(string name) => new("/usr/sbin/runc", RuncPrefix + name);

    public string Binary { get; }

    /// <summary>The --root given to every command.</summary>
    public string Root { get; }

    /// <summary>The container's state directory under <see cref="Root"/>.</summary>
    public string StateDir(string id) => Path.Combine(Root, id);

    /// <summary>Runs <c>&lt;binary&gt; --root &lt;Root&gt; args…</c>.</summary>
    public CommandResult Run(params string[] args) => Run(null, Timeout, args);

    public CommandResult Run(string? stdin, TimeSpan timeout, params string[] args) =>
        Commands.Run(Binary, new[] { "--root", Root }.Concat(args), timeout, stdin);

    /// <summary>Runs and expects exit code 0; returns stdout.</summary>
    public string Ok(params string[] args) => Run(args).EnsureSuccess().Stdout;

    /// <summary>
    /// A bundle with <see cref="TestBundle.DefaultConfigJson"/> for <paramref name="args"/> (cgroupsPath
    /// /csrt-test/&lt;id&gt;), changed by <paramref name="edit"/>; disposed with this root.
    /// </summary>
    public TestBundle Bundle(IReadOnlyList<string> args, Action<JsonObject>? edit = null, IReadOnlyCollection<string>? namespaces = null,
        bool terminal = false, bool readonlyRoot = true, string hostname = "csrt")
    {
        var id = TestBundle.NewId("rt");
        var config = JsonNode.Parse(TestBundle.DefaultConfigJson(args, terminal, namespaces, hostname, readonlyRoot, CgroupsPathOf(id)))!.AsObject();
        edit?.Invoke(config);
        return Track(TestBundle.Create(config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), id));
    }

    /// <summary>A bundle with this exact config.json text (which may be invalid on purpose).</summary>
    public TestBundle RawBundle(string configJson) => Track(TestBundle.Create(configJson));

    private TestBundle Track(TestBundle bundle)
    {
        _bundles.Add(bundle);
        TrackId(bundle.Id);
        return bundle;
    }

    /// <summary>Remembers an id the test uses without a bundle of its own (so Dispose cleans it up).</summary>
    public string TrackId(string id)
    {
        _ids.Add(id);
        File.AppendAllText(Root + ".ids", id + "\n");
        return id;
    }

    public static string CgroupsPathOf(string id) => $"/{CgroupParent}/{id}";

    /// <summary><c>create --bundle</c> the bundle under its own id; throws unless it succeeds.</summary>
    public string Create(TestBundle bundle, params string[] extra)
    {
        Detached(bundle, new[] { "create", "--bundle", bundle.Dir }.Concat(extra).Append(bundle.Id).ToArray()).EnsureSuccess();
        return bundle.Id;
    }

    /// <summary><c>run -d</c>: created and started, detached.</summary>
    public string RunDetached(TestBundle bundle, params string[] extra)
    {
        Detached(bundle, new[] { "run", "-d", "--bundle", bundle.Dir }.Concat(extra).Append(bundle.Id).ToArray()).EnsureSuccess();
        return bundle.Id;
    }

    /// <summary>The file that receives the stdout and stderr of <see cref="Detached"/> commands
    /// and of the containers they start.</summary>
    public static string OutputLog(TestBundle bundle) => Path.Combine(bundle.Dir, "output.log");

    /// <summary>What the detached container and the commands that started it printed so far.</summary>
    public static string Output(TestBundle bundle) => File.Exists(OutputLog(bundle)) ? File.ReadAllText(OutputLog(bundle)) : "";

    /// <summary>
    /// Runs a command whose container process outlives it (create, run -d, exec -d): the
    /// container inherits the command's stdio, so pipes would stay open after the command
    /// exits. stdin is /dev/null; stdout and stderr are appended to <see cref="OutputLog"/>,
    /// which the result carries as its stderr.
    /// </summary>
    public CommandResult Detached(TestBundle bundle, params string[] args)
    {
        var log = OutputLog(bundle);
        var before = File.Exists(log) ? new FileInfo(log).Length : 0;
        var result = Commands.Run("/bin/sh", new[] { "-c", "log=$1; shift; exec \"$@\" </dev/null >>\"$log\" 2>&1", "sh", log, Binary, "--root", Root }.Concat(args), Timeout);
        var text = File.Exists(log) ? File.ReadAllText(log)[(int)before..] : "";
        return result with { Command = string.Join(' ', new[] { Binary, "--root", Root }.Concat(args)), Stderr = text };
    }

    /// <summary><c>run</c> in the foreground: the container's output and exit code.</summary>
    public CommandResult RunForeground(TestBundle bundle, string? stdin = null, params string[] extra) =>
        Run(stdin, Timeout, new[] { "run", "--bundle", bundle.Dir }.Concat(extra).Append(bundle.Id).ToArray());

    /// <summary>
    /// Starts <c>csrt --root … args</c> with stdin, stdout and stderr piped, for a test that talks to a
    /// foreground command while it runs (signals, line by line output); the caller kills it if the test fails.
    /// </summary>
    public Process StartPiped(IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--root", Root }.Concat(args))
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>The `state` JSON.</summary>
    public JsonObject State(string id) => JsonNode.Parse(Ok("state", id))!.AsObject();

    public string Status(string id) => State(id)["status"]!.GetValue<string>();

    public int Pid(string id) => State(id)["pid"]!.GetValue<int>();

    /// <summary>Waits (bounded) until the container reports <paramref name="status"/>.</summary>
    public void WaitForStatus(string id, string status)
    {
        var deadline = DateTime.UtcNow + Timeout;
        string last;
        while ((last = Status(id)) != status)
        {
            Assert.True(DateTime.UtcNow < deadline, $"container {id} is still {last} after {Timeout.TotalSeconds} s; expected {status}");
            Thread.Sleep(20);
        }
    }

    /// <summary>exec of argv; the command's result.</summary>
    public CommandResult Exec(string id, params string[] argv) => Run(new[] { "exec", id }.Concat(argv).ToArray());

    /// <summary>The container's cgroup directories on the host (one per hierarchy), existing or not.</summary>
    public static IEnumerable<string> CgroupDirs(string id)
    {
        foreach (var hierarchy in Directory.GetDirectories("/sys/fs/cgroup"))
            yield return Path.Combine(hierarchy, CgroupParent, id);
    }

    /// <summary>Live processes whose cgroup (in any hierarchy) is the container's.</summary>
    public static List<int> ProcessesOf(string id)
    {
        var marker = $":/{CgroupParent}/{id}";
        return HostState.AllPids().Where(p =>
        {
            string? cgroups;
            try
            {
                cgroups = Files.TryReadText($"/proc/{p.ToString(CultureInfo.InvariantCulture)}/cgroup");
            }
            catch (SyscallException e) when (e.Errno == Errno.ESRCH)
            {
                cgroups = null; // It exited between the listing and the read.
            }
            return cgroups is not null && cgroups.Split('\n').Any(l => l.EndsWith(marker, StringComparison.Ordinal) || l.Contains(marker + "/", StringComparison.Ordinal)) && HostState.IsAlive(p);
        }).ToList();
    }

    /// <summary>
    /// Asserts the container left nothing on the host: no state directory, no cgroup in any
    /// hierarchy, no process, no mount below the bundle other than its own rootfs overlay.
    /// </summary>
    public void AssertNothingLeft(TestBundle bundle) => AssertNothingLeft(bundle.Id, bundle);

    public void AssertNothingLeft(string id, TestBundle? bundle = null)
    {
        Assert.False(Directory.Exists(StateDir(id)), $"state directory {StateDir(id)} is still there");
        var cgroups = CgroupDirs(id).Where(Directory.Exists).ToList();
        Assert.True(cgroups.Count == 0, $"cgroups left behind: {string.Join(", ", cgroups)}");
        var processes = ProcessesOf(id);
        Assert.True(processes.Count == 0, $"processes left behind: {string.Join(", ", processes.Select(p => $"{p} ({string.Join(' ', HostState.CommandLine(p))})"))}");
        if (bundle is not null)
        {
            var mounts = HostState.MountsUnder(bundle.Dir).Where(m => m != bundle.RootfsDir).ToList();
            Assert.True(mounts.Count == 0, $"mounts left behind: {string.Join(", ", mounts)}");
        }
    }

    public void Dispose()
    {
        var errors = new List<string>();
        try
        {
            CleanUp(Binary, Root, _ids, errors);
            foreach (var b in _bundles)
                b.Dispose();
            File.Delete(Root + ".ids");
        }
        finally
        {
            _lock.Dispose();
            File.Delete(Root + ".lock");
        }
        if (errors.Count > 0)
            throw new InvalidOperationException("cleanup: " + string.Join("; ", errors));
    }

    /// <summary>Deletes the containers of <paramref name="ids"/> and those found under the root, kills
    /// what is left in their cgroups, removes the cgroups and the root.</summary>
    private static void CleanUp(string binary, string root, IEnumerable<string> ids, List<string> errors)
    {
        var all = new HashSet<string>(ids, StringComparer.Ordinal);
        if (Directory.Exists(root))
        {
            foreach (var dir in Directory.GetDirectories(root))
                all.Add(Path.GetFileName(dir));
        }
        foreach (var id in all)
        {
            if (Directory.Exists(Path.Combine(root, id)))
            {
                try
                {
                    Commands.Run(binary, ["--root", root, "delete", "--force", id], TimeSpan.FromSeconds(30));
                }
                catch (TimeoutException e)
                {
                    errors.Add(e.Message);
                }
            }
            // Whatever delete could not remove: kill the processes, remove the cgroups.
            HostState.KillAndWait(ProcessesOf(id), TimeSpan.FromSeconds(10));
            foreach (var dir in CgroupDirs(id).Where(Directory.Exists))
            {
                try
                {
                    RemoveCgroup(dir);
                }
                catch (Exception e) when (e is IOException or SyscallException or UnauthorizedAccessException)
                {
                    errors.Add($"removing cgroup {dir}: {e.Message}");
                }
            }
        }
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    /// <summary>Cleans up after roots of test runs that were killed: their lock file is no longer held.</summary>
    private static bool SweepAbandoned()
    {
        if (!Directory.Exists(RootsDir))
            return true;
        foreach (var lockPath in Directory.GetFiles(RootsDir, "*.lock"))
        {
            FileStream held;
            try
            {
                held = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue; // Alive in this or another test run.
            }
            using (held)
            {
                var root = lockPath[..^".lock".Length];
                var name = Path.GetFileName(root);
                var binary = name.StartsWith(RuncPrefix, StringComparison.Ordinal) ? "/usr/sbin/runc" : RepoPaths.CsrtBinary;
                var ids = File.Exists(root + ".ids") ? File.ReadAllLines(root + ".ids").Where(l => l.Length > 0).ToList() : new List<string>();
                var errors = new List<string>();
                if (File.Exists(binary))
                    CleanUp(binary, root, ids, errors);
                foreach (var id in ids)
                {
                    var bundle = Path.Combine(RepoPaths.RunDir, "bundles", id);
                    HostState.UnmountAllUnder(bundle);
                    foreach (var dir in new[] { bundle, bundle + ".overlay" }.Where(Directory.Exists))
                        Directory.Delete(dir, recursive: true);
                }
                File.Delete(root + ".ids");
            }
            File.Delete(lockPath);
        }
        return true;
    }

    private static void RemoveCgroup(string dir)
    {
        // Thaw first: a frozen cgroup's processes cannot die.
        var freezer = Path.Combine(dir, "freezer.state");
        if (File.Exists(freezer))
            File.WriteAllText(freezer, "THAWED");
        foreach (var sub in Directory.GetDirectories(dir))
            RemoveCgroup(sub);
        Files.RemoveDirectory(dir);
    }
}
