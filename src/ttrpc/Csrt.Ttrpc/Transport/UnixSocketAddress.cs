using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Csrt.Ttrpc.Transport;

/// <summary>
/// Turns the address strings containerd uses into Unix socket endpoints, and opens sockets on them.
/// Two rules exist (shared/docs/containerd-shim-protocol.md §1.3, §4.2):
/// <list type="bullet">
/// <item>Shim addresses (what a shim's <c>start</c> prints, containerd's <c>AnonDialer</c>):
/// <c>unix:///path</c> is a filesystem socket; a string without that prefix is an <b>abstract</b>
/// socket name. Use <see cref="FromShimAddress"/>.</item>
/// <item>Plain socket paths (<c>TTRPC_ADDRESS</c>, <c>-socket</c>): always a filesystem path; a
/// <c>unix://</c> prefix is stripped if present. Use <see cref="FromPath"/>.</item>
/// </list>
/// </summary>
public static class UnixSocketAddress
{
    /// <summary>The scheme prefix that marks a filesystem socket in a shim address.</summary>
    public const string UnixScheme = "unix://";

    /// <summary>Longest <c>sun_path</c> content Linux accepts (108 bytes including the terminating NUL,
    /// or the leading NUL of an abstract name).</summary>
    public const int MaxPathBytes = 107;

    /// <summary>Reads a shim address with containerd's rule: <c>unix://</c> + path is a filesystem
    /// socket, anything else names an abstract socket.</summary>
    public static UnixDomainSocketEndPoint FromShimAddress(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.StartsWith(UnixScheme, StringComparison.Ordinal)
            ? FromPath(address)
            : Abstract(address);
    }

    /// <summary>A filesystem socket at <paramref name="path"/>; a leading <c>unix://</c> is removed.</summary>
    public static UnixDomainSocketEndPoint FromPath(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string fsPath = path.StartsWith(UnixScheme, StringComparison.Ordinal) ? path[UnixScheme.Length..] : path;
        if (fsPath.Length == 0)
        {
            throw new ArgumentException($"socket address '{path}' has an empty path; expected unix:///absolute/path or /absolute/path", nameof(path));
        }
        if (fsPath[0] == '\0')
        {
            throw new ArgumentException($"socket path '{path}' starts with NUL; use Abstract() for abstract sockets", nameof(path));
        }
        CheckLength(fsPath, path);
        return new UnixDomainSocketEndPoint(fsPath);
    }

    /// <summary>An abstract socket named <paramref name="name"/> (no filesystem entry; Linux only).</summary>
    public static UnixDomainSocketEndPoint Abstract(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            throw new ArgumentException("abstract socket name is empty", nameof(name));
        }
        string sunPath = "\0" + name;
        CheckLength(sunPath, name);
        return new UnixDomainSocketEndPoint(sunPath);
    }

    /// <summary>True when <paramref name="endpoint"/> names an abstract socket.</summary>
    public static bool IsAbstract(UnixDomainSocketEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        // sockaddr_un: 2 bytes of family, then sun_path; an abstract name starts with NUL.
        SocketAddress address = endpoint.Serialize();
        return address.Size > 2 && address[2] == 0;
    }

    /// <summary>Creates a stream socket bound to <paramref name="endpoint"/> and listening.</summary>
    public static Socket Listen(UnixDomainSocketEndPoint endpoint, int backlog = 128)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(endpoint);
            socket.Listen(backlog);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new SocketException((int)ex.SocketErrorCode, $"binding ttrpc socket {Describe(endpoint)} failed: {ex.Message}");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects a stream socket to <paramref name="endpoint"/>.</summary>
    public static async Task<Socket> ConnectAsync(UnixDomainSocketEndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new SocketException((int)ex.SocketErrorCode, $"connecting to ttrpc socket {Describe(endpoint)} failed: {ex.Message}");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A readable form: the path, or <c>@name</c> for an abstract socket.</summary>
    public static string Describe(UnixDomainSocketEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        SocketAddress address = endpoint.Serialize();
        if (address.Size <= 2)
        {
            return "(unnamed)";
        }
        bool isAbstract = address[2] == 0;
        var path = new byte[address.Size - (isAbstract ? 3 : 2)];
        for (int i = 0; i < path.Length; i++)
        {
            path[i] = address[i + (isAbstract ? 3 : 2)];
        }
        // A filesystem path may be NUL-terminated inside the structure.
        int end = isAbstract ? path.Length : Array.IndexOf(path, (byte)0) is int nul and >= 0 ? nul : path.Length;
        return (isAbstract ? "@" : "") + Encoding.UTF8.GetString(path, 0, end);
    }

    private static void CheckLength(string sunPath, string original)
    {
        int bytes = Encoding.UTF8.GetByteCount(sunPath);
        if (bytes > MaxPathBytes)
        {
            throw new ArgumentException($"socket address '{original}' is {bytes} bytes; a Unix socket address holds at most {MaxPathBytes}", nameof(original));
        }
    }
}
