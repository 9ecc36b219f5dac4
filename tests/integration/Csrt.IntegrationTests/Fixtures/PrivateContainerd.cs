using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Csrt.Linux;
using Grpc.Net.Client;

namespace Csrt.IntegrationTests.Fixtures;

/// <summary>Settings for a <see cref="PrivateContainerd"/>.</summary>
public sealed record PrivateContainerdOptions
{
    /// <summary>containerd's log level ("debug" also makes it pass -debug to shims).</summary>
    public string LogLevel { get; init; } = "info";

    /// <summary>Import the busybox and pause images into namespaces "default" and "k8s.io" at start.</summary>
    public bool ImportImages { get; init; } = true;

    /// <summary>
    /// TOML appended to the generated config. It may only add tables the generated config does not
    /// define, e.g. <c>[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.csrt.options]</c>.
    /// </summary>
    public string? ExtraToml { get; init; }

    /// <summary>Directory put first on containerd's PATH so it finds containerd-shim-csrt-v2; default <see cref="RepoPaths.BinDir"/>.</summary>
    public string? BinDir { get; init; }

    /// <summary>How long to wait for the gRPC socket to answer after starting containerd.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// A containerd (Debian's /usr/bin/containerd) of the test's own: own root, state, sockets, CNI
/// network and config, with the CRI plugin on (<c>runtimes.csrt</c> = io.containerd.csrt.v2,
/// <c>runtimes.runc</c> = the stock io.containerd.runc.v2, sandbox_image = the local pause image)
/// and <see cref="RepoPaths.BinDir"/> first on its PATH so it finds containerd-shim-csrt-v2.
/// <para>
/// Several instances can run at once, in one test run or in concurrent ones: each holds a slot
/// (an flock on /run/csrt-test/slots/ctd&lt;N&gt;.lock) that gives it unique directories, socket
/// paths, CNI network name, bridge (csrtbr&lt;N&gt;) and subnet (10.231.&lt;N&gt;.0/24). A slot left
/// behind by a crashed run is cleaned up when it is taken again.
/// </para>
/// <para>
/// Shared host paths containerd hard-codes are NOT private: the runc shim's sockets in
/// /run/containerd/s (named by a hash of this instance's address, so no clash), runc's state in
/// /run/containerd/runc/&lt;namespace&gt;/&lt;id&gt; and CRI's network namespaces in /var/run/netns.
/// Use unique container ids (<see cref="TestBundle.NewId"/>) so runs on one host never collide.
/// </para>
/// </summary>
public sealed class PrivateContainerd : IDisposable, Csrt.TestSupport.ICriContainerd
{
    public const string ContainerdBinary = "/usr/bin/containerd";
    public const string CtrBinary = "/usr/bin/ctr";
    public const string CniBinDir = "/usr/lib/cni";
    public const string CsrtRuntime = "io.containerd.csrt.v2";
    public const string RuncRuntime = "io.containerd.runc.v2";
    public const string CriNamespace = "k8s.io";
    public const string DefaultNamespace = "default";
    private const int MaxSlots = 64;

    private readonly PrivateContainerdOptions options;
    private FileStream? slotLock;
    private Process? process;
    private bool disposed;

    private PrivateContainerd(int slot, FileStream slotLock, PrivateContainerdOptions options)
    {
        Slot = slot;
        this.slotLock = slotLock;
        this.options = options;
        Dir = Path.Combine(RepoPaths.RunDir, $"ctd{slot}");
        VarDir = Path.Combine(RepoPaths.VarDir, $"ctd{slot}");
    }

    /// <summary>
    /// Starts a private containerd and waits until its gRPC socket answers; imports the test images
    /// unless <see cref="PrivateContainerdOptions.ImportImages"/> is false. Throws with the tail of
    /// containerd's log if it does not come up.
    /// </summary>
    public static PrivateContainerd Start(PrivateContainerdOptions? options = null)
    {
        options ??= new PrivateContainerdOptions();
        var images = options.ImportImages ? TestImages.Get() : null;
        SweepAbandonedSlots(options);
        var (slot, lockFile) = AcquireSlot();
        var ctd = new PrivateContainerd(slot, lockFile, options);
        try
        {
            ctd.WriteFiles();
            ctd.Launch();
            if (images is not null)
                ctd.ImportTestImages(images);
            return ctd;
        }
        catch
        {
            ctd.Dispose();
            throw;
        }
    }

    public static Task<PrivateContainerd> StartAsync(PrivateContainerdOptions? options = null) =>
        Task.Run(() => Start(options));

    /// <summary>The slot number this instance holds (0-63); it picks the dirs, bridge and subnet.</summary>
    public int Slot { get; }

    /// <summary>/run/csrt-test/ctd&lt;N&gt;: config, log, sockets, state, CNI config.</summary>
    public string Dir { get; }

    /// <summary>/var/lib/csrt-test/ctd&lt;N&gt;: containerd's root and the CNI IPAM data.</summary>
    public string VarDir { get; }

    /// <summary>containerd's gRPC socket path (what <c>ctr --address</c> and containerd's -address take); CRI is served on it too.</summary>
    public string Address => Path.Combine(Dir, "c.sock");

    /// <summary>The CRI endpoint as crictl and kubelet write it: <c>unix://</c> + <see cref="Address"/>.</summary>
    public string CriEndpoint => "unix://" + Address;

    /// <summary>containerd's ttrpc socket path (what shims get as TTRPC_ADDRESS).</summary>
    public string TtrpcAddress => Address + ".ttrpc";

    /// <summary>containerd's root (content, snapshots, metadata, shim work dirs).</summary>
    public string Root => Path.Combine(VarDir, "root");

    /// <summary>containerd's state dir; bundles are under State/io.containerd.runtime.v2.task/&lt;ns&gt;/&lt;id&gt;.</summary>
    public string State => Path.Combine(Dir, "state");

    public string ConfigPath => Path.Combine(Dir, "config.toml");

    /// <summary>containerd's stdout+stderr, appended across restarts (shims' logs arrive here too).</summary>
    public string LogPath => Path.Combine(Dir, "containerd.log");

    /// <summary>CRI's CNI conf dir, holding one conflist: bridge + loopback on <see cref="Subnet"/>.</summary>
    public string CniConfDir => Path.Combine(Dir, "cni");

    public string CniNetworkName => $"csrt-ctd{Slot}";

    /// <summary>The CNI bridge's name on the host (created by the bridge plugin at the first pod, deleted in Dispose).</summary>
    public string BridgeName => $"csrtbr{Slot}";

    /// <summary>The pods' subnet, e.g. 10.231.3.0/24; the bridge is its .1.</summary>
    public string Subnet => $"10.231.{Slot}.0/24";

    /// <summary>The port of CRI's streaming server (exec/attach URLs) on 127.0.0.1.</summary>
    public int StreamPort { get; private set; }

    /// <summary>The bundle directory containerd makes for a task.</summary>
    public string BundleDir(string id, string ns = DefaultNamespace) =>
        Path.Combine(State, "io.containerd.runtime.v2.task", ns, id);

    /// <summary>containerd's pid, or 0 while it is stopped.</summary>
    public int Pid => process is { HasExited: false } p ? p.Id : 0;

    public bool IsRunning => Pid != 0;

    /// <summary>Runs <c>ctr --address &lt;Address&gt; args…</c> with a 60 s timeout. Put <c>-n &lt;ns&gt;</c> first for another namespace.</summary>
    public CommandResult Ctr(params string[] args) => Ctr(Commands.DefaultTimeout, args);

    public CommandResult Ctr(TimeSpan timeout, params string[] args) =>
        Commands.Run(CtrBinary, new[] { "--address", Address }.Concat(args), timeout);

    /// <summary>Like <see cref="Ctr(string[])"/> but throws <see cref="CommandFailedException"/> (with stderr) unless it exits 0; returns stdout.</summary>
    public string CtrOk(params string[] args) => Ctr(args).EnsureSuccess().Stdout;

    /// <summary>Removes a test's task and container of the default namespace, whatever state they
    /// are in: SIGKILL to every process, the task deleted once the kill has landed (delete refuses
    /// a task that has not stopped; "not found" means it is gone), then the container. Returns the
    /// last task delete's result.</summary>
    public CommandResult RemoveTask(string id)
    {
        Ctr("tasks", "kill", "-a", "-s", "KILL", id);
        var deleted = Ctr("tasks", "delete", "-f", id);
        for (var i = 0; i < 50 && !deleted.Succeeded && !deleted.Stderr.Contains("not found", StringComparison.Ordinal); i++)
        {
            Thread.Sleep(100);
            deleted = Ctr("tasks", "delete", "-f", id);
        }
        Ctr("containers", "delete", id);
        return deleted;
    }

    /// <summary>
    /// A gRPC channel to <see cref="Address"/> (HTTP/2 over the Unix socket) for CRI clients
    /// (<c>new Cri.V1.RuntimeService.RuntimeServiceClient(channel)</c>) or containerd's own API.
    /// The caller disposes it.
    /// </summary>
    public GrpcChannel OpenGrpcChannel() => Csrt.TestSupport.UnixSocketGrpc.Open(Address);

    /// <summary>The whole containerd log so far.</summary>
    public string ReadLog()
    {
        using var s = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    /// <summary>
    /// Stops containerd with SIGTERM to containerd only: shims live in their own process groups
    /// and keep running with their tasks, as under systemd's KillMode=process.
    /// </summary>
    public Task StopAsync() => Task.Run(Stop);

    /// <inheritdoc cref="StopAsync"/>
    public void Stop()
    {
        var p = process;
        if (p is null || p.HasExited)
            return;
        Signals.Send(p.Id, Signals.SIGTERM);
        if (!p.WaitForExit(15_000))
        {
            Signals.Send(p.Id, Signals.SIGKILL);
            p.WaitForExit(5_000);
            throw new TimeoutException($"containerd (pid {p.Id}) did not exit within 15 s of SIGTERM; killed it. Log: {LogPath}");
        }
    }

    /// <summary>Stops containerd (if running) and starts it again with the same config; waits until it answers.</summary>
    public void Restart()
    {
        Stop();
        Launch();
        WaitForCriAfterRestart();
    }

    /// <summary>
    /// containerd answers `ctr version` before its CRI plugin has reloaded its pods and containers;
    /// until then every CRI call fails with "server is not initialized yet". Waits until CRI's
    /// Status answers (a containerd without the CRI plugin answers Unimplemented: nothing to wait for).
    /// </summary>
    private void WaitForCriAfterRestart()
    {
        using var channel = OpenGrpcChannel();
        var cri = new Cri.V1.RuntimeService.RuntimeServiceClient(channel);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                cri.Status(new Cri.V1.StatusRequest(), deadline: DateTime.UtcNow.AddSeconds(5));
                return;
            }
            catch (Grpc.Core.RpcException e) when (e.StatusCode == Grpc.Core.StatusCode.Unimplemented)
            {
                return;
            }
            catch (Grpc.Core.RpcException e)
            {
                if (deadline.Elapsed > options.StartTimeout)
                    throw new TimeoutException($"containerd's CRI did not answer Status within {options.StartTimeout.TotalSeconds:0} s after a restart: {e.Status.Detail}; log:\n{LogTail()}");
                Thread.Sleep(50);
            }
        }
    }

    public Task RestartAsync() => Task.Run(Restart);

    /// <summary>
    /// Kills and deletes every task and container containerd knows (all namespaces), stops
    /// containerd, SIGKILLs any shim of this instance still alive (and its children) and runs the
    /// shims' own <c>delete</c> for bundles left behind, unmounts everything under its directories
    /// and CRI's network namespaces, deletes the bridge and the directories, and frees the slot.
    /// </summary>
    public void Dispose()
    {
        if (disposed)
            return;
        disposed = true;
        try
        {
            var netns = new List<string>();
            if (IsRunning)
                netns = RemoveEverything();
            try
            {
                Stop();
            }
            catch (TimeoutException)
            {
                // Stop killed it; the teardown below still has to run.
            }
            Teardown(netns);
        }
        finally
        {
            process?.Dispose();
            slotLock?.Dispose();
            slotLock = null;
        }
    }

    /// <summary>
    /// Test hook: lets go of the slot without cleaning anything up, as a crashed test run would;
    /// the next <see cref="Start"/> must clean up after it. Dispose does nothing afterwards.
    /// </summary>
    internal void Abandon()
    {
        disposed = true;
        slotLock?.Dispose();
        slotLock = null;
    }

    private static (int Slot, FileStream Lock) AcquireSlot()
    {
        for (var i = 0; i < MaxSlots; i++)
        {
            if (TryLockSlot(i) is { } lockFile)
                return (i, lockFile);
        }
        throw new InvalidOperationException($"all {MaxSlots} private containerd slots in {SlotsDir} are taken; expected some instance to be disposed");
    }

    private static string SlotsDir => Path.Combine(RepoPaths.RunDir, "slots");

    /// <summary>FileShare.None takes an exclusive flock: held while an instance lives, released by the kernel if its process dies.</summary>
    private static FileStream? TryLockSlot(int slot)
    {
        Directory.CreateDirectory(SlotsDir);
        try
        {
            return new FileStream(Path.Combine(SlotsDir, $"ctd{slot}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            return null; // Taken by another instance in this or another process.
        }
    }

    /// <summary>
    /// Cleans up after instances of crashed test runs in slots nobody holds, so their containerd,
    /// shims, mounts and bridges do not outlive them until the slot happens to be taken again.
    /// </summary>
    private static void SweepAbandonedSlots(PrivateContainerdOptions options)
    {
        for (var i = 0; i < MaxSlots; i++)
        {
            if (!Directory.Exists(Path.Combine(RepoPaths.RunDir, $"ctd{i}")) && !Directory.Exists(Path.Combine(RepoPaths.VarDir, $"ctd{i}")))
                continue;
            if (TryLockSlot(i) is not { } lockFile)
                continue;
            var abandoned = new PrivateContainerd(i, lockFile, options);
            try
            {
                abandoned.Teardown([]);
            }
            finally
            {
                abandoned.disposed = true;
                lockFile.Dispose();
            }
        }
    }

    private void WriteFiles()
    {
        Directory.CreateDirectory(Dir);
        Directory.CreateDirectory(State);
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(CniConfDir);
        StreamPort = FreeTcpPort();
        File.WriteAllText(Path.Combine(CniConfDir, "10-csrt.conflist"), CniConflist());
        File.WriteAllText(ConfigPath, ConfigToml());
    }

    /// <summary>The containerd config this instance runs with.</summary>
    public string ConfigToml()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $$"""
            # Generated by the csrt integration tests (PrivateContainerd, slot {{Slot}}).
            version = 2
            root = "{{Root}}"
            state = "{{State}}"
            # Plugins that cannot work on this host (no aufs/btrfs/zfs/devmapper) or are not used:
            # disabled so start-up is quick and the log clean. io.containerd.runtime.v1.linux must
            # stay: the tasks service of 1.6 refuses to load without a v1 runtime.
            disabled_plugins = [
              "io.containerd.snapshotter.v1.aufs",
              "io.containerd.snapshotter.v1.btrfs",
              "io.containerd.snapshotter.v1.devmapper",
              "io.containerd.snapshotter.v1.zfs",
              "io.containerd.tracing.processor.v1.otlp",
              "io.containerd.internal.v1.tracing",
            ]

            [grpc]
              address = "{{Address}}"

            [ttrpc]
              address = "{{TtrpcAddress}}"

            [debug]
              address = ""
              level = "{{options.LogLevel}}"

            [metrics]
              address = ""

            [plugins."io.containerd.internal.v1.opt"]
              path = "{{Path.Combine(VarDir, "opt")}}"

            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "{{TestImages.PauseImage}}"
              # Root here lacks CAP_SYS_RESOURCE: never ask for an oom_score_adj below containerd's own.
              restrict_oom_score_adj = true
              disable_apparmor = true
              stream_server_address = "127.0.0.1"
              stream_server_port = "{{StreamPort}}"

              [plugins."io.containerd.grpc.v1.cri".containerd]
                snapshotter = "overlayfs"
                default_runtime_name = "runc"

                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "{{RuncRuntime}}"

                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.csrt]
                  runtime_type = "{{CsrtRuntime}}"

              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "{{CniBinDir}}"
                conf_dir = "{{CniConfDir}}"
                max_conf_num = 1

            """);
        if (options.ExtraToml is { Length: > 0 } extra)
            sb.Append('\n').Append(extra).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// The CNI conflist: a bridge on this slot's subnet (no IP masquerade, so no iptables rules
    /// to leak) with host-local IPAM state under <see cref="VarDir"/>, then loopback (which passes
    /// the bridge's result through; containerd also brings lo up itself).
    /// </summary>
    public string CniConflist() => $$"""
        {
          "cniVersion": "0.4.0",
          "name": "{{CniNetworkName}}",
          "plugins": [
            {
              "type": "bridge",
              "bridge": "{{BridgeName}}",
              "isGateway": true,
              "ipMasq": false,
              "hairpinMode": true,
              "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": "{{Subnet}}" }]],
                "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": "{{Path.Combine(VarDir, "cni-ipam")}}"
              }
            },
            { "type": "loopback" }
          ]
        }
        """;

    private void Launch()
    {
        var binDir = options.BinDir ?? RepoPaths.BinDir;
        var psi = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            // containerd looks for shims in its cwd first (protocol doc §1.1): keep that ours.
            WorkingDirectory = Dir,
            // containerd resolves containerd-shim-csrt-v2 through its PATH (protocol doc §1.1).
            Environment = { ["PATH"] = $"{binDir}:{Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin"}" },
        };
        // exec: the pid we hold is containerd's own; its output goes straight to the log file.
        foreach (var a in new[] { "-c", "exec \"$0\" --config \"$1\" </dev/null >>\"$2\" 2>&1", ContainerdBinary, ConfigPath, LogPath })
            psi.ArgumentList.Add(a);
        process?.Dispose();
        process = Process.Start(psi) ?? throw new InvalidOperationException("could not start /bin/sh to exec containerd");

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"containerd exited with {process.ExitCode} during start-up (expected it to serve {Address}); log:\n{LogTail()}");
            if (File.Exists(Address) && Ctr(TimeSpan.FromSeconds(5), "version").Succeeded)
                return;
            if (deadline.Elapsed > options.StartTimeout)
                throw new TimeoutException($"containerd did not answer on {Address} within {options.StartTimeout.TotalSeconds:0} s; log:\n{LogTail()}");
            Thread.Sleep(20);
        }
    }

    private void ImportTestImages(TestImages images)
    {
        // k8s.io first: CRI learns of images there through events, and gets the most time to do so.
        foreach (var ns in new[] { CriNamespace, DefaultNamespace })
        {
            foreach (var tarball in new[] { images.PauseTarball, images.BusyboxTarball })
                Ctr(TimeSpan.FromMinutes(2), "-n", ns, "images", "import", tarball).EnsureSuccess();
        }
        WaitForCriImages();
    }

    /// <summary>
    /// CRI adds imported k8s.io images to its own cache asynchronously (and then labels them
    /// io.cri-containerd.image=managed); a pod started before that would try to pull the pause
    /// image from a registry. Waits until both images carry the label.
    /// </summary>
    private void WaitForCriImages()
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var list = Ctr("-n", CriNamespace, "images", "ls").EnsureSuccess().Stdout.Split('\n');
            if (new[] { TestImages.PauseImage, TestImages.BusyboxImage }.All(name =>
                    list.Any(l => l.StartsWith(name + " ", StringComparison.Ordinal) && l.Contains("io.cri-containerd.image=managed", StringComparison.Ordinal))))
                return;
            if (deadline.Elapsed > TimeSpan.FromSeconds(15))
                throw new TimeoutException($"CRI did not pick up the imported images within 15 s (expected the io.cri-containerd.image=managed label); images:\n{string.Join('\n', list)}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Kills and deletes all tasks and containers through containerd; returns CRI's netns paths to remove.</summary>
    private List<string> RemoveEverything()
    {
        var netns = new List<string>();
        var timeout = TimeSpan.FromSeconds(20);
        var namespaces = Ctr(timeout, "namespaces", "ls", "-q");
        if (!namespaces.Succeeded)
            return netns;
        foreach (var ns in Lines(namespaces.Stdout))
        {
            var containers = Lines(Ctr(timeout, "-n", ns, "containers", "ls", "-q").Stdout);
            foreach (var id in containers)
            {
                var info = Ctr(timeout, "-n", ns, "containers", "info", id);
                if (info.Succeeded)
                    netns.AddRange(NetworkNamespacePaths(info.Stdout, "Spec"));
            }
            var tasks = Lines(Ctr(timeout, "-n", ns, "tasks", "ls", "-q").Stdout);
            foreach (var id in tasks)
                Ctr(timeout, "-n", ns, "tasks", "kill", "-a", "-s", "SIGKILL", id);
            foreach (var id in tasks)
            {
                // delete refuses a task that has not stopped yet: give the SIGKILL a moment. CRI
                // deletes the tasks of its containers itself when they exit: "not found" is done.
                for (var i = 0; i < 50; i++)
                {
                    var delete = Ctr(timeout, "-n", ns, "tasks", "delete", "-f", id);
                    if (delete.Succeeded || delete.Stderr.Contains("not found", StringComparison.Ordinal))
                        break;
                    Thread.Sleep(100);
                }
            }
            foreach (var id in containers)
                Ctr(timeout, "-n", ns, "containers", "delete", id);
        }
        return netns;
    }

    /// <summary>
    /// CRI gives each pod a network namespace bind-mounted under /var/run/netns and names it in
    /// the spec; reads those paths from a spec (<paramref name="property"/> null) or from the spec
    /// held in that property of a JSON document (ctr containers info).
    /// </summary>
    private static List<string> NetworkNamespacePaths(string json, string? property)
    {
        var result = new List<string>();
        try
        {
            using var doc = JsonDocument.Parse(json);
            var spec = doc.RootElement;
            if ((property is null || spec.TryGetProperty(property, out spec))
                && spec.TryGetProperty("linux", out var linux)
                && linux.TryGetProperty("namespaces", out var nss))
            {
                foreach (var n in nss.EnumerateArray())
                {
                    if (n.TryGetProperty("type", out var t) && t.GetString() == "network"
                        && n.TryGetProperty("path", out var p) && p.GetString() is { } path
                        && (path.StartsWith("/var/run/netns/", StringComparison.Ordinal) || path.StartsWith("/run/netns/", StringComparison.Ordinal)))
                        result.Add(path);
                }
            }
        }
        catch (JsonException)
        {
            // Not a spec we understand: nothing to collect.
        }
        return result;
    }

    /// <summary>
    /// Removes whatever this slot's instance (live, or left by a crashed run) may have left:
    /// containerd itself, shims and their children, bundles (through the shim's own delete
    /// command), shim sockets, mounts, CRI's netns files and CNI cache entries, the bridge, the
    /// directories. <paramref name="netns"/> adds netns paths collected while containerd ran.
    /// </summary>
    private void Teardown(List<string> netns)
    {
        var stale = HostState.ProcessesWithArgument(ConfigPath).Where(p => HostState.Exe(p)?.EndsWith("/containerd", StringComparison.Ordinal) == true).ToList();
        HostState.KillAndWait(stale, TimeSpan.FromSeconds(10));

        // Shims carry "-address <our socket>" and run with their bundle as cwd.
        var shims = HostState.ProcessesWithCwdUnder(State)
            .Concat(HostState.AllPids().Where(p => HostState.CommandLine(p) is var a && a.Count > 0 && a.Contains(Address) && a[0].Contains("containerd-shim", StringComparison.Ordinal)))
            .Distinct().ToList();
        var doomed = shims.SelectMany(s => HostState.Descendants(s).Prepend(s)).Distinct().ToList();
        HostState.KillAndWait(doomed, TimeSpan.FromSeconds(10));

        // CRI's pod (sandbox) ids, to find the CNI cache entries of pods removed without CNI DEL.
        var sandboxes = Path.Combine(Root, "io.containerd.grpc.v1.cri", "sandboxes");
        var podIds = Directory.Exists(sandboxes) ? Directory.GetDirectories(sandboxes).Select(Path.GetFileName).OfType<string>().ToList() : [];

        var tasksDir = Path.Combine(State, "io.containerd.runtime.v2.task");
        if (Directory.Exists(tasksDir))
        {
            foreach (var nsDir in Directory.GetDirectories(tasksDir))
            {
                foreach (var bundle in Directory.GetDirectories(nsDir))
                {
                    var config = Path.Combine(bundle, "config.json");
                    if (File.Exists(config))
                        netns.AddRange(NetworkNamespacePaths(File.ReadAllText(config), null));
                    CleanUpBundle(Path.GetFileName(nsDir), bundle);
                }
            }
        }

        foreach (var path in netns.Distinct())
        {
            Mounts.TryUnmount(path, UnmountFlags.MNT_DETACH);
            File.Delete(path);
        }
        HostState.UnmountAllUnder(Dir);
        HostState.UnmountAllUnder(VarDir);

        // libcni caches each attachment's result as /var/lib/cni/results/<network>-<pod id>-<ifname>
        // (our network, and containerd's own "cni-loopback").
        const string cniCache = "/var/lib/cni/results";
        if (Directory.Exists(cniCache))
        {
            foreach (var f in Directory.GetFiles(cniCache, CniNetworkName + "-*").Concat(podIds.SelectMany(id => Directory.GetFiles(cniCache, $"*-{id}-*"))))
                File.Delete(f);
        }
        if (HostState.LinkExists(BridgeName))
            Commands.Run("ip", "link", "delete", BridgeName).EnsureSuccess();
        if (Directory.Exists(Dir))
            Directory.Delete(Dir, recursive: true);
        if (Directory.Exists(VarDir))
            Directory.Delete(VarDir, recursive: true);
    }

    /// <summary>
    /// What containerd does at start-up for a bundle whose shim is dead: run the shim binary's
    /// <c>delete</c> (it kills what is left of the container and unmounts its rootfs), then remove
    /// the shim's socket file from /run/containerd/s, which a killed shim cannot remove itself.
    /// </summary>
    private void CleanUpBundle(string ns, string bundle)
    {
        var id = Path.GetFileName(bundle);
        var binaryFile = Path.Combine(bundle, "shim-binary-path");
        if (File.Exists(binaryFile) && File.ReadAllText(binaryFile).Trim() is { Length: > 0 } shim && File.Exists(shim))
        {
            Commands.Run(shim, ["-namespace", ns, "-address", Address, "-publish-binary", ContainerdBinary, "-id", id, "-bundle", bundle, "delete"],
                TimeSpan.FromSeconds(10), workingDirectory: bundle);
        }
        var addressFile = Path.Combine(bundle, "address");
        if (File.Exists(addressFile) && File.ReadAllText(addressFile).Trim() is { } a
            && a.StartsWith("unix:///run/containerd/s/", StringComparison.Ordinal))
        {
            var socket = a["unix://".Length..];
            if (File.Exists(socket) && !Answers(socket))
                File.Delete(socket);
        }
    }

    private static bool Answers(string socketPath)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            s.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FreeTcpPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private string LogTail()
    {
        try
        {
            var lines = ReadLog().Split('\n');
            return string.Join('\n', lines.TakeLast(40));
        }
        catch (IOException e)
        {
            return $"<no log at {LogPath}: {e.Message}>";
        }
    }

    private static string[] Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
