using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Csrt.Ttrpc.Transport;

/// <summary>
/// The credentials of the process at the other end of a Unix socket (<c>SO_PEERCRED</c>), read
/// with <see cref="Socket.GetRawSocketOption"/> so this library needs no P/Invoke of its own.
/// </summary>
public readonly record struct PeerCredentials(int ProcessId, uint UserId, uint GroupId)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>Reads the peer's pid, uid and gid from a connected Unix socket.</summary>
    public static PeerCredentials Read(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } in host byte order.
        Span<byte> ucred = stackalloc byte[12];
        int length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length != ucred.Length)
        {
            throw new InvalidOperationException($"getsockopt(SO_PEERCRED) returned {length} bytes, expected {ucred.Length}");
        }
        return new PeerCredentials(
            MemoryMarshal.Read<int>(ucred),
            MemoryMarshal.Read<uint>(ucred[4..]),
            MemoryMarshal.Read<uint>(ucred[8..]));
    }

    /// <summary>The effective uid and gid of this process, from <c>/proc/self/status</c>.</summary>
    public static (uint UserId, uint GroupId) CurrentEffectiveIds()
    {
        uint? uid = null, gid = null;
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            // "Uid:\treal\teffective\tsaved\tfs"
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                uid = EffectiveField(line);
            }
            else if (line.StartsWith("Gid:", StringComparison.Ordinal))
            {
                gid = EffectiveField(line);
            }
        }
        if (uid is null || gid is null)
        {
            throw new InvalidOperationException("/proc/self/status has no Uid:/Gid: lines; expected a Linux procfs");
        }
        return (uid.Value, gid.Value);
    }

    /// <summary>The rule of Go ttrpc's <c>UnixSocketRequireSameUser</c>: peer uid and gid equal ours.</summary>
    public bool IsSameUserAs(uint userId, uint groupId) => UserId == userId && GroupId == groupId;

    private static uint EffectiveField(string line)
    {
        string[] fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3 || !uint.TryParse(fields[2], out uint value))
        {
            throw new InvalidOperationException($"cannot read the effective id from /proc/self/status line '{line}'");
        }
        return value;
    }
}
