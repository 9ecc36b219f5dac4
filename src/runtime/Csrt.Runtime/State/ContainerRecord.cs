namespace Csrt.Runtime.State;

/// <summary>
/// What the runtime remembers about a container between commands (state.json in its directory
/// under the root). Everything else is read live: the status from the init process, exec.fifo and
/// the freezer; the pids from the cgroup. Written and read by <see cref="ContainerRecordJson"/>.
/// </summary>
public sealed class ContainerRecord
{
    public string Id { get; set; } = "";
    public string Bundle { get; set; } = "";
    public string Rootfs { get; set; } = "";
    public int InitPid { get; set; }
    /// <summary>Field 22 of /proc/&lt;pid&gt;/stat when the init started: tells our init from a reused pid.</summary>
    public ulong InitStartTime { get; set; }
    public DateTimeOffset Created { get; set; }
    public string Owner { get; set; } = "";
    public Dictionary<string, string>? Annotations { get; set; }
    /// <summary>Controller → cgroup directory (see ICgroupManager.Paths).</summary>
    public Dictionary<string, string> CgroupPaths { get; set; } = new();
    /// <summary>CLONE_NEW* of every namespace the container has (created or joined), for exec.</summary>
    public ulong Namespaces { get; set; }
    /// <summary>CLONE_NEW* of the namespaces the container created.</summary>
    public ulong CreatedNamespaces { get; set; }
    public bool Systemd { get; set; }
    /// <summary>Mount points the container made in the runtime's mount namespace (it has none of
    /// its own), parents first; `delete` detaches them. Null for a container with its own.</summary>
    public List<string>? HostMounts { get; set; }
}
