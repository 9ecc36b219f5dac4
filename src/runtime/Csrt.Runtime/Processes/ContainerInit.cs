using Csrt.Linux;

namespace Csrt.Runtime.Processes;

/// <summary>
/// The container init is the runtime binary re-executed (from its sealed copy) inside the new
/// namespaces as `&lt;binary&gt; init`; it runs in C (src/linux/native/csrt_init.c, started by the
/// binary's native constructor before .NET could start) and executes the <see cref="InitPlan"/> it
/// reads from the sync socket whose number is in <see cref="SyncFdVariable"/>. What the runtime
/// side shares with it is here.
/// </summary>
public static class ContainerInit
{
    /// <summary>argv[1] that selects the init path in both executables (csrt_start in csrt_spawn.c).</summary>
    public const string Sentinel = "init";

    /// <summary>Environment variable carrying the sync socket's fd number (csrt_init.c reads it).</summary>
    public const string SyncFdVariable = "_CSRT_SYNC_FD";

    /// <summary>Whether the user namespace of the process at <paramref name="proc"/> (a /proc/&lt;pid&gt;
    /// directory) has setgroups denied: its processes' supplementary groups cannot be set.</summary>
    internal static bool SetgroupsDenied(string proc) => Files.TryReadText(proc + "/setgroups")?.Trim() == "deny";
}
