using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Runtime;
using Xunit;

namespace Csrt.IntegrationTests.Security;

/// <summary>
/// The container init is the runtime binary exec'd inside the container's namespaces, and an
/// execve makes a process dumpable again. Without a user namespace it is exec'd with a real uid
/// other than its effective uid 0, which the kernel treats as a set-id exec: non-dumpable from
/// its first instruction (the kernel's auxiliary vector says so: AT_SECURE). Its start-up puts
/// the real uid back to 0 before the runtime runs.
/// </summary>
public sealed class InitNonDumpableTests : IDisposable
{
    private const ulong AT_UID = 11, AT_EUID = 12, AT_SECURE = 23;
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("initdump");

    public void Dispose() => _csrt.Dispose();

    private static Dictionary<ulong, ulong> Auxv(int pid)
    {
        var bytes = File.ReadAllBytes($"/proc/{pid}/auxv");
        var entries = new Dictionary<ulong, ulong>();
        for (var i = 0; i + 16 <= bytes.Length; i += 16)
            entries[BitConverter.ToUInt64(bytes, i)] = BitConverter.ToUInt64(bytes, i + 8);
        return entries;
    }

    [Fact]
    public void TheInit_IsExecdAsASetIdProgram_AndRunsWithRealUid0()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"]);
        _csrt.Create(bundle);
        var pid = _csrt.Pid(bundle.Id);

        var auxv = Auxv(pid);
        var status = File.ReadAllText($"/proc/{pid}/status");

        Assert.Equal(4294967294UL, auxv[AT_UID]);
        Assert.Equal(0UL, auxv[AT_EUID]);
        Assert.Equal(1UL, auxv[AT_SECURE]);
        Assert.Contains("Uid:\t0\t0\t0\t0\n", status, StringComparison.Ordinal);
    }

    [Fact]
    public void TheInit_KeepsACallersStackLimitAbove8MiB()
    {
        // A set-id exec would lower it to 8 MiB for good, and the container's process inherits it.
        var bundle = _csrt.Bundle(["sleep", "1000"]);

        var created = Commands.Run("/bin/bash", ["-c", "ulimit -s unlimited; exec \"$@\" </dev/null >/dev/null 2>&1", "create",
            _csrt.Binary, "--root", _csrt.Root, "create", "--bundle", bundle.Dir, bundle.Id], RuntimeRoot.Timeout);
        Assert.True(created.Succeeded, created.ToString());
        var limits = File.ReadAllLines($"/proc/{_csrt.Pid(bundle.Id)}/limits");

        Assert.Matches(@"^Max stack size\s+unlimited\s+unlimited", limits.Single(l => l.StartsWith("Max stack size", StringComparison.Ordinal)));
    }
}
