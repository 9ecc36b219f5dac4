using System.Globalization;
using Csrt.Linux;

namespace Csrt.Shim.Io;

/// <summary>
/// The stdio of one container process, as the client described it in Create or Exec: FIFO paths
/// (ctr, CRI), <c>file://</c> or <c>binary://</c> URIs, or nothing (/dev/null).
///
/// FIFOs are handed to the process directly (no copying through the shim). The shim keeps its own
/// handles the way containerd's runc shim does: a write handle on stdin, so the process sees EOF
/// only after CloseIO even when clients come and go (CRI attach, a containerd restart), and a read
/// handle on stdout/stderr that it never reads, so the process never gets EPIPE while containerd
/// is away (output then waits in the pipe until a reader is back).
///
/// With a terminal the process's stdio is the pty peer; the shim copies stdin FIFO → pty master
/// and master → stdout FIFO, and never opens the stderr FIFO (clients never open it either).
/// </summary>
public sealed class ProcessIo : IDisposable
{
    private readonly List<FileDescriptor> _held = new();
    private readonly List<Thread> _copiers = new();
    private FileDescriptor? _stdinHold;
    private FileDescriptor? _consoleStdin;
    private FileDescriptor? _consoleStdout;
    private FileDescriptor? _master;
    private BinaryLogger? _logger;
    private FileDescriptor? _stopCopiers;
    private int _copiersRunning;
    private int _disposed;

    private ProcessIo(string stdin, string stdout, string stderr, bool terminal)
    {
        Stdin = stdin;
        Stdout = stdout;
        Stderr = stderr;
        Terminal = terminal;
    }

    public string Stdin { get; }
    public string Stdout { get; }
    public string Stderr { get; }
    public bool Terminal { get; }

    /// <summary>What the process gets as fd 0, 1, 2 (null: /dev/null). Not used with a terminal.</summary>
    public FileDescriptor? ProcessStdin { get; private set; }
    public FileDescriptor? ProcessStdout { get; private set; }
    public FileDescriptor? ProcessStderr { get; private set; }

    private static readonly Lazy<FileDescriptor> DevNullFd = new(() => Files.Open("/dev/null", OpenFlags.O_RDWR));

    /// <summary>/dev/null, opened once: the stdio a client left empty.</summary>
    public static FileDescriptor DevNull => DevNullFd.Value;

    /// <summary>The pty master while the process has one (ResizePty).</summary>
    public FileDescriptor? Master => _master;

    public static ProcessIo Open(string id, string ns, string stdin, string stdout, string stderr, bool terminal)
    {
        var io = new ProcessIo(stdin, stdout, stderr, terminal);
        try
        {
            io.OpenCore(id, ns);
            return io;
        }
        catch
        {
            io.Dispose();
            throw;
        }
    }

    private void OpenCore(string id, string ns)
    {
        var scheme = SchemeOf(Stdout);
        if (Stdin.Length == 0 && Stdout.Length == 0 && Stderr.Length == 0)
            return;
        switch (scheme)
        {
            case "file":
                OpenFile(UriPath(Stdout));
                return;
            case "binary":
                if (Terminal)
                    throw new ArgumentException("binary:// logging with a terminal is not supported by csrt");
                _logger = BinaryLogger.Start(Stdout, id, ns);
                ProcessStdout = _logger.StdoutWriter;
                ProcessStderr = _logger.StderrWriter;
                return;
            case "fifo":
                break;
            default:
                throw new ArgumentException($"unknown STDIO scheme {scheme} in \"{Stdout}\" (expected a FIFO path, file:// or binary://)");
        }
        if (Terminal)
        {
            if (Stdin.Length > 0)
            {
                _consoleStdin = OpenFifoForReading(Stdin, out var hold);
                _stdinHold = hold;
            }
            if (Stdout.Length > 0)
                _consoleStdout = OpenFifoForWriting(Stdout);
            return;
        }
        if (Stdin.Length > 0)
        {
            ProcessStdin = OpenFifoForReading(Stdin, out var hold);
            _stdinHold = hold;
        }
        if (Stdout.Length > 0)
            ProcessStdout = OpenFifoForWriting(Stdout);
        if (Stderr.Length > 0)
            ProcessStderr = OpenFifoForWriting(Stderr);
    }

    private static string SchemeOf(string uri)
    {
        var i = uri.IndexOf("://", StringComparison.Ordinal);
        return i < 0 ? "fifo" : uri[..i];
    }

    private static string UriPath(string uri)
    {
        var rest = uri[(uri.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var q = rest.IndexOf('?');
        return Uri.UnescapeDataString(q < 0 ? rest : rest[..q]);
    }

    /// <summary>The read end for the process (blocking), and the shim's own write handle.</summary>
    private FileDescriptor OpenFifoForReading(string path, out FileDescriptor hold)
    {
        // O_RDONLY|O_NONBLOCK never waits for a writer; our own writer then keeps EOF away.
        var read = Files.Open(path, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK);
        try
        {
            hold = Files.Open(path, OpenFlags.O_WRONLY);
            Files.SetNonBlocking(read, false);
            return read;
        }
        catch
        {
            read.Dispose();
            throw;
        }
    }

    /// <summary>How long a write end waits for the client's reader before it stops waiting.</summary>
    private static readonly TimeSpan ClientReaderWait = TimeSpan.FromSeconds(5);

    /// <summary>A write end for the process; the shim keeps a read handle it never reads.</summary>
    private FileDescriptor OpenFifoForWriting(string path)
    {
        var writer = OpenWriterOnceClientReads(path);
        try
        {
            _held.Add(Files.Open(path, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK));
            return writer;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The write end, opened only once the client's read end is there, as the runc shim's blocking
    /// open does. containerd's clients (CRI, ctr) open their read end in a blocking open(2) on a
    /// goroutine, and such an open only returns when a writer opens after it began to wait: had
    /// our writer opened (through our own reader) and closed again, with a quick process already
    /// gone, before the client's open began, that open would wait for good, the client would never
    /// see EOF, and it would never report the exec's exit nor delete it.
    /// </summary>
    private static FileDescriptor OpenWriterOnceClientReads(string path)
    {
        var deadline = Environment.TickCount64 + (long)ClientReaderWait.TotalMilliseconds;
        var pause = 1;
        while (true)
        {
            try
            {
                // Non-blocking, a write open fails with ENXIO while no reader is there.
                var writer = Files.Open(path, OpenFlags.O_WRONLY | OpenFlags.O_NONBLOCK);
                Files.SetNonBlocking(writer, false);
                return writer;
            }
            catch (SyscallException e) when (e.Errno == Errno.ENXIO && Environment.TickCount64 < deadline)
            {
                Thread.Sleep(pause);
                pause = Math.Min(pause * 2, 50);
            }
            catch (SyscallException e) when (e.Errno == Errno.ENXIO)
            {
                // No reader came: a client that never reads must not block the process.
                Log.Warn($"no reader opened {path} within {ClientReaderWait.TotalSeconds:0} s; the process writes to it anyway");
                using var reader = Files.Open(path, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK);
                return Files.Open(path, OpenFlags.O_WRONLY);
            }
        }
    }

    private void OpenFile(string path)
    {
        var dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
            Files.MakeDirectories(dir, FileModes.UserAllOthersReadExecute);
        var fd = Files.Open(path, OpenFlags.O_WRONLY | OpenFlags.O_APPEND | OpenFlags.O_CREAT, FileModes.UserReadWriteOthersRead);
        ProcessStdout = fd;
        ProcessStderr = fd;
    }

    /// <summary>Terminal mode: start copying between the FIFOs and the pty master.</summary>
    public void AttachConsole(FileDescriptor master)
    {
        _master = master;
        if (_consoleStdin is null && _consoleStdout is null)
            return;
        _stopCopiers = Notifications.CreateEventFd();
        if (_consoleStdin is { } stdin)
            StartCopier($"stdin→pty", stdin, master, closeTarget: false, onEof: HangUp);
        // Closing the stdout FIFO once the pty is done is what tells the client the output
        // ended: CRI waits for that EOF before it reports an exec's exit (as runc's shim does).
        if (_consoleStdout is { } stdout)
            StartCopier($"pty→stdout", master, stdout, closeTarget: true);
    }

    /// <summary>Copier threads currently alive (tests: none may outlive Dispose).</summary>
    internal int CopiersRunning => Volatile.Read(ref _copiersRunning);

    private void StartCopier(string name, FileDescriptor from, FileDescriptor to, bool closeTarget, Action? onEof = null)
    {
        var stop = _stopCopiers!;
        // Non-blocking, so the thread only ever blocks in poll(), where Dispose can wake it.
        Files.SetNonBlocking(from, true);
        Files.SetNonBlocking(to, true);
        // The thread holds a reference on each fd for its whole life, so a Dispose that gives up
        // waiting for it only defers the close(): the numbers cannot be reused under it.
        bool fromRef = false, toRef = false, stopRef = false;
        from.DangerousAddRef(ref fromRef);
        to.DangerousAddRef(ref toRef);
        stop.DangerousAddRef(ref stopRef);
        Interlocked.Increment(ref _copiersRunning);
        var t = new Thread(() =>
        {
            var eof = false;
            try
            {
                eof = Copy(from, to, stop);
            }
            catch (SyscallException)
            {
                // EIO on the master once the process and its session are gone; EPIPE on a FIFO.
            }
            finally
            {
                if (closeTarget)
                    to.Dispose();
                from.DangerousRelease();
                to.DangerousRelease();
                stop.DangerousRelease();
                Interlocked.Decrement(ref _copiersRunning);
            }
            if (eof)
                onEof?.Invoke();
        }, 64 * 1024) { IsBackground = true, Name = name };
        _copiers.Add(t);
        t.Start();
    }

    /// <summary>
    /// stdin ended (after CloseIO) in terminal mode: hang up the terminal, as runc's shim closes its
    /// console then, so an interactive program gets SIGHUP and EOF instead of waiting for input
    /// that can no longer come. The output copier is stopped first: it holds the master open.
    /// </summary>
    private void HangUp()
    {
        if (Volatile.Read(ref _disposed) != 0 || _stopCopiers is not { } stop)
            return;
        Notifications.WriteEventFd(stop);
        foreach (var t in _copiers.Where(t => t != Thread.CurrentThread))
            t.Join(TimeSpan.FromSeconds(5));
        _master?.Dispose();
    }

    /// <summary>Copies until EOF on <paramref name="from"/> (true) or until <paramref name="stop"/>
    /// is signalled (false).</summary>
    private static bool Copy(FileDescriptor from, FileDescriptor to, FileDescriptor stop)
    {
        var buffer = new byte[4096];
        while (true)
        {
            if (!WaitFor(from, PollFd.POLLIN, stop))
                return false;
            int n;
            try
            {
                n = Files.Read(from, buffer);
            }
            catch (SyscallException e) when (e.Errno == Errno.EAGAIN)
            {
                continue;
            }
            if (n == 0)
                return true;
            var data = buffer.AsSpan(0, n);
            while (!data.IsEmpty)
            {
                if (!WaitFor(to, PollFd.POLLOUT, stop))
                    return false;
                try
                {
                    data = data[Files.Write(to, data)..];
                }
                catch (SyscallException e) when (e.Errno == Errno.EAGAIN)
                {
                }
            }
        }
    }

    /// <summary>Waits until <paramref name="fd"/> is ready (or hung up: the next call reports it);
    /// false when <paramref name="stop"/> was signalled.</summary>
    private static bool WaitFor(FileDescriptor fd, short events, FileDescriptor stop)
    {
        Span<PollFd> fds = stackalloc PollFd[2];
        fds[0] = new PollFd { Fd = stop.Number, Events = PollFd.POLLIN };
        fds[1] = new PollFd { Fd = fd.Number, Events = events };
        Notifications.Poll(fds, -1);
        return fds[0].Returned == 0;
    }

    /// <summary>The process has its copies of the fds: drop ours of the process side, so EOF and
    /// EPIPE follow the process's lifetime, not the shim's.</summary>
    public void ProcessStarted()
    {
        if (ProcessStdin is not null)
        {
            ProcessStdin.Dispose();
            ProcessStdin = null;
        }
        if (ProcessStdout is not null && !ReferenceEquals(ProcessStdout, ProcessStderr))
            ProcessStdout.Dispose();
        ProcessStderr?.Dispose();
        ProcessStdout = null;
        ProcessStderr = null;
        _logger?.ProcessStarted();
    }

    /// <summary>CloseIO: drop the shim's write handle on stdin so the process can see EOF.</summary>
    public void CloseStdin()
    {
        _stdinHold?.Dispose();
        _stdinHold = null;
    }

    public void Resize(ushort width, ushort height)
    {
        if (_master is not { } m)
            return;
        // A resize racing with Delete must not ioctl a number that is already closed and reused.
        var added = false;
        try
        {
            m.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return;
        }
        try
        {
            Terminals.SetWindowSize(m, height, width);
        }
        finally
        {
            m.DangerousRelease();
        }
    }

    /// <summary>After the process exited: give the pty→stdout copier a moment to drain.</summary>
    public void WaitForCopiers(TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        foreach (var t in _copiers.Where(t => t.Name == "pty→stdout"))
            t.Join(TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64)));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        StopCopiers();
        CloseStdin();
        ProcessStdin?.Dispose();
        ProcessStdout?.Dispose();
        ProcessStderr?.Dispose();
        _held.ForEach(f => f.Dispose());
        _held.Clear();
        _consoleStdin?.Dispose();
        _consoleStdout?.Dispose();
        _master?.Dispose();
        _stopCopiers?.Dispose();
        _logger?.Dispose();
    }

    /// <summary>Wakes the copier threads and waits for them, so none is left to touch the fds
    /// closed next (their numbers get reused by other containers' FIFOs and ttrpc sockets).</summary>
    private void StopCopiers()
    {
        if (_stopCopiers is not { } stop)
            return;
        Notifications.WriteEventFd(stop);
        // They only block in poll(), so this is quick; should one hang anyway, its fd references
        // keep the close deferred until it ends.
        var deadline = Environment.TickCount64 + 5000;
        foreach (var t in _copiers)
        {
            if (!t.Join(TimeSpan.FromMilliseconds(Math.Max(0, deadline - Environment.TickCount64))))
                Log.Warn($"copier {t.Name} did not stop; its fds close when it does");
        }
    }

    internal static string Text(int v) => v.ToString(CultureInfo.InvariantCulture);
}
