using Csrt.Linux;

namespace Csrt.Cli;

/// <summary>
/// Copies between our own stdio and a container's pty master: stdin → master, master → stdout,
/// with our terminal in raw mode (so ^C reaches the container as a byte) and the container's
/// window size following ours.
/// </summary>
internal sealed class ConsoleRelay : IDisposable
{
    private readonly FileDescriptor _master;
    private readonly FileDescriptor _stdin = FileDescriptor.Borrow(0);
    private readonly FileDescriptor _stdout = FileDescriptor.Borrow(1);
    private readonly byte[]? _savedTerminal;
    private readonly Thread _output;

    private ConsoleRelay(FileDescriptor master)
    {
        _master = master;
        if (Terminals.IsTerminal(0))
        {
            _savedTerminal = Terminals.MakeRaw(_stdin);
            ResizeFromLocalTerminal();
        }
        _output = new Thread(() => Copy(_master, _stdout)) { IsBackground = true, Name = "pty→stdout" };
        _output.Start();
        new Thread(() => Copy(_stdin, _master)) { IsBackground = true, Name = "stdin→pty" }.Start();
    }

    public static ConsoleRelay Start(FileDescriptor master) => new(master);

    /// <summary>Receives the pty master the init sends on the console socket.</summary>
    public static FileDescriptor ReceiveMaster(FileDescriptor socket) => Csrt.Runtime.Terminal.ConsoleSocket.ReceiveMaster(socket);

    public void ResizeFromLocalTerminal()
    {
        if (!Terminals.IsTerminal(0))
            return;
        try
        {
            var (rows, columns) = Terminals.GetWindowSize(_stdin);
            Terminals.SetWindowSize(_master, rows, columns);
        }
        catch (SyscallException)
        {
            // The pty is gone: the process exited.
        }
    }

    /// <summary>After the process exited: let the remaining output reach stdout.</summary>
    public void Finish() => _output.Join(TimeSpan.FromSeconds(2));

    private static void Copy(FileDescriptor from, FileDescriptor to)
    {
        var buffer = new byte[8192];
        try
        {
            while (true)
            {
                var n = Files.Read(from, buffer);
                if (n == 0)
                    return;
                Files.WriteAll(to, buffer.AsSpan(0, n));
            }
        }
        catch (SyscallException)
        {
            // EIO on the master once the last process holding the pty exits; EPIPE on a closed stdout.
        }
    }

    public void Dispose()
    {
        if (_savedTerminal is not null)
        {
            try
            {
                Terminals.Restore(_stdin, _savedTerminal);
            }
            catch (SyscallException)
            {
            }
        }
    }
}
