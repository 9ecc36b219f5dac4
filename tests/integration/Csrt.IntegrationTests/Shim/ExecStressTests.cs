using System.Collections.Concurrent;
using System.Diagnostics;
using Cri.V1;
using Csrt.IntegrationTests.Fixtures;
using Csrt.TestSupport;
using Grpc.Core;
using Xunit;
using Xunit.Abstractions;

namespace Csrt.IntegrationTests.Shim;

/// <summary>
/// The shim's exec path: an exec whose program fails at execve ends at once with an error and
/// leaves no IO behind; concurrent execs into several pods all end, each with its exit.
/// </summary>
[Collection(ContainerdCollection.Name)]
public sealed class ExecStressTests
{
    private readonly PrivateContainerd _containerd;
    private readonly ITestOutputHelper _log;

    public ExecStressTests(ContainerdFixture fixture, ITestOutputHelper log)
    {
        _containerd = fixture.Containerd;
        _log = log;
    }

    private int RunDetachedAndFindShim(string id)
    {
        _containerd.Ctr("run", "-d", "--runtime", PrivateContainerd.CsrtRuntime, TestImages.BusyboxImage, id, "sleep", "1000").EnsureSuccess();
        return Assert.Single(HostState.ProcessesWithArgument(id), HostState.IsCsrtShim);
    }

    /// <summary>The shim's open fds on stdio FIFOs (ctr names them &lt;exec id&gt;-stdin, -stdout, -stderr).</summary>
    private static List<string> FifoFds(int shim) =>
        Directory.GetFiles($"/proc/{shim}/fd")
            .Select(f => new FileInfo(f).LinkTarget ?? "")
            .Where(t => t.StartsWith('/') && (t.EndsWith("-stdin", StringComparison.Ordinal) || t.EndsWith("-stdout", StringComparison.Ordinal) || t.EndsWith("-stderr", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static TheoryData<string, string[], string[], string?> ProgramsThatFailAtExecve => new()
    {
        // A script whose interpreter does not exist: execve says ENOENT for the script itself.
        { "interpreter", [], ["/tmp/bad-interpreter"], "no such file or directory" },
        // Neither ELF nor a script: ENOEXEC.
        { "non-elf", [], ["/tmp/not-elf"], "exec format error" },
        // A working directory through a leaked fd is refused before execve.
        { "cwd", ["--cwd", "/proc/self/fd/7"], ["true"], "chdir" },
        // The interpreter is whatever /proc/self/exe is at execve: an error or an exit, never a hang.
        { "self-exe", [], ["/tmp/self-exe"], null },
    };

    [Theory]
    [MemberData(nameof(ProgramsThatFailAtExecve))]
    public void CtrTaskExec_OfAProgramThatFailsAtExecve_EndsAtOnceNamingTheError_AndReleasesItsFifos(string name, string[] flags, string[] program, string? expected)
    {
        var id = TestBundle.NewId("exec-fail-" + name);
        try
        {
            var shim = RunDetachedAndFindShim(id);
            _containerd.Ctr("tasks", "exec", "--exec-id", "setup", id, "sh", "-c",
                "printf '#!/nonexistent\\necho ran\\n' > /tmp/bad-interpreter; printf '#!/proc/self/exe\\n' > /tmp/self-exe; printf 'plain text\\n' > /tmp/not-elf; " +
                "chmod +x /tmp/bad-interpreter /tmp/self-exe /tmp/not-elf").EnsureSuccess();
            var before = FifoFds(shim);

            for (var i = 0; i < 3; i++)
            {
                // Bounded: on a shim that never completes such an exec, ctr hangs until this kills it.
                var r = _containerd.Ctr(TimeSpan.FromSeconds(30), ["tasks", "exec", "--exec-id", $"{name}{i}", .. flags, id, .. program]);
                _log.WriteLine(r.ToString());
                if (expected is not null)
                {
                    Assert.NotEqual(0, r.ExitCode);
                    Assert.Contains(expected, r.Stderr, StringComparison.OrdinalIgnoreCase);
                }
            }

            // Every attempt's FIFOs are closed by the shim, and the task is unharmed.
            Assert.Equal(before, FifoFds(shim));
            Assert.Equal(0, _containerd.Ctr("tasks", "exec", "--exec-id", "after", id, "true").ExitCode);
        }
        finally
        {
            _containerd.RemoveTask(id);
        }
    }

    /// <summary>The open fds of <paramref name="pid"/> on stdio FIFOs, counted.</summary>
    private static int FifoFdCount(int pid) => FifoFds(pid).Count;

    /// <summary>The FIFO fd count of <paramref name="pid"/> once it is back to <paramref name="expected"/>, or after 10 s.</summary>
    private static int SettledFifoFdCount(int pid, int expected)
    {
        var count = FifoFdCount(pid);
        for (var i = 0; i < 100 && count != expected; i++)
        {
            Thread.Sleep(100);
            count = FifoFdCount(pid);
        }
        return count;
    }

    private List<int> ShimsOf(IEnumerable<CriPod> pods) =>
        pods.SelectMany(p => HostState.ProcessesWithArgument(p.Id))
            .Where(HostState.IsCsrtShim)
            .Distinct()
            .ToList();

    [Fact]
    public async Task ConcurrentExecSyncs_IntoSeveralPods_AllEndWithTheirOutputAndExitCode_AndLeaveNoFifoOpen()
    {
        const int Pods = 3, Workers = 4, ExecsPerWorker = 100;
        var pods = new List<CriPod>();
        try
        {
            var containers = new List<string>();
            for (var i = 0; i < Pods; i++)
            {
                var pod = await CriPod.StartAsync(_containerd, $"exec-stress-{i}");
                pods.Add(pod);
                containers.Add(await pod.StartContainerAsync(CriPod.Busybox("main", "sleep", "1000")));
            }
            // Settle: one exec each, so the baseline holds only the containers' own FIFOs.
            for (var i = 0; i < Pods; i++)
                Assert.Equal(0, (await pods[i].ExecSyncAsync(containers[i], 30, "true")).ExitCode);
            var shims = ShimsOf(pods);
            Assert.NotEmpty(shims);
            var shimFifos = shims.ToDictionary(p => p, FifoFdCount);
            var containerdFifos = FifoFdCount(_containerd.Pid);

            var failures = new ConcurrentQueue<string>();
            var done = 0;
            var clock = Stopwatch.StartNew();
            var tasks = new List<Task>();
            for (var p = 0; p < Pods; p++)
            {
                for (var w = 0; w < Workers; w++)
                {
                    var (pod, container, tag) = (pods[p], containers[p], $"p{p}w{w}");
                    tasks.Add(Task.Run(async () =>
                    {
                        for (var i = 0; i < ExecsPerWorker; i++)
                        {
                            var code = i % 7;
                            try
                            {
                                var r = await pod.ExecSyncAsync(container, 30, "sh", "-c", $"echo out-{tag}-{i}; echo err-{tag}-{i} >&2; exit {code}");
                                if (r.ExitCode != code || r.Stdout.ToStringUtf8() != $"out-{tag}-{i}\n" || r.Stderr.ToStringUtf8() != $"err-{tag}-{i}\n")
                                    failures.Enqueue($"{tag} exec {i}: exit {r.ExitCode} (expected {code}), stdout \"{r.Stdout.ToStringUtf8()}\", stderr \"{r.Stderr.ToStringUtf8()}\"");
                                Interlocked.Increment(ref done);
                            }
                            catch (Exception e) when (e is RpcException or TimeoutException)
                            {
                                // One failure is enough to tell; stop this worker so the test stays bounded.
                                failures.Enqueue($"{tag} exec {i} after {clock.Elapsed.TotalSeconds:0.0} s: {e.Message}");
                                return;
                            }
                        }
                    }));
                }
                // Beside them, execs that fail at execve: each must fail at once, not hang or leak.
                var (failPod, failContainer) = (pods[p], containers[p]);
                tasks.Add(Task.Run(async () =>
                {
                    for (var i = 0; i < 5; i++)
                    {
                        try
                        {
                            var r = await failPod.ExecSyncAsync(failContainer, 30, "/no/such/program");
                            failures.Enqueue($"an exec of a missing program returned exit {r.ExitCode} instead of failing");
                        }
                        catch (RpcException e) when (e.StatusCode != StatusCode.DeadlineExceeded)
                        {
                        }
                        catch (Exception e) when (e is RpcException or TimeoutException)
                        {
                            failures.Enqueue($"an exec of a missing program: {e.Message}");
                            return;
                        }
                    }
                }));
            }
            await Task.WhenAll(tasks);
            _log.WriteLine($"{done} execs in {clock.Elapsed.TotalSeconds:0.0} s");
            Assert.True(failures.IsEmpty, $"{failures.Count} failed execs:\n" + string.Join("\n", failures.Take(20)));
            Assert.Equal(Pods * Workers * ExecsPerWorker, done);

            // Every exec was deleted: no FIFO of one is held by its shim or by containerd.
            // (containerd closes its ends as each ExecSync returns; give the last ones a moment.)
            foreach (var (shim, count) in shimFifos)
                Assert.Equal(count, SettledFifoFdCount(shim, count));
            Assert.Equal(containerdFifos, SettledFifoFdCount(_containerd.Pid, containerdFifos));
        }
        finally
        {
            foreach (var pod in pods)
                await pod.DisposeAsync();
        }
    }
}
