using Csrt.Linux;

namespace Csrt.Runtime.Processes;

/// <summary>
/// A sealed in-memory copy of the runtime binary, exec'd by fd as the container init. A process
/// in the container can reach its init's executable through /proc/&lt;pid&gt;/exe; if that were the
/// runtime's file on disk, a container could overwrite the host's runtime (CVE-2019-5736). A memfd
/// sealed against writes, growth and shrinking cannot be changed by anyone.
/// </summary>
public sealed class SealedExecutable : IDisposable
{
    private static SealedExecutable? _self;
    private static readonly object SelfLock = new();

    private SealedExecutable(FileDescriptor fd, string source)
    {
        Fd = fd;
        Source = source;
    }

    public FileDescriptor Fd { get; }

    /// <summary>The file it was copied from.</summary>
    public string Source { get; }

    /// <summary>Copies <paramref name="path"/> into a new sealed memfd.</summary>
    public static SealedExecutable Copy(string path)
    {
        using var source = Files.Open(path, OpenFlags.O_RDONLY);
        var memfd = Files.CreateMemoryFile("csrt", allowSealing: true);
        try
        {
            Files.CopyAll(source, memfd);
            Files.SealForever(memfd);
            return new SealedExecutable(memfd, path);
        }
        catch
        {
            memfd.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The zero-copy alternative to <see cref="Copy"/> (runc 1.2 does the same): the file opened
    /// through a read-only overlayfs mounted nowhere, whose top lower layer is the file's directory
    /// and bottom one <paramref name="emptyDirectory"/> (overlayfs needs two lower layers to refuse
    /// every write). Nothing can write to the file through this fd or /proc/&lt;pid&gt;/exe (EROFS)
    /// and no path reaches the mount; its pages are the file's own page cache, shared by every
    /// process that runs it, instead of a private copy of the whole binary per copying process.
    /// Null where the kernel or the privileges refuse (no fsopen or overlayfs, no CAP_SYS_ADMIN).
    /// </summary>
    public static SealedExecutable? TryOverlay(string path, string emptyDirectory)
    {
        var directory = Path.GetDirectoryName(path);
        var name = Path.GetFileName(path);
        if (string.IsNullOrEmpty(directory) || string.IsNullOrEmpty(name) || !Path.IsPathRooted(path))
            return null;
        const ulong MOUNT_ATTR_RDONLY = 1, MOUNT_ATTR_NOSUID = 2, MOUNT_ATTR_NODEV = 4;
        try
        {
            using var root = Mounts.CreateDetached("overlay",
            [
                ("lowerdir", EscapeLowerDir(directory) + ":" + EscapeLowerDir(emptyDirectory), false),
                // Auto-enabled across filesystems, it only logs; nothing here needs inode numbers.
                ("xino", "off", true),
            ], MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
            return new SealedExecutable(Files.OpenAt(root, name, OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW), path);
        }
        catch (SyscallException)
        {
            return null;
        }
    }

    /// <summary>
    /// The executable for container inits: <paramref name="self"/> (the path this process was
    /// started from) through <see cref="TryOverlay"/> while the file there is still the one this
    /// process runs (same inode and size: not replaced by an upgrade since), else <see cref="Self"/>,
    /// a copy of what runs.
    /// </summary>
    public static SealedExecutable ForRunning(string self, string emptyDirectory)
    {
        try
        {
            if (TryOverlay(self, emptyDirectory) is { } overlay)
            {
                var seen = Files.Stat(overlay.Fd);
                var running = Files.Stat("/proc/self/exe");
                if (seen.Inode == running.Inode && seen.Size == running.Size)
                    return overlay;
                overlay.Dispose();
            }
        }
        catch (SyscallException)
        {
            // No stat of the view or of /proc/self/exe: copy what we run instead.
        }
        return Self;
    }

    /// <summary>
    /// The executable this process runs, opened through /proc/self/exe: for a process that was
    /// itself started from a sealed executable (the shim's daemon), whose own image is then as
    /// safe to hand to container inits as a fresh copy.
    /// </summary>
    public static SealedExecutable OpenRunning() =>
        new(Files.Open("/proc/self/exe", OpenFlags.O_RDONLY), "/proc/self/exe");

    private static string EscapeLowerDir(string path) =>
        path.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(":", "\\:", StringComparison.Ordinal);

    /// <summary>The running executable, copied once per process (the shim reuses it for every container).</summary>
    public static SealedExecutable Self
    {
        get
        {
            lock (SelfLock)
                return _self ??= Copy("/proc/self/exe");
        }
    }

    public void Dispose()
    {
        if (!ReferenceEquals(this, _self))
            Fd.Dispose();
    }
}
