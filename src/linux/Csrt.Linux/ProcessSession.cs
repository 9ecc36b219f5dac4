using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>Sessions, working directory, root and keyrings of the calling process.</summary>
public static unsafe class ProcessSession
{
    /// <summary>setsid(2): a new session with no controlling terminal.</summary>
    public static void NewSession() => Sys.Check(setsid(), "setsid");

    /// <summary>KEYCTL_JOIN_SESSION_KEYRING with a name, then restrict its permissions to the
    /// possessor (as runc does), so containers do not share the host's session keyring.
    /// Returns false when the kernel has no keyring support (ENOSYS) or forbids it (EACCES).</summary>
    public static bool JoinNewSessionKeyring(string name)
    {
        const int KEYCTL_JOIN_SESSION_KEYRING = 1, KEYCTL_SETPERM = 5;
        long id;
        fixed (byte* p = Sys.Z(name))
            id = Interop.Libc.syscall(Interop.SyscallNumbers.keyctl, KEYCTL_JOIN_SESSION_KEYRING, (nint)p, 0, 0, 0);
        if (id < 0)
        {
            if (Sys.LastErrno is Errno.ENOSYS or Errno.EACCES or Errno.EPERM)
                return false;
            throw new SyscallException("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", Sys.LastErrno, name);
        }
        // possessor: all; user: view, read, search, link; group/other: none (0x3f1b0000 would be runc's with view).
        var r = Interop.Libc.syscall(Interop.SyscallNumbers.keyctl, KEYCTL_SETPERM, (nint)id, unchecked((nint)0x3f1b0000), 0, 0);
        Sys.Check((long)r, "keyctl(KEYCTL_SETPERM)", name);
        return true;
    }
}
