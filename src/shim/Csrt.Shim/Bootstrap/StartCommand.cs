using System.Text;
using System.Text.Json;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Lifecycle;
using Google.Protobuf;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// `start`: containerd runs it for every task with the bundle as cwd. It prints the address of
/// the shim serving the task's group (pod) and nothing else: the address of a live shim of the same
/// group, or of a new daemon it spawns with the already-listening socket as fd 3, so containerd's
/// connect never races the daemon's start-up. The answer is that bare address for every
/// containerd version: 1.6 and 1.7 read nothing else, and 2.0-2.3 fall back to it (2.3 after its
/// stdout fails to parse as a protobuf BootstrapResult, which a unix:// address always does).
/// stdin is read as <see cref="StartInput"/> describes.
/// <para>
/// It runs once per task, so it stays small (hack/bench/shim): raw syscalls for the socket and
/// stdio (no System.Net.Sockets, no Console), a managed SHA-256 (no OpenSSL), and a scan of
/// config.json for the grouping annotations instead of loading the whole spec.
/// </para>
/// </summary>
public static class StartCommand
{
    public static int Run(ShimFlags flags)
    {
        if (flags.Namespace.Length == 0)
            throw new ArgumentException("shim namespace cannot be empty (-namespace)");
        // Checked before anything is created, so a refused start leaves nothing behind.
        var input = StartInput.Parse(StartInput.ReadStdin(), flags.Id, flags.Namespace);
        var group = GroupId(flags.Id);
        var address = ShimPaths.SocketAddress(input.SocketDirectory, flags.Address, flags.Namespace, group);
        var path = address["unix://".Length..];
        Files.MakeDirectories(input.SocketDirectory, FileModes.UserAll);

        var listener = Bind(path, out var existing);
        if (existing)
        {
            WriteAddressFile(address);
            WriteStdout(address);
            return 0;
        }
        try
        {
            WriteAddressFile(address);
            SpawnDaemon(flags, input, listener!);
        }
        catch
        {
            Files.TryUnlink(path);
            throw;
        }
        finally
        {
            // The daemon has its own copy (fd 3).
            listener?.Dispose();
        }
        WriteStdout(address);
        return 0;
    }

    private static void WriteStdout(string text) => Files.WriteAll(FileDescriptor.Borrow(1), Encoding.UTF8.GetBytes(text));

    /// <summary>The pod's sandbox id, or an explicit group, or the task itself.</summary>
    private static string GroupId(string id)
    {
        byte[] json;
        try
        {
            json = File.ReadAllBytes("config.json");
        }
        catch (IOException)
        {
            return id;
        }
        return GroupAnnotation(json) is { Length: > 0 } g ? g : id;
    }

    /// <summary>
    /// The group annotation (or else the CRI sandbox id) from the top-level "annotations" object of
    /// a config.json, by a forward scan that skips everything else. A config.json that is not valid
    /// JSON groups by task id; Create then fails on it with a precise message.
    /// </summary>
    internal static string? GroupAnnotation(ReadOnlySpan<byte> json)
    {
        string? group = null, sandbox = null;
        if (json.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            json = json[3..];
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var annotations = reader.ValueTextEquals("annotations"u8);
                reader.Read();
                if (!annotations || reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var key = reader.GetString();
                    reader.Read();
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        reader.Skip();
                        continue;
                    }
                    if (key == ShimPaths.GroupAnnotation)
                        group = reader.GetString();
                    else if (key == ShimPaths.SandboxIdAnnotation)
                        sandbox = reader.GetString();
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return group is { Length: > 0 } ? group : sandbox;
    }

    /// <summary>The Go shim's: a burst of clients (every pod's CRI calls share one shim) must
    /// queue, not get EAGAIN. The kernel caps it at net.core.somaxconn.</summary>
    private const int ListenBacklog = 4096;

    /// <summary>Binds and listens; when the path is in use and a shim answers there, returns null
    /// with <paramref name="existing"/> set; a stale socket nobody answers is replaced.</summary>
    private static FileDescriptor? Bind(string path, out bool existing)
    {
        existing = false;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                var socket = UnixSockets.Listen(path, ListenBacklog);
                try
                {
                    Files.Chmod(path, FileModes.UserReadWrite);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
                return socket;
            }
            catch (SyscallException e) when (e.Errno == Errno.EADDRINUSE)
            {
                if (UnixSockets.Probe(path))
                {
                    existing = true;
                    return null;
                }
                Files.TryUnlink(path);
            }
        }
        throw new IOException($"cannot bind the shim socket {path}: still in use after removing a stale one");
    }

    private static void WriteAddressFile(string address) =>
        Files.WriteAtomic(Path.GetFullPath("address"), Encoding.UTF8.GetBytes(address), FileModes.UserReadWriteOthersRead);

    /// <summary>Re-executes this binary in serve mode: new session, stdio on /dev/null (containerd
    /// waits for EOF on our stdout), the listening socket as fd 3.</summary>
    private static void SpawnDaemon(ShimFlags flags, StartInput input, FileDescriptor listener)
    {
        var self = Files.ReadLink("/proc/self/exe");
        var args = new List<string> { self, "-namespace", flags.Namespace, "-id", flags.Id, "-address", flags.Address };
        if (flags.Debug || input.Debug)
            args.Add("-debug");
        var env = new List<string>();
        var defaults = new Dictionary<string, string>(DaemonDefaults, StringComparer.Ordinal);
        // containerd 2.3 still sets TTRPC_ADDRESS; its BootstrapParams copy is the fallback.
        if (input.Params is { ContainerdTtrpcAddress.Length: > 0 } p)
            defaults["TTRPC_ADDRESS"] = p.ContainerdTtrpcAddress;
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var key = (string)e.Key;
            defaults.Remove(key);
            env.Add(key + "=" + e.Value);
        }
        foreach (var (key, value) in defaults)
            env.Add(key + "=" + value);
        // The daemon clones every process it execs into a container, and a clone's
        // /proc/self/exe is the daemon's executable until the user program replaces it: that must
        // not be the host's file (CVE-2019-5736, the exec variant), so the daemon runs from the
        // same sealed view of this binary as the container inits.
        var sealedBinary = ServeCommand.SealedSelf(self);
        env.Add(ServeCommand.SealedMarker + "=1");
        if (input.Options is { } runtimeOptions)
            env.Add(ShimOptions.DaemonEnvironment + "=" + Convert.ToBase64String(runtimeOptions.ToByteArray()));
        using var devNull = Files.Open("/dev/null", OpenFlags.O_RDWR);
        var options = new SpawnOptions { ExecutableFd = sealedBinary.Fd, Args = args, Env = env, NewSession = true };
        options.Files.Add((devNull, 0));
        options.Files.Add((devNull, 1));
        options.Files.Add((devNull, 2));
        options.Files.Add((listener, 3));
        using var spawned = Spawn.Start(options);
        var pid = spawned.Complete(TimeSpan.FromSeconds(10));
        // As the runc shim: the daemon joins the handler's ShimCgroup, and start fails if it cannot.
        if (input.Settings.ShimCgroup is { Length: > 0 } shimCgroup)
        {
            try
            {
                ContainerRuntime.MoveIntoCgroup(pid, shimCgroup);
            }
            catch (CsrtException e)
            {
                Signals.Send(pid, Signals.SIGKILL);
                throw new CsrtException(e.Kind, $"runtime option ShimCgroup: {e.Message}", e);
            }
        }
        // One above containerd's score, as the runc shim does (raising needs no privilege).
        try
        {
            var containerdScore = ProcessControl.GetOomScoreAdj(ProcessControl.GetParentPid());
            ProcessControl.SetOomScoreAdj(pid, Math.Min(1000, containerdScore + 1));
        }
        catch (SyscallException)
        {
        }
    }

    /// <summary>
    /// The daemon's environment unless containerd's sets them: a shim lives as long as its pod and
    /// its RSS is a per-pod cost (hack/bench/shim). A small gen0 budget instead of the cache-size
    /// default keeps an idle shim's heap small (NativeAOT reads GC settings from the environment
    /// only).
    /// </summary>
    private static readonly KeyValuePair<string, string>[] DaemonDefaults =
    [
        new("DOTNET_GCgen0size", "100000"),
        new("DOTNET_GCConserveMemory", "7"),
    ];
}
