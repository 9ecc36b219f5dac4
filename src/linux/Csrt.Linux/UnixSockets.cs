using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>Unix socket pairs and fd passing (SCM_RIGHTS).</summary>
public static unsafe class UnixSockets
{
    public enum Kind
    {
        Stream = 1,
        Datagram = 2,
        SeqPacket = 5,
    }

    private const int MaxFds = 16;

    // struct cmsghdr is {size_t len; int level; int type;} = 16 bytes, data aligned to 8.
    // Computed here: Tmds.LibC 0.5.0's CMSG_LEN(4) returns 24 instead of 20, which makes the
    // kernel read a second (zero) fd from the padding and pass the sender's stdin along.
    private const int CmsgHeader = 16;

    private static int CmsgLen(int dataBytes) => CmsgHeader + dataBytes;

    private static int CmsgSpace(int dataBytes) => CmsgHeader + ((dataBytes + 7) & ~7);

    /// <summary>socketpair(AF_UNIX); both ends CLOEXEC.</summary>
    public static (FileDescriptor A, FileDescriptor B) Pair(Kind kind)
    {
        const int SOCK_CLOEXEC = 0x80000;
        int* fds = stackalloc int[2];
        Sys.Check(socketpair(AF_UNIX, (int)kind | SOCK_CLOEXEC, 0, fds), "socketpair");
        return (new FileDescriptor(fds[0]), new FileDescriptor(fds[1]));
    }

    /// <summary>Sends <paramref name="data"/> (at least one byte) with <paramref name="fds"/> attached.</summary>
    public static void Send(FileDescriptor socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds = default)
    {
        if (data.IsEmpty)
            throw new ArgumentException("a message carrying fds needs at least one byte", nameof(data));
        if (fds.Length > MaxFds)
            throw new ArgumentException($"at most {MaxFds} fds per message", nameof(fds));
        var controlLen = fds.IsEmpty ? 0 : CmsgSpace(sizeof(int) * fds.Length);
        var control = stackalloc byte[Math.Max(controlLen, 1)];
        new Span<byte>(control, Math.Max(controlLen, 1)).Clear();
        fixed (byte* d = data)
        {
            iovec iov;
            var msg = Message(&iov, d, data.Length, control, controlLen);
            if (!fds.IsEmpty)
            {
                *(ulong*)control = (ulong)CmsgLen(sizeof(int) * fds.Length);
                *(int*)(control + 8) = SOL_SOCKET;
                *(int*)(control + 12) = SCM_RIGHTS;
                var dst = (int*)(control + CmsgHeader);
                for (var i = 0; i < fds.Length; i++)
                    dst[i] = fds[i];
            }
            long n;
            do
            {
                n = sendmsg(socket.Number, &msg, MSG_NOSIGNAL);
            } while (Sys.Interrupted(n));
            Sys.Check(n, "sendmsg", socket.ToString());
            if (n != data.Length)
                throw new SyscallException("sendmsg", Errno.EMSGSIZE, socket.ToString(), $"sent {n} of {data.Length} bytes");
        }
    }

    /// <summary>A message of one buffer, described in <paramref name="iov"/> (which must outlive its
    /// use), with <paramref name="controlLength"/> bytes of control space (none when 0).</summary>
    private static msghdr Message(iovec* iov, byte* data, int length, byte* control, int controlLength)
    {
        iov->iov_base = data;
        iov->iov_len = (size_t)length;
        msghdr msg = default;
        msg.msg_iov = iov;
        msg.msg_iovlen = 1;
        if (controlLength > 0)
        {
            msg.msg_control = control;
            msg.msg_controllen = (socklen_t)controlLength;
        }
        return msg;
    }

    /// <summary>The length of the next message of a datagram or seqpacket socket, without taking
    /// it (recv with MSG_PEEK | MSG_TRUNC); waits for one; 0 when the peer has gone.</summary>
    public static int PeekLength(FileDescriptor socket)
    {
        const int MSG_PEEK = 2, MSG_TRUNC = 0x20;
        long n;
        byte dummy;
        do
        {
            n = recv(socket.Number, &dummy, 0, MSG_PEEK | MSG_TRUNC);
        } while (Sys.Interrupted(n));
        return (int)Sys.Check(n, "recv", socket.ToString());
    }

    /// <summary>Receives one message into <paramref name="buffer"/>; attached fds come back owned (CLOEXEC).
    /// Returns 0 at EOF.</summary>
    public static int Receive(FileDescriptor socket, Span<byte> buffer, List<FileDescriptor>? fds = null)
    {
        var controlLen = CmsgSpace(sizeof(int) * MaxFds);
        var control = stackalloc byte[controlLen];
        fixed (byte* d = buffer)
        {
            iovec iov;
            var msg = Message(&iov, d, buffer.Length, control, controlLen);
            long n;
            do
            {
                n = recvmsg(socket.Number, &msg, MSG_CMSG_CLOEXEC);
            } while (Sys.Interrupted(n));
            Sys.Check(n, "recvmsg", socket.ToString());
            // Walk the control messages by hand (struct cmsghdr: size_t len, int level, int type,
            // data padded to 8 bytes); Tmds.LibC's CMSG_NXTHDR revisits the last header.
            var at = control;
            var end = control + (long)(ulong)msg.msg_controllen;
            while (at + 16 <= end)
            {
                var len = (long)*(ulong*)at;
                if (len < 16 || at + len > end)
                    break;
                if (*(int*)(at + 8) == SOL_SOCKET && *(int*)(at + 12) == SCM_RIGHTS)
                {
                    var src = (int*)(at + 16);
                    for (var i = 0; i < (len - 16) / sizeof(int); i++)
                    {
                        var fd = new FileDescriptor(src[i]);
                        if (fds is null)
                            fd.Dispose();
                        else
                            fds.Add(fd);
                    }
                }
                at += (len + 7) & ~7L;
            }
            if ((msg.msg_flags & MSG_CTRUNC) != 0)
                throw new SyscallException("recvmsg", Errno.EMSGSIZE, socket.ToString(), "control data truncated (too many fds)");
            return (int)n;
        }
    }

    /// <summary>Connects a stream socket to a filesystem path.</summary>
    public static FileDescriptor Connect(string path)
    {
        const int SOCK_CLOEXEC = 0x80000;
        var fd = new FileDescriptor(Sys.Check(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket", path));
        try
        {
            var addr = Address(path, "connect");
            int r;
            do
            {
                r = connect(fd.Number, (sockaddr*)&addr, (uint)sizeof(sockaddr_un));
            } while (Sys.Interrupted(r));
            if (r < 0)
                throw new SyscallException("connect", Sys.LastErrno, path);
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>A listening stream socket bound to a filesystem path (CLOEXEC). Throws
    /// <see cref="SyscallException"/> with EADDRINUSE when the path exists.</summary>
    public static FileDescriptor Listen(string path, int backlog)
    {
        const int SOCK_CLOEXEC = 0x80000;
        var fd = new FileDescriptor(Sys.Check(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket", path));
        try
        {
            var addr = Address(path, "bind");
            Sys.Check(bind(fd.Number, (sockaddr*)&addr, (uint)sizeof(sockaddr_un)), "bind", path);
            Sys.Check(listen(fd.Number, backlog), "listen", path);
            return fd;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>Whether something listens on the socket at <paramref name="path"/>: a non-blocking
    /// connect succeeds (or finds the backlog full); never waits.</summary>
    public static bool Probe(string path)
    {
        const int SOCK_CLOEXEC = 0x80000, SOCK_NONBLOCK = 0x800;
        using var fd = new FileDescriptor(Sys.Check(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket", path));
        var addr = Address(path, "connect");
        int r;
        do
        {
            r = connect(fd.Number, (sockaddr*)&addr, (uint)sizeof(sockaddr_un));
        } while (Sys.Interrupted(r));
        return r == 0 || Sys.LastErrno is Errno.EAGAIN or Errno.EINPROGRESS;
    }

    private static sockaddr_un Address(string path, string call)
    {
        sockaddr_un addr = default;
        addr.sun_family = (ushort)AF_UNIX;
        var z = Sys.Z(path);
        if (z.Length > 108)
            throw new SyscallException(call, Errno.ENAMETOOLONG, path, "a socket path is at most 107 bytes");
        for (var i = 0; i < z.Length; i++)
            addr.sun_path[i] = z[i];
        return addr;
    }
}
