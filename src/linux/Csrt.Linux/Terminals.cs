using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Csrt.Linux;

/// <summary>Pseudo-terminals: master/peer pairs, window size, controlling tty, raw mode.</summary>
public static unsafe class Terminals
{
    private const int TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TIOCSCTTY = 0x540E, TIOCGPTPEER = 0x5441;

    /// <summary>Opens a new pty master on <paramref name="ptmx"/> (the host's, or a container's
    /// /dev/pts/ptmx to get a pty of that devpts instance) and unlocks its peer.</summary>
    public static FileDescriptor OpenMaster(string ptmx = "/dev/ptmx")
    {
        var master = Files.Open(ptmx, OpenFlags.O_RDWR | OpenFlags.O_NOCTTY);
        Sys.Check(Interop.Libc.unlockpt(master.Number), "unlockpt", ptmx);
        return master;
    }

    /// <summary>unlockpt(3) on a master opened by other means (e.g. through a container's root).</summary>
    public static void UnlockPeer(FileDescriptor master) =>
        Sys.Check(Interop.Libc.unlockpt(master.Number), "unlockpt", master.ToString());

    /// <summary>The peer (slave) of a master, opened without a path lookup (TIOCGPTPEER), so it
    /// works for a pty of another mount namespace's devpts.</summary>
    public static FileDescriptor OpenPeer(FileDescriptor master)
    {
        var fd = ioctl(master.Number, TIOCGPTPEER, (int)(OpenFlags.O_RDWR | OpenFlags.O_NOCTTY | OpenFlags.O_CLOEXEC));
        return new FileDescriptor(Sys.Check(fd, "ioctl(TIOCGPTPEER)", master.ToString()));
    }

    /// <summary>The peer's path name as the master's devpts sees it, e.g. /dev/pts/3.</summary>
    public static string PeerName(FileDescriptor master)
    {
        var buf = stackalloc byte[128];
        var r = Interop.Libc.ptsname_r(master.Number, buf, 128);
        if (r != 0)
            throw new SyscallException("ptsname_r", (Errno)r, master.ToString());
        return Sys.FromZ(buf);
    }

    public static void SetWindowSize(FileDescriptor tty, ushort rows, ushort columns)
    {
        winsize ws = default;
        ws.ws_row = rows;
        ws.ws_col = columns;
        Sys.Check(ioctl(tty.Number, TIOCSWINSZ, &ws), "ioctl(TIOCSWINSZ)", tty.ToString());
    }

    public static (ushort Rows, ushort Columns) GetWindowSize(FileDescriptor tty)
    {
        winsize ws = default;
        Sys.Check(ioctl(tty.Number, TIOCGWINSZ, &ws), "ioctl(TIOCGWINSZ)", tty.ToString());
        return (ws.ws_row, ws.ws_col);
    }

    /// <summary>Makes <paramref name="tty"/> the calling process's controlling terminal (after setsid).</summary>
    public static void SetControllingTerminal(FileDescriptor tty) =>
        Sys.Check(ioctl(tty.Number, TIOCSCTTY, 0), "ioctl(TIOCSCTTY)", tty.ToString());

    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    /// <summary>cfmakeraw on <paramref name="tty"/>; returns the previous settings for <see cref="Restore"/>.</summary>
    public static byte[] MakeRaw(FileDescriptor tty)
    {
        termios t;
        Sys.Check(tcgetattr(tty.Number, &t), "tcgetattr", tty.ToString());
        var saved = new byte[sizeof(termios)];
        fixed (byte* s = saved)
            *(termios*)s = t;
        // cfmakeraw(3), spelled out.
        t.c_iflag &= ~(uint)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
        t.c_oflag &= ~(uint)OPOST;
        t.c_lflag &= ~(uint)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
        t.c_cflag &= ~(uint)(CSIZE | PARENB);
        t.c_cflag |= (uint)CS8;
        t.c_cc[(int)VMIN] = 1;
        t.c_cc[(int)VTIME] = 0;
        Sys.Check(tcsetattr(tty.Number, (int)TCSANOW, &t), "tcsetattr", tty.ToString());
        return saved;
    }

    public static void Restore(FileDescriptor tty, byte[] saved)
    {
        fixed (byte* s = saved)
            Sys.Check(tcsetattr(tty.Number, (int)TCSANOW, (termios*)s), "tcsetattr", tty.ToString());
    }
}
