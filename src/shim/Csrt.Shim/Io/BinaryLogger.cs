using Csrt.Linux;

namespace Csrt.Shim.Io;

/// <summary>
/// A <c>binary:///path?key=value</c> logger (containerd's logging protocol): the program runs with
/// the read ends of the process's stdout and stderr pipes as fds 3 and 4 and a "ready" pipe as
/// fd 5, an environment of only CONTAINER_ID and CONTAINER_NAMESPACE, and /dev/null as stdio. The
/// process starts only after the logger closed (or wrote to) fd 5.
/// </summary>
internal sealed class BinaryLogger : IDisposable
{
    private readonly int _pid;
    private FileDescriptor? _stdoutWriter;
    private FileDescriptor? _stderrWriter;

    private BinaryLogger(int pid, FileDescriptor stdoutWriter, FileDescriptor stderrWriter)
    {
        _pid = pid;
        _stdoutWriter = stdoutWriter;
        _stderrWriter = stderrWriter;
    }

    public FileDescriptor StdoutWriter => _stdoutWriter!;
    public FileDescriptor StderrWriter => _stderrWriter!;

    public static BinaryLogger Start(string uri, string id, string ns)
    {
        var u = new Uri(uri);
        var path = Uri.UnescapeDataString(u.AbsolutePath);
        var args = new List<string> { path };
        foreach (var pair in u.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            args.Add(Uri.UnescapeDataString(kv[0]));
            if (kv.Length > 1)
                args.Add(Uri.UnescapeDataString(kv[1]));
        }
        var (outRead, outWrite) = Files.Pipe();
        var (errRead, errWrite) = Files.Pipe();
        var (readyRead, readyWrite) = Files.Pipe();
        using var devNull = Files.Open("/dev/null", OpenFlags.O_RDWR);
        try
        {
            var options = new SpawnOptions
            {
                ExecutablePath = path,
                Args = args,
                Env = new[] { "CONTAINER_ID=" + id, "CONTAINER_NAMESPACE=" + ns },
            };
            options.Files.Add((devNull, 0));
            options.Files.Add((devNull, 1));
            options.Files.Add((devNull, 2));
            options.Files.Add((outRead, 3));
            options.Files.Add((errRead, 4));
            options.Files.Add((readyWrite, 5));
            int pid;
            using (var spawned = Spawn.Start(options))
                pid = spawned.Complete(TimeSpan.FromSeconds(10));
            outRead.Dispose();
            errRead.Dispose();
            readyWrite.Dispose();
            // Wait until the logger is ready (it closes fd 5 or writes a byte); bounded.
            if (!Polling.WaitReadable(readyRead, TimeSpan.FromSeconds(10)))
            {
                Signals.Send(pid, Signals.SIGKILL);
                throw new TimeoutException($"binary logger {path} did not signal ready within 10 s");
            }
            readyRead.Dispose();
            return new BinaryLogger(pid, outWrite, errWrite);
        }
        catch
        {
            outRead.Dispose();
            errRead.Dispose();
            readyRead.Dispose();
            readyWrite.Dispose();
            outWrite.Dispose();
            errWrite.Dispose();
            throw;
        }
    }

    /// <summary>The process holds the write ends now; the logger sees EOF when it exits.</summary>
    public void ProcessStarted()
    {
        _stdoutWriter = null;
        _stderrWriter = null;
    }

    /// <summary>SIGTERM, up to 12 s for the logger to finish, then SIGKILL (containerd's rule).</summary>
    public void Dispose()
    {
        _stdoutWriter?.Dispose();
        _stderrWriter?.Dispose();
        var pid = _pid;
        if (!Signals.Send(pid, Signals.SIGTERM))
            return;
        ThreadPool.QueueUserWorkItem(_ =>
        {
            var deadline = Environment.TickCount64 + 12_000;
            while (Environment.TickCount64 < deadline && Files.Exists("/proc/" + ProcessIo.Text(pid) + "/stat") && Csrt.Runtime.Processes.ProcStat.Read(pid) is { State: not 'Z' })
                Thread.Sleep(100);
            Signals.Send(pid, Signals.SIGKILL);
        });
    }
}
