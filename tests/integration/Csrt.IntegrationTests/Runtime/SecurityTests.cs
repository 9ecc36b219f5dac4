using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// The runc CVE classes: no host fd reaches the container (CVE-2024-21626: a cwd through a leaked
/// fd must be refused), and the runtime binary cannot be overwritten from inside (CVE-2019-5736:
/// the init runs from a read-only overlay of the binary mounted nowhere, or from a sealed memfd).
/// </summary>
public sealed class SecurityTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("security");

    public void Dispose() => _csrt.Dispose();

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void TheContainerProcess_HasOnlyStdio()
    {
        // Two commands, so that sh forks ls instead of exec'ing it ($$ stays the shell).
        var bundle = _csrt.Bundle(["sh", "-c", "ls /proc/$$/fd; true"]);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(["0", "1", "2"], Lines(result.Stdout));
    }

    [Fact]
    public void AnExecdProcess_HasOnlyStdio()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);

        var result = _csrt.Exec(bundle.Id, "sh", "-c", "ls /proc/$$/fd; true");

        Assert.Equal(["0", "1", "2"], Lines(result.Stdout));
    }

    [Fact]
    public void PreserveFds_PassesExactlyThoseFds()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "ls /proc/$$/fd; cat <&3"]);
        var secret = Path.Combine(bundle.Dir, "passed.txt");
        File.WriteAllText(secret, "through fd 3\n");

        var result = Commands.Run("/bin/bash", ["-c", $"exec 3<{secret} 4</etc/hostname; exec {_csrt.Binary} --root {_csrt.Root} run --preserve-fds 1 --bundle {bundle.Dir} {bundle.Id}"], RuntimeRoot.Timeout);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(["0", "1", "2", "3", "through fd 3"], Lines(result.Stdout));
    }

    [Fact]
    public void TheCreatedInit_HoldsNoDirectoryOfTheHost()
    {
        // While created, a process exec'd with CAP_SYS_PTRACE can open /proc/1/fd/N of the init:
        // a directory fd there would lead out of the rootfs.
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);
        var init = _csrt.Pid(bundle.Id);

        var directories = Directory.GetFiles($"/proc/{init}/fd")
            .Where(fd => Files.TryStat(fd) is { IsDirectory: true })
            .Select(fd => $"{Path.GetFileName(fd)} -> {new FileInfo(fd).LinkTarget}")
            .ToList();

        Assert.True(directories.Count == 0, $"the created init holds directory fds: {string.Join(", ", directories)}");
        var exec = _csrt.Run("exec", "--cap", "CAP_SYS_PTRACE", bundle.Id, "sh", "-c", "for f in /proc/1/fd/*; do [ -d $f ] && echo \"dir $f\"; done; echo checked");
        Assert.Equal("checked\n", exec.Stdout);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    public void ACwdThroughAnInheritedFd_IsRefusedByCreate(int fd)
    {
        var bundle = _csrt.Bundle(["pwd"], c => c["process"]!["cwd"] = $"/proc/self/fd/{fd}");

        var result = _csrt.RunForeground(bundle);

        Assert.NotEqual(0, result.ExitCode);
        Assert.DoesNotContain("unreachable", result.Stdout, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void ExecWithACwdThroughAnInheritedFd_IsRefused()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(bundle);

        for (var fd = 3; fd < 12; fd++)
        {
            var result = _csrt.Run("exec", "--cwd", $"/proc/self/fd/{fd}", bundle.Id, "pwd");

            Assert.True(result.ExitCode == 255, $"exec with cwd /proc/self/fd/{fd} was not refused: {result}");
            Assert.True(result.Stderr.Contains($"chdir(/proc/self/fd/{fd})", StringComparison.Ordinal), result.ToString());
        }
    }

    [Fact]
    public void TheInit_RunsFromAReadOnlyOverlayOrASealedMemfd_ThatCannotBeWritten()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);
        var init = _csrt.Pid(bundle.Id);

        // Never the runtime's own file: a memfd copy, or the file seen through an overlay (a
        // filesystem of its own, so another device than the binary's).
        var exe = new FileInfo($"/proc/{init}/exe").LinkTarget!;
        if (!exe.StartsWith("/memfd:", StringComparison.Ordinal))
        {
            Assert.Equal("/" + Path.GetFileName(RepoPaths.CsrtBinary), exe);
            Assert.NotEqual(Files.Stat(RepoPaths.CsrtBinary).Device, Files.Stat($"/proc/{init}/exe").Device);
        }
        var hostWrite = Record.Exception(() =>
        {
            using var f = new FileStream($"/proc/{init}/exe", FileMode.Open, FileAccess.Write);
            f.Write("#!/bin/sh\n"u8);
        });
        Assert.NotNull(hostWrite);
        var inside = _csrt.Exec(bundle.Id, "sh", "-c", "echo '#!/bin/sh' > /proc/1/exe && echo overwritten || echo refused");
        Assert.Equal("refused\n", inside.Stdout);
    }

    [Fact]
    public void AnExecOfAScriptWhoseInterpreterIsProcSelfExe_CannotReachTheHostsBinary()
    {
        // CVE-2019-5736 through exec: the first program exec'd in the container is "#!/proc/self/exe",
        // so the kernel runs whatever executable the exec'ing process had. Here that is csrt, kept
        // alive as a would-be init blocking on fd 3 (a socket the test holds open), so a container
        // process could hold its /proc/<pid>/exe and reopen it for writing after it exits.
        var bundle = _csrt.Bundle(["sleep", "1000"], readonlyRoot: false);
        _csrt.RunDetached(bundle);
        _csrt.Exec(bundle.Id, "sh", "-c", "printf '#!/proc/self/exe init\\n' > /x && chmod +x /x").EnsureSuccess();
        var dir = Path.Combine(RepoPaths.RunDir, TestBundle.NewId("cve"));
        Directory.CreateDirectory(dir);
        try
        {
            var pidFile = Path.Combine(dir, "pid");
            var (mine, theirs) = UnixSockets.Pair(UnixSockets.Kind.SeqPacket);
            using var held = mine;
            using var devNull = Files.Open("/dev/null", OpenFlags.O_RDWR);
            var options = new SpawnOptions
            {
                ExecutablePath = _csrt.Binary,
                Args = [_csrt.Binary, "--root", _csrt.Root, "exec", "-d", "--preserve-fds", "1", "--env", ContainerInitSyncFd + "=3", "--pid-file", pidFile, bundle.Id, "/x"],
                Env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            };
            options.Files.Add((devNull, 0));
            options.Files.Add((devNull, 1));
            options.Files.Add((devNull, 2));
            options.Files.Add((theirs, 3));
            int csrtPid;
            using (var spawned = Spawn.Start(options))
            {
                theirs.Dispose();
                csrtPid = spawned.Complete(TimeSpan.FromSeconds(10));
            }
            Assert.Equal(0, Waiting.WaitFor(csrtPid).Status);
            var pid = int.Parse(File.ReadAllText(pidFile));
            // The scenario really runs csrt: the kernel names the process after the script ("x")
            // until csrt's init path renames it.
            var comm = "";
            for (var i = 0; i < 500 && (comm = File.ReadAllText($"/proc/{pid}/comm").Trim()) != "csrt:[1:INIT]"; i++)
                Thread.Sleep(20);
            Assert.Equal("csrt:[1:INIT]", comm);

            Assert.NotEqual(Files.Stat(RepoPaths.CsrtBinary).Device, Files.Stat($"/proc/{pid}/exe").Device);
            using var exe = Files.Open($"/proc/{pid}/exe", OpenFlags.O_PATH);
            Signals.Send(pid, Signals.SIGKILL);
            for (var i = 0; i < 200 && Directory.Exists($"/proc/{pid}"); i++)
                Thread.Sleep(10);
            // O_WRONLY without O_TRUNC: on the vulnerable path this would open the host's csrt.
            var reopen = Record.Exception(() => Files.Open($"/proc/self/fd/{exe.Number}", OpenFlags.O_WRONLY).Dispose());
            Assert.IsType<SyscallException>(reopen);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private const string ContainerInitSyncFd = Csrt.Runtime.Processes.ContainerInit.SyncFdVariable;
}
