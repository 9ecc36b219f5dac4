using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using StateRequest = Containerd.Task.V2.StateRequest;
using TaskService = Containerd.Task.V2.Task;
using Csrt.Ttrpc.Client;
using Csrt.Ttrpc.Server;
using Csrt.Ttrpc.Transport;
using Grpc.Core;

namespace Csrt.Bench.Ttrpc;

/// <summary>
/// ttrpc-bench serve --socket PATH                 serve the Bench service until stdin closes
/// ttrpc-bench self [--seconds N]                  start `serve` as a child, measure it, print its RSS
/// ttrpc-bench client --socket PATH [--seconds N]  measure a running `serve`
/// ttrpc-bench shim-state --address ADDR --id ID [--seconds N]
///                                                 measure containerd.task.v2.Task/State of a shim
/// Each measurement runs for N seconds (default 5) per configuration: 1 connection with one call
/// in flight, 1 connection with 8 calls in flight, 8 connections with one call in flight each.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: ttrpc-bench serve|self|client|shim-state [options]");
            return 2;
        }
        int seconds = int.Parse(Option(args, "--seconds") ?? "5", CultureInfo.InvariantCulture);
        switch (args[0])
        {
            case "serve":
                await ServeAsync(Required(args, "--socket"));
                return 0;
            case "self":
                return await SelfAsync(seconds);
            case "client":
                await MeasureAllAsync($"ttrpc-bench server at {Required(args, "--socket")}", UnixSocketAddress.FromPath(Required(args, "--socket")), PingCall, seconds);
                return 0;
            case "shim-state":
                string id = Required(args, "--id");
                await MeasureAllAsync($"shim State at {Required(args, "--address")}", UnixSocketAddress.FromShimAddress(Required(args, "--address")), StateCall(id), seconds);
                return 0;
            default:
                Console.Error.WriteLine($"unknown mode '{args[0]}'; expected serve, self, client or shim-state");
                return 2;
        }
    }

    private static string? Option(string[] args, string name)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static string Required(string[] args, string name) =>
        Option(args, name) ?? throw new ArgumentException($"missing {name}");

    private sealed class BenchService : Bench.BenchBase
    {
        public override Task<PingReply> Ping(PingRequest request, ServerCallContext context) => Task.FromResult(new PingReply
        {
            Id = request.Id,
            Bundle = "/run/containerd/io.containerd.runtime.v2.task/k8s.io/" + request.Id,
            Pid = 4242,
            Status = 2,
            Stdout = "/run/containerd/fifo/1234/" + request.Id + "-stdout",
        });
    }

    private static async Task ServeAsync(string socketPath)
    {
        var server = new TtrpcServer();
        Bench.BindService(server, new BenchService());
        Task serving = server.ListenAndServeAsync(UnixSocketAddress.FromPath(socketPath));
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        // Run until the parent closes our stdin.
        await Task.Run(() => Console.In.ReadToEnd());
        await server.ShutdownAsync();
        await serving;
    }

    private static async Task<int> SelfAsync(int seconds)
    {
        string socket = Path.Combine(Path.GetTempPath(), $"ttrpc-bench-{Environment.ProcessId}.sock");
        var start = new ProcessStartInfo(Environment.ProcessPath!, ["serve", "--socket", socket])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        };
        using Process server = Process.Start(start)!;
        string? ready = await server.StandardOutput.ReadLineAsync();
        if (ready != "ready")
        {
            Console.Error.WriteLine($"server did not start (said '{ready}')");
            return 1;
        }
        Console.WriteLine($"server pid {server.Id}, idle: {Memory(server.Id)}");
        // Per-connection cost: 100 connections, one call each, then idle.
        var idle = new List<TtrpcChannel>();
        for (int i = 0; i < 100; i++)
        {
            var channel = await TtrpcChannel.ConnectAsync(UnixSocketAddress.FromPath(socket));
            await PingCall(channel, i);
            idle.Add(channel);
        }
        await System.Threading.Tasks.Task.Delay(500);
        Console.WriteLine($"server with 100 open connections (one call made on each): {Memory(server.Id)}");
        idle.ForEach(c => c.Dispose());
        await MeasureAllAsync($"ttrpc-bench server (pid {server.Id})", UnixSocketAddress.FromPath(socket), PingCall, seconds);
        Console.WriteLine($"server after load: {Memory(server.Id)}");
        server.StandardInput.Close();
        await server.WaitForExitAsync();
        return 0;
    }

    private static string Memory(int pid)
    {
        string rss = "?", hwm = "?", threads = "?";
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = line[6..].Trim();
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) hwm = line[6..].Trim();
            if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = line[8..].Trim();
        }
        return $"RSS {rss}, peak RSS {hwm}, {threads} threads";
    }

    /// <summary>One call on a channel; the benchmark only needs it to succeed.</summary>
    private delegate Task CallFactory(TtrpcChannel channel, int worker);

    private static readonly CallFactory PingCall = static async (channel, worker) =>
        await new Bench.BenchClient(channel).PingAsync(new PingRequest { Id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" });

    private static CallFactory StateCall(string id) => async (channel, worker) =>
        await new TaskService.TaskClient(channel).StateAsync(new StateRequest { Id = id });

    private static async Task MeasureAllAsync(string target, UnixDomainSocketEndPoint endpoint, CallFactory call, int seconds)
    {
        Console.WriteLine($"target: {target}; {seconds} s per configuration; {Environment.ProcessorCount} CPUs; runtime {RuntimeInformation.FrameworkDescription}{(RuntimeFeature() ? " NativeAOT" : " JIT")}");
        Console.WriteLine($"{"configuration",-34} {"calls/s",10} {"p50 µs",8} {"p99 µs",8} {"max µs",9}");
        foreach ((int connections, int inFlight) in new[] { (1, 1), (1, 8), (8, 1) })
        {
            await MeasureAsync(endpoint, call, connections, inFlight, TimeSpan.FromSeconds(1)); // warm-up
            Result result = await MeasureAsync(endpoint, call, connections, inFlight, TimeSpan.FromSeconds(seconds));
            Console.WriteLine($"{$"{connections} connection(s) x {inFlight} in flight",-34} {result.CallsPerSecond,10:F0} {result.P50Us,8:F0} {result.P99Us,8:F0} {result.MaxUs,9:F0}");
        }
    }

    private static bool RuntimeFeature() => !System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported;

    private readonly record struct Result(double CallsPerSecond, double P50Us, double P99Us, double MaxUs);

    private static async Task<Result> MeasureAsync(UnixDomainSocketEndPoint endpoint, CallFactory call, int connections, int inFlight, TimeSpan duration)
    {
        var channels = new TtrpcChannel[connections];
        for (int i = 0; i < connections; i++)
        {
            channels[i] = await TtrpcChannel.ConnectAsync(endpoint);
        }
        var latencies = new List<long>[connections * inFlight];
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long begin = Stopwatch.GetTimestamp();
        var workers = new Task[connections * inFlight];
        for (int w = 0; w < workers.Length; w++)
        {
            int worker = w;
            var samples = latencies[worker] = new List<long>(1 << 16);
            TtrpcChannel channel = channels[worker % connections];
            workers[w] = Task.Run(async () =>
            {
                while (Stopwatch.GetTimestamp() < stopAt)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await call(channel, worker);
                    samples.Add(Stopwatch.GetTimestamp() - t0);
                }
            });
        }
        await Task.WhenAll(workers);
        double elapsed = (Stopwatch.GetTimestamp() - begin) / (double)Stopwatch.Frequency;
        foreach (TtrpcChannel channel in channels)
        {
            channel.Dispose();
        }
        long[] all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        double ToUs(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
        return new Result(all.Length / elapsed, ToUs(all[all.Length / 2]), ToUs(all[(int)(all.Length * 0.99)]), ToUs(all[^1]));
    }
}
