using System.Security.Cryptography;
using System.Text;
using Containerd.Runtime.Bootstrap.V1;
using Containerd.Services.Events.Ttrpc.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Server;
using Csrt.Ttrpc.Transport;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Xunit;
using Xunit.Abstractions;
using Extension = Containerd.Runtime.Bootstrap.V1.Extension;
using TaskV2 = Containerd.Task.V2;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// `start` as containerd 2.3 runs it (facts sheet §1: flags, environment, a protobuf
/// BootstrapParams on stdin naming a socket directory) and as containerd 1.6 runs it (the same
/// flags, the options Any on stdin), side by side: both must print an answer their containerd
/// takes for a version-2 ttrpc address, and the shim behind it must serve a task, then answer
/// Connect and Pids to a containerd that restarted (§3.3). Malformed BootstrapParams must be
/// refused before anything is created.
/// </summary>
public sealed class ShimStartProtocolTests
{
    private const string ContainerdBinary = "/usr/bin/containerd";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);
    private readonly ITestOutputHelper _log;

    public ShimStartProtocolTests(ITestOutputHelper log) => _log = log;

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    private static string Hex() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    private static Any CriOptions() => new()
    {
        TypeUrl = "runtimeoptions.v1.Options",
        Value = new global::Containerd.RuntimeOptions.V1.Options { ConfigBody = ByteString.CopyFromUtf8("SystemdCgroup = false\n") }.ToByteString(),
    };

    /// <summary>Accepts the shim's event Forwards, as containerd's TTRPC_ADDRESS does.</summary>
    private sealed class EventSink : Events.EventsBase
    {
        public override Task<Empty> Forward(ForwardRequest request, ServerCallContext context) => Task.FromResult(new Empty());
    }

    /// <summary>containerd's side of one shim: its sockets, the shim's environment and command line.</summary>
    private sealed class FakeContainerd : IAsyncDisposable
    {
        private readonly TtrpcServer _events;
        private readonly Task _serving;

        public FakeContainerd(string tag)
        {
            Namespace = $"csrt-sp-{tag}-{Hex()}";
            GrpcAddress = Path.Combine(RepoPaths.RunDir, $"ctd-{tag}-{Hex()}.sock");
            TtrpcAddress = GrpcAddress + ".ttrpc";
            _events = new TtrpcServer(new TtrpcServerOptions { RequireSameUser = true });
            Events.BindService(_events, new EventSink());
            _serving = _events.ListenAndServeAsync(UnixSocketAddress.FromPath(TtrpcAddress));
        }

        public string Namespace { get; }

        public string GrpcAddress { get; }

        public string TtrpcAddress { get; }

        /// <summary>Command.Env of pkg/shim/util.go (1.7.13, 2.1.9, 2.3.4 alike).</summary>
        public Dictionary<string, string> Environment => new()
        {
            ["GOMAXPROCS"] = "2",
            ["MAX_SHIM_VERSION"] = "2",
            ["TTRPC_ADDRESS"] = TtrpcAddress,
            ["GRPC_ADDRESS"] = GrpcAddress,
            ["NAMESPACE"] = Namespace,
        };

        public RawResult Start(string id, string bundle, byte[] stdin) =>
            RawCommand.Run(RepoPaths.RequireBinary(RepoPaths.ShimBinary),
                ["-namespace", Namespace, "-address", GrpcAddress, "-publish-binary", ContainerdBinary, "-id", id, "start"],
                stdin, Environment, bundle);

        public async ValueTask DisposeAsync()
        {
            await _events.DisposeAsync();
            try
            {
                await _serving;
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
            }
            File.Delete(TtrpcAddress);
        }
    }

    public static TheoryData<string> Versions => new() { "1.6", "2.3" };

    [Theory]
    [MemberData(nameof(Versions))]
    public async Task StartAnswersABareAddressThatServesATaskAndAnswersConnectAndPidsAfterARestart(string version)
    {
        await using var containerd = new FakeContainerd(version.Replace(".", "", StringComparison.Ordinal));
        var id = TestBundle.NewId("startp");
        using var bundle = TestBundle.Create(TestBundle.DefaultConfigJson(["sleep", "300"]), id);
        // containerd 2.3 with [plugins."io.containerd.shim.v1.manager"] socket_dir set.
        var socketDir = version == "2.3" ? $"/run/csrt-sp-{Hex()}" : "/run/containerd/s";
        byte[] stdin;
        if (version == "2.3")
        {
            var p = new BootstrapParams
            {
                InstanceId = id,
                Namespace = containerd.Namespace,
                LogLevel = LogLevel.Debug,
                ContainerdVersion = "2.3.4",
                ContainerdTtrpcAddress = containerd.TtrpcAddress,
                ContainerdGrpcAddress = containerd.GrpcAddress,
                ContainerdBinary = ContainerdBinary,
                SocketDir = socketDir,
            };
            p.Extensions.Add(new Extension { Value = CriOptions() });
            stdin = p.ToByteArray();
        }
        else
        {
            stdin = CriOptions().ToByteArray();
        }
        int shimPid = 0;
        try
        {
            var started = containerd.Start(id, bundle.Dir, stdin);
            Assert.True(started.ExitCode == 0, $"start exited {started.ExitCode}: {started.StderrText}");
            // containerd 2.3 first tries the raw output as a protobuf BootstrapResult; a bare address
            // must fail that and fall back to the legacy rules (a version-2 ttrpc address).
            Assert.ThrowsAny<InvalidProtocolBufferException>(() => BootstrapResult.Parser.ParseFrom(started.Stdout));
            var address = Encoding.UTF8.GetString(started.Stdout).Trim();
            Assert.Matches($"^unix://{socketDir}/[0-9a-f]{{64}}$", address);
            Assert.Equal(address, File.ReadAllText(Path.Combine(bundle.Dir, "address")));

            uint taskPid;
            await using (var channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(address)))
            {
                var client = new TaskV2.Task.TaskClient(channel);
                taskPid = (await client.CreateAsync(new TaskV2.CreateTaskRequest { Id = id, Bundle = bundle.Dir }, deadline: Deadline)).Pid;
                shimPid = (int)(await client.ConnectAsync(new TaskV2.ConnectRequest { Id = id }, deadline: Deadline)).ShimPid;
                await client.StartAsync(new TaskV2.StartRequest { Id = id }, deadline: Deadline);
            }

            // containerd restarted: it dials the address it kept (bootstrap.json from the answer, or
            // the address file), then Connect{id} and Pids{id}; an empty Pids would make 1.7+ call
            // the shim leaked and delete the task.
            await using (var channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromShimAddress(address)))
            {
                var client = new TaskV2.Task.TaskClient(channel);
                var connected = await client.ConnectAsync(new TaskV2.ConnectRequest { Id = id }, deadline: Deadline);
                Assert.Equal((uint)shimPid, connected.ShimPid);
                Assert.Equal(taskPid, connected.TaskPid);
                var pids = await client.PidsAsync(new TaskV2.PidsRequest { Id = id }, deadline: Deadline);
                Assert.Contains(taskPid, pids.Processes.Select(p => p.Pid));

                await client.KillAsync(new TaskV2.KillRequest { Id = id, Signal = 9 }, deadline: Deadline);
                Assert.Equal(137u, (await client.WaitAsync(new TaskV2.WaitRequest { Id = id }, deadline: Deadline)).ExitStatus);
                await client.DeleteAsync(new TaskV2.DeleteRequest { Id = id }, deadline: Deadline);
                try
                {
                    await client.ShutdownAsync(new TaskV2.ShutdownRequest { Id = id }, deadline: Deadline);
                }
                catch (RpcException closed) when (closed.StatusCode == StatusCode.Unavailable)
                {
                    // The shim may exit before its answer is written; containerd ignores that too.
                }
            }
            Assert.True(HostState.WaitGone([shimPid], TimeSpan.FromSeconds(20)), $"shim {shimPid} still running after Shutdown");
            Assert.False(File.Exists(address["unix://".Length..]), $"{address} left behind");
        }
        finally
        {
            if (shimPid == 0 && int.TryParse(File.Exists(Path.Combine(bundle.Dir, "shim.pid")) ? File.ReadAllText(Path.Combine(bundle.Dir, "shim.pid")) : "", out var written))
                shimPid = written;
            if (shimPid != 0 && HostState.IsAlive(shimPid))
                HostState.KillAndWait([shimPid], TimeSpan.FromSeconds(10));
            Commands.Run(RepoPaths.CsrtBinary, "--root", $"/run/containerd/csrt/{containerd.Namespace}", "delete", "-f", id);
            Commands.Run("/bin/rm", "-rf", $"/run/containerd/csrt/{containerd.Namespace}");
            if (version == "2.3")
                Commands.Run("/bin/rm", "-rf", socketDir);
        }
    }

    public static TheoryData<string, string> MalformedParams => new()
    {
        { "relative socket_dir", "BootstrapParams.socket_dir \"run/ctd\" is not an absolute path" },
        { "long socket_dir", "is longer than 42 bytes" },
        { "other namespace", "BootstrapParams.namespace \"default\" is not the -namespace" },
        { "other instance", "BootstrapParams.instance_id \"someone-else\" is not the -id" },
        { "undecodable options", "BootstrapParams.extensions[0].value: type containerd.runc.v1.Options does not decode" },
        { "not protobuf", "is neither a containerd.runtime.bootstrap.v1.BootstrapParams nor a google.protobuf.Any" },
    };

    [Theory]
    [MemberData(nameof(MalformedParams))]
    public async Task MalformedBootstrapParamsAreRefusedNamingTheFieldAndLeaveNothingBehind(string what, string error)
    {
        await using var containerd = new FakeContainerd("bad");
        var id = TestBundle.NewId("startbad");
        using var bundle = TestBundle.Create(TestBundle.DefaultConfigJson(["sleep", "300"]), id);
        var socketDir = $"/run/csrt-sp-{Hex()}";
        var p = new BootstrapParams
        {
            InstanceId = id,
            Namespace = containerd.Namespace,
            ContainerdVersion = "2.3.4",
            ContainerdTtrpcAddress = containerd.TtrpcAddress,
            ContainerdGrpcAddress = containerd.GrpcAddress,
            ContainerdBinary = ContainerdBinary,
            SocketDir = socketDir,
        };
        byte[] stdin;
        switch (what)
        {
            case "relative socket_dir":
                p.SocketDir = "run/ctd";
                break;
            case "long socket_dir":
                socketDir = "/run/" + new string('s', 60);
                p.SocketDir = socketDir;
                break;
            case "other namespace":
                p.Namespace = "default";
                break;
            case "other instance":
                p.InstanceId = "someone-else";
                break;
            case "undecodable options":
                p.Extensions.Add(new Extension { Value = new Any { TypeUrl = "containerd.runc.v1.Options", Value = ByteString.CopyFrom(0xff, 0xff) } });
                break;
        }
        stdin = what == "not protobuf" ? "garbage, not protobuf\n"u8.ToArray() : p.ToByteArray();
        var before = Directory.Exists("/run/containerd/s") ? Directory.GetFileSystemEntries("/run/containerd/s").ToHashSet() : [];
        try
        {
            var r = containerd.Start(id, bundle.Dir, stdin);
            _log.WriteLine(r.StderrText);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Empty(r.Stdout);
            Assert.Contains("containerd-shim-csrt-v2 start: ", r.StderrText, StringComparison.Ordinal);
            Assert.Contains(error, r.StderrText, StringComparison.Ordinal);
            Assert.False(Directory.Exists(socketDir), $"{socketDir} was created");
            Assert.False(File.Exists(Path.Combine(bundle.Dir, "address")), "an address file was written");
            var after = Directory.Exists("/run/containerd/s") ? Directory.GetFileSystemEntries("/run/containerd/s").ToHashSet() : [];
            var hash = ShimSocketName(containerd.GrpcAddress, containerd.Namespace, id);
            Assert.DoesNotContain(after.Except(before), e => e.EndsWith(hash, StringComparison.Ordinal));
            Assert.Empty(HostState.ProcessesWithArgument(id));
        }
        finally
        {
            Commands.Run("/bin/rm", "-rf", socketDir);
        }
    }

    private static string ShimSocketName(string address, string ns, string id) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.Join(address, ns, id))));
}
