using System.Runtime.InteropServices;
using System.Text;

namespace Csrt.Linux;

/// <summary>Shared plumbing of the wrappers: errno, checks, C strings.</summary>
internal static class Sys
{
    internal static Errno LastErrno => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>Throws a <see cref="SyscallException"/> when a call returned a negative value.</summary>
    internal static int Check(int result, string call, string? path = null)
    {
        if (result < 0)
            throw new SyscallException(call, LastErrno, path);
        return result;
    }

    internal static long Check(long result, string call, string? path = null)
    {
        if (result < 0)
            throw new SyscallException(call, LastErrno, path);
        return result;
    }

    /// <summary>
    /// True when a call failed with EINTR and is to be made again: every wrapper retries a call
    /// a signal interrupted (the shim's SIGCHLD handler, a debugger) through this, as
    /// <c>do { r = call(...); } while (Sys.Interrupted(r));</c>. A delegate taking the call
    /// could not capture the <c>fixed</c> pointers and addresses of locals the calls take.
    /// </summary>
    internal static bool Interrupted(long result) => result < 0 && LastErrno == Errno.EINTR;

    /// <summary>A NUL-terminated UTF-8 copy of <paramref name="s"/>, for <c>fixed</c>.</summary>
    internal static byte[] Z(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    internal static unsafe string FromZ(byte* p) => Marshal.PtrToStringUTF8((nint)p) ?? "";
}
