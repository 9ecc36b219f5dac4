using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>clone(2) namespace flags.</summary>
[Flags]
public enum CloneFlags : ulong
{
    None = 0,
    CLONE_NEWTIME = 0x80,
    CLONE_NEWNS = 0x20000,
    CLONE_NEWCGROUP = 0x02000000,
    CLONE_NEWUTS = 0x04000000,
    CLONE_NEWIPC = 0x08000000,
    CLONE_NEWUSER = 0x10000000,
    CLONE_NEWPID = 0x20000000,
    CLONE_NEWNET = 0x40000000,
}

/// <summary>Joining and creating namespaces on the calling thread. Which ones a multi-threaded
/// process may join is in docs/architecture.md (user and mount: only the C child).</summary>
public static class Namespaces
{
    /// <summary>setns(2) on the calling thread.</summary>
    public static void Join(FileDescriptor ns, CloneFlags type, string? path = null) =>
        Sys.Check(setns(ns.Number, (int)type), "setns", path ?? ns.ToString());

    public static void Unshare(CloneFlags flags) => Sys.Check(unshare((int)flags), "unshare", flags.ToString());

    /// <summary>The /proc/&lt;pid&gt;/ns file name of a namespace type.</summary>
    public static string ProcName(CloneFlags type) => type switch
    {
        CloneFlags.CLONE_NEWNS => "mnt",
        CloneFlags.CLONE_NEWUTS => "uts",
        CloneFlags.CLONE_NEWIPC => "ipc",
        CloneFlags.CLONE_NEWUSER => "user",
        CloneFlags.CLONE_NEWPID => "pid",
        CloneFlags.CLONE_NEWNET => "net",
        CloneFlags.CLONE_NEWCGROUP => "cgroup",
        CloneFlags.CLONE_NEWTIME => "time",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a single namespace type"),
    };

    /// <summary>Opens a namespace file (e.g. /proc/1234/ns/net or a bind-mounted netns) for setns.</summary>
    public static FileDescriptor Open(string path) => Files.Open(path, OpenFlags.O_RDONLY);

    /// <summary>The inode identity of a namespace, for comparing two processes' namespaces.</summary>
    public static ulong Identity(string path) => Files.Stat(path).Inode;
}
