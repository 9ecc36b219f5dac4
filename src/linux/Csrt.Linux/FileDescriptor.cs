using System.Runtime.InteropServices;

namespace Csrt.Linux;

/// <summary>An owned Linux file descriptor, closed exactly once.</summary>
public sealed class FileDescriptor : SafeHandle
{
    private readonly bool _owns;

    /// <summary>Takes ownership of <paramref name="fd"/> (closed on dispose).</summary>
    public FileDescriptor(int fd) : this(fd, ownsHandle: true)
    {
    }

    private FileDescriptor(int fd, bool ownsHandle) : base(new IntPtr(-1), ownsHandle)
    {
        _owns = ownsHandle;
        SetHandle(new IntPtr(fd));
    }

    /// <summary>Wraps an fd this object must not close (stdin, an fd another handle owns).</summary>
    public static FileDescriptor Borrow(int fd) => new(fd, ownsHandle: false);

    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The fd number. Valid only while this handle is alive.</summary>
    public int Number => (int)handle.ToInt64();

    /// <summary>Whether disposing closes the fd.</summary>
    public bool OwnsHandle => _owns;

    /// <summary>Gives up ownership and returns the number; the caller now closes it.</summary>
    public int Release()
    {
        var fd = Number;
        SetHandleAsInvalid();
        return fd;
    }

    protected override bool ReleaseHandle() => Interop.Libc.close((int)handle.ToInt64()) == 0;

    public override string ToString() => $"fd {Number}";
}
