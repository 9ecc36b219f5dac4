using System.Runtime.InteropServices;

namespace Csrt.Linux;

/// <summary>A failed Linux call: which call, on which path, with which errno.</summary>
/// <remarks>The message reads like <c>mount(/proc → /run/x/rootfs/proc): EPERM (Operation not permitted)</c>.</remarks>
public class SyscallException : IOException
{
    public SyscallException(string call, Errno errno, string? path = null, string? detail = null)
        : base(Format(call, errno, path, detail), (int)errno)
    {
        Call = call;
        Errno = errno;
        Path = path;
    }

    /// <summary>The C name of the call that failed.</summary>
    public string Call { get; }

    /// <summary>The errno it returned.</summary>
    public Errno Errno { get; }

    /// <summary>The path or object it was working on, when there is one.</summary>
    public string? Path { get; }

    private static string Format(string call, Errno errno, string? path, string? detail)
    {
        var what = path is null ? call : $"{call}({path})";
        var text = detail is null ? $"{what}: {errno} ({Describe(errno)})" : $"{what}: {errno} ({Describe(errno)}): {detail}";
        return text;
    }

    /// <summary>strerror text for an errno (from libc, so it matches what C tools print).</summary>
    public static unsafe string Describe(Errno errno)
    {
        byte* buf = stackalloc byte[256];
        // The GNU strerror_r returns a pointer that may or may not be the buffer.
        var p = Interop.Libc.strerror_r((int)errno, buf, 256);
        return p == null ? errno.ToString() : Marshal.PtrToStringUTF8((nint)p) ?? errno.ToString();
    }
}
