using System.Diagnostics;
using Cri.V1;
using Csrt.IntegrationTests.Fixtures;

// A pod and two containers on csrt through a private containerd's CRI plugin (runtime handler
// "csrt"), their output, an exec, their stats; then everything is removed.

static void Say(string text) => Console.WriteLine($"\n\u001b[1m== {text}\u001b[0m");

Say("starting a private containerd (own root, state, socket; the csrt handler; CNI bridge)");
using var containerd = PrivateContainerd.Start();
Console.WriteLine($"containerd {containerd.Address}, shim {RepoPaths.ShimBinary}");
using var channel = containerd.OpenGrpcChannel();
var cri = new RuntimeService.RuntimeServiceClient(channel);
var version = await cri.VersionAsync(new VersionRequest());
Console.WriteLine($"CRI: {version.RuntimeName} {version.RuntimeVersion} (api {version.RuntimeApiVersion})");

var logDir = Path.Combine(containerd.Dir, "pod-logs");
var sandbox = new PodSandboxConfig
{
    Metadata = new PodSandboxMetadata { Name = "demo", Namespace = "default", Uid = Guid.NewGuid().ToString("N"), Attempt = 0 },
    Hostname = "demo-pod",
    LogDirectory = logDir,
    Linux = new LinuxPodSandboxConfig(),
};
string? podId = null;
try
{
    Say("RunPodSandbox with runtime_handler = \"csrt\"");
    var watch = Stopwatch.StartNew();
    podId = (await cri.RunPodSandboxAsync(new RunPodSandboxRequest { Config = sandbox, RuntimeHandler = "csrt" })).PodSandboxId;
    var pod = await cri.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = podId });
    Console.WriteLine($"pod {podId[..12]} ready in {watch.ElapsedMilliseconds} ms, state {pod.Status.State}, IP {pod.Status.Network.Ip}, runtime {pod.Status.RuntimeHandler}");

    var containers = new Dictionary<string, string>();
    foreach (var (name, command) in new[]
             {
                 ("web", "i=0; while true; do echo \"tick $i from $(hostname)\"; i=$((i+1)); sleep 1; done"),
                 ("worker", "echo worker started as $(id -u); exec sleep 3600"),
             })
    {
        var id = (await cri.CreateContainerAsync(new CreateContainerRequest
        {
            PodSandboxId = podId,
            SandboxConfig = sandbox,
            Config = new ContainerConfig
            {
                Metadata = new ContainerMetadata { Name = name },
                Image = new ImageSpec { Image = TestImages.BusyboxImage },
                Command = { "sh", "-c", command },
                LogPath = name + ".log",
                Linux = new LinuxContainerConfig { Resources = new LinuxContainerResources { MemoryLimitInBytes = 64 << 20 } },
            },
        })).ContainerId;
        await cri.StartContainerAsync(new StartContainerRequest { ContainerId = id });
        containers[name] = id;
        Console.WriteLine($"container {name} {id[..12]} started");
    }

    await Task.Delay(TimeSpan.FromSeconds(3));
    Say("ListContainers");
    foreach (var c in (await cri.ListContainersAsync(new ListContainersRequest { Filter = new ContainerFilter { PodSandboxId = podId } })).Containers)
        Console.WriteLine($"{c.Metadata.Name,-8} {c.Id[..12]} {c.State}");

    Say("their logs (CRI format, written by containerd from the shim's FIFOs)");
    foreach (var name in containers.Keys)
        foreach (var line in File.ReadAllLines(Path.Combine(logDir, name + ".log")).Take(4))
            Console.WriteLine($"{name}: {line}");

    Say("ExecSync into worker: ps, hostname, the shared network namespace");
    var exec = await cri.ExecSyncAsync(new ExecSyncRequest { ContainerId = containers["worker"], Cmd = { "sh", "-c", "ps; echo hostname: $(hostname); ip -4 -o addr show eth0 | awk '{print $4}'" }, Timeout = 30 });
    Console.Write(exec.Stdout.ToStringUtf8());
    Console.WriteLine($"exit code {exec.ExitCode}");

    Say("ContainerStats");
    foreach (var (name, id) in containers)
    {
        var s = (await cri.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = id })).Stats;
        Console.WriteLine($"{name,-8} cpu {s.Cpu.UsageCoreNanoSeconds?.Value / 1e6:0.0} ms, memory working set {s.Memory.WorkingSetBytes?.Value / 1024.0:0} KiB");
    }

    Say("one csrt shim serves the whole pod");
    foreach (var pid in HostState.ProcessesWithArgument(containerd.Address))
        Console.WriteLine($"pid {pid}: {string.Join(' ', HostState.CommandLine(pid)).Replace(containerd.Address, "<address>")}");
}
finally
{
    if (podId is not null)
    {
        Say("StopPodSandbox + RemovePodSandbox");
        await cri.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = podId });
        await cri.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = podId });
        Console.WriteLine("removed");
    }
}
