using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>Waiting for fds with poll(2), for bounded waits on pipes and sockets.</summary>
public static unsafe class Polling
{
    /// <summary>Waits until <paramref name="fd"/> is readable (or hung up); false on timeout.</summary>
    public static bool WaitReadable(FileDescriptor fd, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            pollfd p = default;
            p.fd = fd.Number;
            p.events = (short)(POLLIN | POLLHUP);
            var left = (int)Math.Max(0, deadline - Environment.TickCount64);
            var r = Interop.Libc.poll(&p, 1, left);
            if (Sys.Interrupted(r))
                continue;
            Sys.Check(r, "poll", fd.ToString());
            return r > 0;
        }
    }
}
