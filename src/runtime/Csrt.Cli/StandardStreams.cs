using Csrt.Linux;

namespace Csrt.Cli;

/// <summary>
/// Output on fd 1 and 2 written directly. System.Console's streams set the console up on their
/// first write (a signal-handling thread, handlers for the terminal signals), work a short
/// command has no use for. As with System.Console, a reader that went away (EPIPE) is not an
/// error, and a non-blocking descriptor that is full is left to System.Console, which waits.
/// </summary>
internal static class StandardStreams
{
    public static void Out(ReadOnlySpan<byte> bytes) => Write(1, bytes);

    public static void Error(ReadOnlySpan<byte> bytes) => Write(2, bytes);

    private static void Write(int fd, ReadOnlySpan<byte> bytes)
    {
        using var descriptor = FileDescriptor.Borrow(fd);
        while (!bytes.IsEmpty)
        {
            try
            {
                bytes = bytes[Files.Write(descriptor, bytes)..];
            }
            catch (SyscallException e) when (e.Errno == Errno.EPIPE)
            {
                return;
            }
            catch (SyscallException e) when (e.Errno == Errno.EAGAIN)
            {
                using var stream = fd == 1 ? Console.OpenStandardOutput() : Console.OpenStandardError();
                stream.Write(bytes);
                return;
            }
        }
    }
}
