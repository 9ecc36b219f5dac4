using Csrt.Linux;

namespace Csrt.Runtime.Rootfs;

/// <summary>
/// The container's root filesystem as a directory fd. Every path inside it is resolved with
/// openat2(RESOLVE_IN_ROOT), so a symlink in the image (even "/etc -> /") can never lead a mount,
/// device node or copy outside the rootfs. Missing directories are created one component at a time
/// with mkdirat on the resolved parent.
/// </summary>
public sealed class RootDirectory : IDisposable
{
    public RootDirectory(string path)
    {
        Path = path;
        Fd = Files.Open(path, OpenFlags.O_PATH | OpenFlags.O_DIRECTORY);
    }

    /// <summary>The host path of the rootfs (valid until pivot_root).</summary>
    public string Path { get; }

    public FileDescriptor Fd { get; }

    private static string Relative(string path)
    {
        var p = path.TrimStart('/');
        return p.Length == 0 ? "." : p;
    }

    /// <summary>Opens a path inside the root (O_PATH unless other flags are given).</summary>
    public FileDescriptor Open(string path, OpenFlags flags = OpenFlags.O_PATH) =>
        Files.OpenInRoot(Fd, Relative(path), flags);

    public FileDescriptor? TryOpen(string path, OpenFlags flags = OpenFlags.O_PATH)
    {
        try
        {
            return Open(path, flags);
        }
        catch (SyscallException e) when (e.Errno is Errno.ENOENT)
        {
            return null;
        }
    }

    /// <summary>mkdir -p inside the root; returns an O_PATH fd of the directory. A component that is a
    /// symlink to a missing directory gets its target created, inside the root (as runc's
    /// MkdirAllInRoot does): an image's "/etc -> /elsewhere" leads to &lt;rootfs&gt;/elsewhere, never the host's.</summary>
    public FileDescriptor MakeDirectories(string path, uint mode = FileModes.UserAllOthersReadExecute) => MakeDirectories(path, mode, 0);

    /// <summary>Linux's limit on symlinks followed in one lookup (MAXSYMLINKS).</summary>
    private const int MaxSymlinks = 40;

    private FileDescriptor MakeDirectories(string path, uint mode, int symlinks)
    {
        var components = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var current = "";
        FileDescriptor dir = Open(".", OpenFlags.O_PATH | OpenFlags.O_DIRECTORY);
        try
        {
            foreach (var component in components)
            {
                var next = current + "/" + component;
                var fd = TryOpen(next, OpenFlags.O_PATH | OpenFlags.O_DIRECTORY);
                if (fd is null)
                {
                    try
                    {
                        Files.MakeDirectoryAt(dir, component, mode);
                    }
                    catch (SyscallException e) when (e.Errno == Errno.EEXIST)
                    {
                        // Raced, or a symlink whose target is missing: create the target (in the root).
                        if (SymlinkTarget(dir, component) is { } target)
                        {
                            if (++symlinks > MaxSymlinks)
                                throw new SyscallException("mkdir", Errno.ELOOP, next, $"too many levels of symbolic links below {next} in the container's root");
                            using (MakeDirectories(target.StartsWith('/') ? target : current + "/" + target, mode, symlinks))
                            {
                            }
                        }
                    }
                    fd = TryOpen(next, OpenFlags.O_PATH | OpenFlags.O_DIRECTORY)
                        ?? throw new SyscallException("mkdir", Errno.ENOENT, next, $"cannot create {next} in the container's root");
                }
                dir.Dispose();
                dir = fd;
                current = next;
            }
            return dir;
        }
        catch
        {
            dir.Dispose();
            throw;
        }
    }

    private static string? SymlinkTarget(FileDescriptor dir, string name)
    {
        try
        {
            return Files.LstatAt(dir, name).IsSymlink ? Files.ReadLinkAt(dir, name) : null;
        }
        catch (SyscallException)
        {
            return null;
        }
    }

    /// <summary>Ensures a regular file exists at <paramref name="path"/> (for bind-mounting a file
    /// onto it); returns an O_PATH fd of it. A dangling symlink there gets its target created inside the root.</summary>
    public FileDescriptor MakeFile(string path, uint mode = FileModes.UserReadWriteOthersRead) => MakeFile(path, mode, 0);

    private FileDescriptor MakeFile(string path, uint mode, int symlinks)
    {
        var existing = TryOpen(path);
        if (existing is not null)
            return existing;
        var parentPath = System.IO.Path.GetDirectoryName(path.TrimEnd('/')) ?? "/";
        var name = System.IO.Path.GetFileName(path.TrimEnd('/'));
        string? target = null;
        using (var parent = MakeDirectories(parentPath))
        {
            try
            {
                using var created = Files.OpenAt(parent, name, OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_WRONLY | OpenFlags.O_NOFOLLOW, mode);
            }
            catch (SyscallException e) when (e.Errno == Errno.EEXIST)
            {
                target = SymlinkTarget(parent, name);
            }
        }
        if (target is not null && TryOpen(path) is null)
        {
            if (++symlinks > MaxSymlinks)
                throw new SyscallException("open", Errno.ELOOP, path, $"too many levels of symbolic links at {path} in the container's root");
            using (MakeFile(target.StartsWith('/') ? target : parentPath.TrimEnd('/') + "/" + target, mode, symlinks))
            {
            }
        }
        return Open(path);
    }

    /// <summary>The parent directory (created) and the last component of a path.</summary>
    public (FileDescriptor Parent, string Name) ParentOf(string path)
    {
        var trimmed = path.TrimEnd('/');
        var parent = MakeDirectories(System.IO.Path.GetDirectoryName(trimmed) ?? "/");
        return (parent, System.IO.Path.GetFileName(trimmed));
    }

    /// <summary>The magic-link path mount(2) can use as a target or source for an fd.</summary>
    public static string ProcPath(FileDescriptor fd) => "/proc/self/fd/" + fd.Number.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose() => Fd.Dispose();
}
