using System.Text;
using Csrt.Linux;

namespace Csrt.Shim;

/// <summary>
/// The shim's log: lines on stderr, which in serve mode is containerd's `log` FIFO (containerd
/// copies it into its own log). Written with one write(2) per line; a FIFO without a reader (while
/// containerd restarts) must never block or kill the shim, so errors are swallowed.
/// </summary>
internal static class Log
{
    public static bool Debug { get; set; }

    private static readonly FileDescriptor Stderr = FileDescriptor.Borrow(2);

    public static void Info(string message) => Write("info", message);

    public static void Warn(string message) => Write("warning", message);

    public static void Error(string message, Exception? e = null) => Write("error", e is null ? message : $"{message}: {e.GetType().Name}: {e.Message}");

    public static void Trace(string message)
    {
        if (Debug)
            Write("debug", message);
    }

    private static void Write(string level, string message)
    {
        var time = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var line = $"time=\"{time}\" level={level} msg=\"{message.Replace("\"", "\\\"", StringComparison.Ordinal)}\" runtime=io.containerd.csrt.v2\n";
        try
        {
            Files.WriteAll(Stderr, Encoding.UTF8.GetBytes(line));
        }
        catch (SyscallException)
        {
        }
    }
}
