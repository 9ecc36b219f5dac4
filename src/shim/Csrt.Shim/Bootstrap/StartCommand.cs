using System.Net.Sockets;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Spec;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// `start`: containerd runs it for every task with the bundle as cwd. It prints the address of
/// the shim serving the task's group (pod) and nothing else: the address of a live shim of the same
/// group, or of a new daemon it spawns with the already-listening socket as fd 3, so containerd's
/// connect never races the daemon's start-up.
/// </summary>
public static class StartCommand
{
    public static int Run(ShimFlags flags)
    {
        if (flags.Namespace.Length == 0)
            throw new ArgumentException("shim namespace cannot be empty (-namespace)");
        ReadOptionsFromStdin();
        var group = GroupId(flags.Id);
        var address = ShimPaths.SocketAddress(flags.Address, flags.Namespace, group);
        var path = address["unix://".Length..];
        Files.MakeDirectories(ShimPaths.SocketDirectory, 0x1c0);

        var listener = Bind(path, out var existing);
        if (existing)
        {
            WriteAddressFile(address);
            Console.OpenStandardOutput().Write(Encoding.UTF8.GetBytes(address));
            return 0;
        }
        try
        {
            WriteAddressFile(address);
            SpawnDaemon(flags, listener!);
        }
        catch
        {
            listener!.Dispose();
            Files.TryUnlink(path);
            throw;
        }
        // Not disposed: .NET unlinks the path of a Unix socket it bound when the socket is closed,
        // and the daemon now serves on it. Our copy of the fd goes away when this process exits.
        GC.KeepAlive(listener);
        Console.OpenStandardOutput().Write(Encoding.UTF8.GetBytes(address));
        return 0;
    }

    /// <summary>The options Any containerd writes on stdin (or /dev/null): read to EOF so
    /// containerd's write never blocks. csrt needs none of runc's options.</summary>
    private static void ReadOptionsFromStdin()
    {
        using var stdin = Console.OpenStandardInput();
        stdin.CopyTo(Stream.Null);
    }

    /// <summary>The pod's sandbox id, or an explicit group, or the task itself.</summary>
    private static string GroupId(string id)
    {
        try
        {
            var spec = SpecLoader.Load("config.json", new SpecValidationOptions { RequireProcess = false });
            if (spec.Annotations is { } a)
            {
                if (a.TryGetValue(ShimPaths.GroupAnnotation, out var g) && g.Length > 0)
                    return g;
                if (a.TryGetValue(ShimPaths.SandboxIdAnnotation, out var s) && s.Length > 0)
                    return s;
            }
        }
        catch (SpecValidationException)
        {
            // A bad config.json fails at Create with a precise message; grouping falls back to the id.
        }
        return id;
    }

    /// <summary>Binds and listens; when the path is in use and a shim answers there, returns null
    /// with <paramref name="existing"/> set; a stale socket nobody answers is replaced.</summary>
    private static Socket? Bind(string path, out bool existing)
    {
        existing = false;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Bind(new UnixDomainSocketEndPoint(path));
                Files.Chmod(path, 0x180);
                socket.Listen(64);
                return socket;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                socket.Dispose();
                if (Answers(path))
                {
                    existing = true;
                    return null;
                }
                Files.TryUnlink(path);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw new IOException($"cannot bind the shim socket {path}: still in use after removing a stale one");
    }

    private static bool Answers(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            var connect = probe.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return connect.Wait(TimeSpan.FromMilliseconds(100)) && probe.Connected;
        }
        catch (AggregateException)
        {
            return false;
        }
    }

    private static void WriteAddressFile(string address) =>
        Files.WriteAtomic(Path.GetFullPath("address"), Encoding.UTF8.GetBytes(address), 0x1a4);

    /// <summary>Re-executes this binary in serve mode: new session, stdio on /dev/null (containerd
    /// waits for EOF on our stdout), the listening socket as fd 3.</summary>
    private static void SpawnDaemon(ShimFlags flags, Socket listener)
    {
        var self = Files.ReadLink("/proc/self/exe");
        var args = new List<string> { self, "-namespace", flags.Namespace, "-id", flags.Id, "-address", flags.Address };
        if (flags.Debug)
            args.Add("-debug");
        var env = new List<string>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var key = (string)e.Key;
            if (!key.StartsWith("DOTNET_GC", StringComparison.Ordinal))
                env.Add(key + "=" + e.Value);
        }
        // The daemon's heap stays small: a shim lives as long as its pod, and its RSS is a
        // per-pod cost (measured with hack/bench). gen0 budget 1 MiB instead of the cache-size default.
        env.Add("DOTNET_GCgen0size=100000");
        env.Add("DOTNET_GCConserveMemory=7");
        using var devNull = Files.Open("/dev/null", OpenFlags.O_RDWR);
        using var socket = new FileDescriptor(Files.Duplicate(FileDescriptor.Borrow((int)listener.Handle)).Release());
        var options = new SpawnOptions { ExecutablePath = self, Args = args, Env = env, NewSession = true };
        options.Files.Add((devNull, 0));
        options.Files.Add((devNull, 1));
        options.Files.Add((devNull, 2));
        options.Files.Add((socket, 3));
        using var spawned = Spawn.Start(options);
        var pid = spawned.Complete(TimeSpan.FromSeconds(10));
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
}
