using Csrt.Linux;
using Csrt.Runtime.Processes;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.ChildPath;

/// <summary>
/// The C child path (csrt_spawn.c) cloning into new namespaces and exec'ing the published
/// runtime binary's init from a sealed memfd; the init answers a probe over the sync socket.
/// </summary>
public sealed class InitSpawnTests
{
    private static readonly TimeSpan ChildDeadline = TimeSpan.FromSeconds(10);
    private readonly ITestOutputHelper _log;

    public InitSpawnTests(ITestOutputHelper log) => _log = log;

    private static string CsrtBinary()
    {
        var dir = Environment.GetEnvironmentVariable("CSRT_BIN_DIR");
        if (dir is null)
        {
            var d = new DirectoryInfo(AppContext.BaseDirectory);
            while (d is not null && !File.Exists(Path.Combine(d.FullName, "Shim.sln")))
                d = d.Parent;
            dir = Path.Combine(d?.FullName ?? throw new InvalidOperationException("repository root (Shim.sln) not found above " + AppContext.BaseDirectory), "out", "bin");
        }
        var path = Path.Combine(dir, "csrt");
        if (!File.Exists(path))
            throw new InvalidOperationException($"{path} is missing: run hack/publish.sh first");
        return path;
    }

    /// <summary>Clones into new pid, mount and uts namespaces, execs `csrt init`, probes it. A
    /// step that takes longer than the deadline throws (a hang is a failure, not a wait).</summary>
    private static (int Pid, string Hostname) Probe(SealedExecutable exe, string hostname)
    {
        var (parentEnd, childEnd) = UnixSockets.Pair(UnixSockets.Kind.SeqPacket);
        using var sync = new SyncChannel(parentEnd);
        var options = new SpawnOptions
        {
            CloneFlags = CloneFlags.CLONE_NEWPID | CloneFlags.CLONE_NEWNS | CloneFlags.CLONE_NEWUTS,
            ExecutableFd = exe.Fd,
            Args = new[] { "csrt", ContainerInit.Sentinel },
            Env = new[] { ContainerInit.SyncFdVariable + "=3" },
        };
        options.Files.Add((childEnd, 3));
        int pid;
        using (var spawned = Spawn.Start(options))
        {
            childEnd.Dispose();
            pid = spawned.Complete(ChildDeadline);
        }
        try
        {
            sync.Send(SyncMessageType.Probe, SyncChannel.ProbeRequest(hostname));
            if (!Polling.WaitReadable(sync.Socket, ChildDeadline))
                throw new TimeoutException($"init {pid} did not answer the probe within {ChildDeadline.TotalSeconds} s");
            var report = SyncChannel.ParseProbeReport(sync.Expect(SyncMessageType.ProbeReport));
            var exit = WaitBounded(pid);
            Assert.Equal(0, exit.Status);
            return report;
        }
        catch
        {
            Signals.Send(pid, Signals.SIGKILL);
            WaitBounded(pid);
            throw;
        }
    }

    private static ChildExit WaitBounded(int pid)
    {
        var deadline = Environment.TickCount64 + (long)ChildDeadline.TotalMilliseconds;
        while (true)
        {
            if (Waiting.TryWaitFor(pid) is { } exit)
                return exit;
            if (Environment.TickCount64 > deadline)
            {
                Signals.Send(pid, Signals.SIGKILL);
                Waiting.WaitFor(pid);
                throw new TimeoutException($"process {pid} did not exit within {ChildDeadline.TotalSeconds} s");
            }
            Thread.Sleep(1);
        }
    }

    [Fact]
    public void InitIsPid1OfANewPidNamespaceWithTheRequestedHostname()
    {
        using var exe = SealedExecutable.Copy(CsrtBinary());
        var report = Probe(exe, "probe-host");
        Assert.Equal(1, report.Pid);
        Assert.Equal("probe-host", report.Hostname);
        Assert.NotEqual("probe-host", ProcessControl.GetHostname());
    }

    [Fact]
    public void SpawnFailureInTheChildIsReportedWithTheStepAndErrno()
    {
        using var bogus = Files.Open("/dev/null", OpenFlags.O_RDONLY);
        var options = new SpawnOptions { ExecutablePath = "/nonexistent/binary", Args = new[] { "x" } };
        options.Joins.Add((bogus, CloneFlags.CLONE_NEWNET));
        using var spawned = Spawn.Start(options);
        var e = Assert.Throws<SpawnException>(() => spawned.Complete(ChildDeadline));
        Assert.Equal("setns", e.Stage);
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void AParentDeathSignalTheKernelRefusesIsReportedAsThePdeathsigStep()
    {
        // 65 is above the kernel's last signal (64): prctl(PR_SET_PDEATHSIG) fails with EINVAL.
        var options = new SpawnOptions { ExecutablePath = "/nonexistent/binary", Args = new[] { "x" }, ParentDeathSignal = 65 };
        using var spawned = Spawn.Start(options);
        var e = Assert.Throws<SpawnException>(() => spawned.Complete(ChildDeadline));
        Assert.Equal("prctl(PR_SET_PDEATHSIG)", e.Stage);
        Assert.Equal(Errno.EINVAL, e.Errno);
    }

    [Fact]
    public void ExecOfAMissingBinaryIsReportedAsExecveEnoent()
    {
        var options = new SpawnOptions { ExecutablePath = "/nonexistent/binary", Args = new[] { "x" } };
        using var spawned = Spawn.Start(options);
        var e = Assert.Throws<SpawnException>(() => spawned.Complete(ChildDeadline));
        Assert.Equal("execve", e.Stage);
        Assert.Equal(Errno.ENOENT, e.Errno);
    }

    [Fact]
    public void TwoThousandClonesWhileTwoThreadsForceGarbageCollectionsNeverHang()
    {
        using var exe = SealedExecutable.Copy(CsrtBinary());
        using var stop = new CancellationTokenSource();
        long collections = 0;
        var pressure = Enumerable.Range(0, 2).Select(n => new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.KeepAlive(new byte[64 * 1024]);
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                Interlocked.Increment(ref collections);
                // A collection every millisecond or so per thread, each suspending the cloning
                // thread: back to back, on 2 CPUs, they starved it (one clone a second at times).
                Thread.Sleep(1);
            }
        }) { IsBackground = true }).ToList();
        pressure.ForEach(t => t.Start());
        var hangs = 0;
        var failures = new List<string>();
        var started = Environment.TickCount64;
        try
        {
            for (var i = 0; i < 2000; i++)
            {
                try
                {
                    var report = Probe(exe, "stress-" + (i % 10));
                    if (report.Pid != 1 || report.Hostname != "stress-" + (i % 10))
                        failures.Add($"clone {i}: pid {report.Pid}, hostname {report.Hostname}");
                }
                catch (TimeoutException e)
                {
                    hangs++;
                    failures.Add($"clone {i}: {e.Message}");
                }
            }
        }
        finally
        {
            stop.Cancel();
            pressure.ForEach(t => t.Join());
        }
        _log.WriteLine($"2000 clones in {(Environment.TickCount64 - started) / 1000.0:0.0} s under {Interlocked.Read(ref collections)} forced collections; {hangs} hangs");
        Assert.True(Interlocked.Read(ref collections) > 2000, "the pressure threads did not run");
        Assert.Equal(0, hangs);
        Assert.Empty(failures);
    }
}
