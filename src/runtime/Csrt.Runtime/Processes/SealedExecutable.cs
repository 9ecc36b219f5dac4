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
