using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using Cri.V1;
using Grpc.Core;
using Grpc.Net.Client;

namespace Csrt.TestSupport;

/// <summary>
/// What <see cref="CriPod"/> needs of the containerd it talks to: the integration lane's private
/// containerd on the host, or the VM lane's containerd in the guest (reached through an ssh forward).
/// </summary>
internal interface ICriContainerd
{
    /// <summary>A directory of this containerd's that the test process can read; pods' log directories go below it.</summary>
    string Dir { get; }

    /// <summary>A gRPC channel to containerd's socket; the caller disposes it.</summary>
    GrpcChannel OpenGrpcChannel();

    /// <summary>containerd's log so far (the shims' logs included), for failure messages.</summary>
    string ReadLog();
}

/// <summary>gRPC (HTTP/2) over a Unix socket.</summary>
internal static class UnixSocketGrpc
{
    /// <summary>A channel to the gRPC server listening on <paramref name="socket"/>; the caller disposes it.</summary>
    public static GrpcChannel Open(string socket)
    {
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, cancellationToken) =>
                {
                    var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
                        return new NetworkStream(s, ownsSocket: true);
                    }
                    catch
                    {
                        s.Dispose();
                        throw;
                    }
                },
            },
        });
    }
}

/// <summary>
/// A CRI pod for one test: RunPodSandbox on a runtime handler (default "csrt") of an
/// <see cref="ICriContainerd"/>, containers created from the busybox test image, and a
/// DisposeAsync that stops and removes the pod (and so its containers) whatever the test left.
/// Linked into both test lanes.
/// </summary>
internal sealed class CriPod : IAsyncDisposable
{
    /// <summary>The busybox image of hack/images/build.sh, imported into CRI's namespace by the fixtures.</summary>
    public const string BusyboxImage = "localhost/csrt/busybox:latest";

    private readonly GrpcChannel _channel;

    private CriPod(ICriContainerd containerd, GrpcChannel channel, PodSandboxConfig config)
    {
        Containerd = containerd;
        _channel = channel;
        Config = config;
        Cri = new RuntimeService.RuntimeServiceClient(channel);
    }

    public ICriContainerd Containerd { get; }

    public RuntimeService.RuntimeServiceClient Cri { get; }

    public PodSandboxConfig Config { get; }

    public string Id { get; private set; } = "";

    public string LogDirectory => Config.LogDirectory;

    /// <summary>Every CRI call of these tests gets this deadline: generous, the machine has 2 loaded cores.</summary>
    public static DateTime Deadline => DateTime.UtcNow.AddSeconds(90);

    public static async Task<CriPod> StartAsync(ICriContainerd containerd, string name, string handler = "csrt", LinuxPodSandboxConfig? linux = null)
    {
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Namespace = "default", Uid = NewId("uid"), Attempt = 1 },
            Hostname = name,
            LogDirectory = Path.Combine(containerd.Dir, "pod-logs", NewId(name)),
            Linux = linux ?? new LinuxPodSandboxConfig(),
        };
        var channel = containerd.OpenGrpcChannel();
        var pod = new CriPod(containerd, channel, config);
        try
        {
            pod.Id = (await pod.Call("RunPodSandbox", async () => await pod.Cri.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = handler }, deadline: Deadline))).PodSandboxId;
            return pod;
        }
        catch
        {
            await pod.DisposeAsync();
            throw;
        }
    }

    /// <summary>A busybox container config named <paramref name="name"/> running <paramref name="command"/>, logging to &lt;name&gt;.log.</summary>
    public static ContainerConfig Busybox(string name, params string[] command) => new()
    {
        Metadata = new ContainerMetadata { Name = name },
        Image = new ImageSpec { Image = BusyboxImage },
        Command = { command },
        LogPath = name + ".log",
        Linux = new LinuxContainerConfig(),
    };

    /// <summary>
    /// Runs a CRI call; one that hangs past <see cref="Deadline"/> fails naming the call, with the
    /// end of containerd's log (the shims' logs included) to tell where it hung.
    /// </summary>
    public async Task<T> Call<T>(string what, Func<Task<T>> call)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            return await call();
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.DeadlineExceeded && clock.Elapsed > TimeSpan.FromSeconds(80))
        {
            var log = Containerd.ReadLog().Split('\n');
            throw new TimeoutException($"CRI {what} did not answer within its deadline; containerd log tail:\n{string.Join('\n', log.TakeLast(80))}", e);
        }
    }

    /// <summary>A fresh name: <c>&lt;prefix&gt;-&lt;12 hex&gt;</c>.</summary>
    private static string NewId(string prefix) => $"{prefix}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";

    public async Task<string> CreateContainerAsync(ContainerConfig config) =>
        (await Call($"CreateContainer {config.Metadata.Name}", async () => await Cri.CreateContainerAsync(new CreateContainerRequest { PodSandboxId = Id, SandboxConfig = Config, Config = config }, deadline: Deadline))).ContainerId;

    public async Task<string> StartContainerAsync(ContainerConfig config)
    {
        var id = await CreateContainerAsync(config);
        await Call($"StartContainer {config.Metadata.Name}", async () => await Cri.StartContainerAsync(new StartContainerRequest { ContainerId = id }, deadline: Deadline));
        return id;
    }

    public async Task<ContainerStatus> StatusAsync(string id) =>
        (await Call($"ContainerStatus {id}", async () => await Cri.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id }, deadline: Deadline))).Status;

    /// <summary>Polls ContainerStatus until the container is in <paramref name="state"/>; throws with the last status on timeout.</summary>
    public async Task<ContainerStatus> WaitForStateAsync(string id, ContainerState state, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await StatusAsync(id);
            if (status.State == state)
                return status;
            if (clock.Elapsed > limit)
                throw new TimeoutException($"container {id} is still {status.State} after {limit.TotalSeconds:0} s (expected {state}); status: {status}");
            await Task.Delay(100);
        }
    }

    public async Task<ExecSyncResponse> ExecSyncAsync(string id, long timeoutSeconds, params string[] cmd) =>
        await Call($"ExecSync {string.Join(' ', cmd)}", async () => await Cri.ExecSyncAsync(new ExecSyncRequest { ContainerId = id, Cmd = { cmd }, Timeout = timeoutSeconds }, deadline: Deadline));

    public string LogPath(string name) => Path.Combine(LogDirectory, name + ".log");

    /// <summary>The CRI log file of container <paramref name="name"/> ("" while it does not exist).</summary>
    public string ReadLog(string name)
    {
        var path = LogPath(name);
        if (!File.Exists(path))
            return "";
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    /// <summary>Waits until the log of <paramref name="name"/> contains <paramref name="text"/>; returns the whole log.</summary>
    public async Task<string> WaitForLogAsync(string name, string text, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var log = ReadLog(name);
            if (log.Contains(text, StringComparison.Ordinal))
                return log;
            if (clock.Elapsed > limit)
                throw new TimeoutException($"the CRI log of {name} ({LogPath(name)}) has no \"{text}\" after {limit.TotalSeconds:0} s; it holds:\n{log}");
            await Task.Delay(100);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Id.Length > 0)
            {
                try
                {
                    await Cri.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = Id }, deadline: Deadline);
                }
                catch (RpcException)
                {
                    // Still try to remove it (containerd may have been restarted by the test).
                }
                await Cri.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = Id }, deadline: Deadline);
            }
        }
        finally
        {
            _channel.Dispose();
        }
    }
}
