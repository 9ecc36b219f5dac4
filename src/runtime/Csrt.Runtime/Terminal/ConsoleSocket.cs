using System.Text;
using Csrt.Linux;

namespace Csrt.Runtime.Terminal;

/// <summary>runc's console-socket protocol: one message whose data is the pty name and whose
/// SCM_RIGHTS carries exactly one fd, the pty master.</summary>
public static class ConsoleSocket
{
    public static FileDescriptor ReceiveMaster(FileDescriptor socket)
    {
        var fds = new List<FileDescriptor>();
        var buffer = new byte[4096];
        var n = UnixSockets.Receive(socket, buffer, fds);
        if (fds.Count != 1)
        {
            fds.ForEach(f => f.Dispose());
            throw new IOException($"console socket: expected one pty master fd, got {fds.Count} (message \"{Encoding.UTF8.GetString(buffer, 0, n)}\")");
        }
        return fds[0];
    }
}
