using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// The receiving end of runc's --console-socket protocol, as containerd's shims implement it: a
/// listening Unix socket; the runtime connects and sends one message whose data is the pty's name
/// and whose SCM_RIGHTS carries the pty master. Like the runc shim, it accepts only when asked
/// (after `create` has returned), so the runtime must not wait for the accept.
/// </summary>
public sealed class ConsoleSocketReceiver : IDisposable
{
    private readonly Socket _listener;

    public ConsoleSocketReceiver()
    {
        Path = System.IO.Path.Combine(RepoPaths.RunDir, $"console-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}.sock");
        Directory.CreateDirectory(RepoPaths.RunDir);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(Path));
        _listener.Listen(4);
    }

    /// <summary>The socket path to give as --console-socket.</summary>
    public string Path { get; }

    /// <summary>Accepts one connection and returns the pty name and master it carried.</summary>
    public (string Name, FileDescriptor Master) Receive(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        Socket connection;
        try
        {
            connection = _listener.AcceptAsync(cts.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"nobody connected to the console socket {Path} within {timeout.TotalSeconds} s");
        }
        using (connection)
        {
            var fd = FileDescriptor.Borrow((int)connection.Handle);
            if (!Polling.WaitReadable(fd, timeout))
                throw new TimeoutException($"no message on the console socket {Path} within {timeout.TotalSeconds} s");
            var fds = new List<FileDescriptor>();
            var buffer = new byte[4096];
            var n = UnixSockets.Receive(fd, buffer, fds);
            if (fds.Count != 1)
            {
                fds.ForEach(f => f.Dispose());
                throw new InvalidOperationException($"expected one fd (the pty master) on the console socket, got {fds.Count}");
            }
            return (Encoding.UTF8.GetString(buffer, 0, n), fds[0]);
        }
    }

    /// <summary>Reads the master until <paramref name="until"/> appears in the output, the pty closes
    /// (EIO once the last process holding it exits), or the timeout passes; returns what it read.</summary>
    public static string ReadUntil(FileDescriptor master, string until, TimeSpan timeout)
    {
        var output = new StringBuilder();
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow + timeout;
        while (!output.ToString().Contains(until, StringComparison.Ordinal))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !Polling.WaitReadable(master, left))
                break;
            int n;
            try
            {
                n = Files.Read(master, buffer);
            }
            catch (SyscallException e) when (e.Errno == Errno.EIO)
            {
                break;
            }
            if (n == 0)
                break;
            output.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }
        return output.ToString();
    }

    public void Dispose()
    {
        _listener.Dispose();
        File.Delete(Path);
    }
}
