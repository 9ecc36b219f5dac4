using System.Text;
using Csrt.Linux;
using Csrt.Shim.Io;
using Xunit;

namespace Csrt.Shim.Tests.Io;

/// <summary>
/// Terminal mode copies stdin FIFO → pty master → stdout FIFO on two threads. Dispose closes those
/// fds, and their numbers are then reused by other FIFOs and ttrpc sockets, so no copier may still
/// be running when Dispose returns, whether it was waiting to read or blocked on a full FIFO.
/// A socketpair end stands in for the pty master (readable and writable like one).
/// </summary>
public sealed class ConsoleCopierTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("csrt-copier-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (ProcessIo Io, FileDescriptor StdinWriter, FileDescriptor StdoutReader, FileDescriptor PtySide) Console()
    {
        var stdin = Path.Combine(_dir, "stdin");
        var stdout = Path.Combine(_dir, "stdout");
        Files.MakeFifo(stdin, FileModes.UserReadWrite);
        Files.MakeFifo(stdout, FileModes.UserReadWrite);
        var io = ProcessIo.Open("e1", "default", stdin, stdout, "", terminal: true);
        var stdinWriter = Files.Open(stdin, OpenFlags.O_WRONLY);
        var stdoutReader = Files.Open(stdout, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK);
        var (master, ptySide) = UnixSockets.Pair(UnixSockets.Kind.Stream);
        io.AttachConsole(master);
        io.ProcessStarted();
        return (io, stdinWriter, stdoutReader, ptySide);
    }

    private static string ReadSome(FileDescriptor fd)
    {
        Assert.True(Polling.WaitReadable(fd, TimeSpan.FromSeconds(5)), $"nothing to read on {fd}");
        var buffer = new byte[256];
        return Encoding.UTF8.GetString(buffer, 0, Files.Read(fd, buffer));
    }

    [Fact]
    public void CopiesStdinToThePty_AndThePtyToStdout()
    {
        var (io, stdinWriter, stdoutReader, pty) = Console();
        using (io)
        using (stdinWriter)
        using (stdoutReader)
        using (pty)
        {
            Files.WriteAll(stdinWriter, "ls\n"u8);
            Assert.Equal("ls\n", ReadSome(pty));
            Files.WriteAll(pty, "bin etc\n"u8);
            Assert.Equal("bin etc\n", ReadSome(stdoutReader));
        }
    }

    [Fact]
    public void Dispose_StopsCopiersWaitingToRead_BeforeItReturns_AndReallyClosesTheirFds()
    {
        var (io, stdinWriter, stdoutReader, pty) = Console();
        using (stdinWriter)
        using (stdoutReader)
        using (pty)
        {
            Assert.Equal(2, io.CopiersRunning);
            io.Dispose();
            Assert.Equal(0, io.CopiersRunning);

            // A thread still blocked in read() would keep the FIFO's read end alive in the
            // kernel (and then write to a closed, maybe reused, master number): there is none.
            var e = Assert.Throws<SyscallException>(() => Files.WriteAll(stdinWriter, "after delete\n"u8));
            Assert.Equal(Errno.EPIPE, e.Errno);
            // Likewise the master is really closed, not held by a reader: the process side sees EOF.
            Assert.True(Polling.WaitReadable(pty, TimeSpan.FromSeconds(1)));
            Assert.Equal(0, Files.Read(pty, new byte[16]));
        }
    }

    [Fact]
    public void Dispose_StopsACopierBlockedOnAFullStdoutFifo()
    {
        var (io, stdinWriter, stdoutReader, pty) = Console();
        using (stdinWriter)
        using (stdoutReader)
        using (pty)
        {
            // Nobody reads stdout: the FIFO and then the socket fill up, and the pty→stdout copier
            // waits to write.
            Files.SetNonBlocking(pty, true);
            var chunk = new byte[64 * 1024];
            var written = 0;
            for (var refused = 0; refused < 5 && written < 64 * 1024 * 1024;)
            {
                try
                {
                    written += Files.Write(pty, chunk);
                    refused = 0;
                }
                catch (SyscallException e) when (e.Errno == Errno.EAGAIN)
                {
                    refused++;
                    Thread.Sleep(50);
                }
            }
            Assert.True(written > 64 * 1024, $"only {written} bytes went in");
            Assert.Equal(2, io.CopiersRunning);

            var disposing = Task.Run(io.Dispose);
            Assert.True(disposing.Wait(TimeSpan.FromSeconds(10)), "Dispose hung on a blocked copier");
            Assert.Equal(0, io.CopiersRunning);
        }
    }
}
