using System.Globalization;
using Csrt.Linux;

namespace Csrt.Runtime.Processes;

/// <summary>
/// The container init: the runtime binary re-executed (from its sealed memfd) inside the new
/// namespaces as `&lt;binary&gt; init`. It is PID 1 of a new pid namespace and still sees the host's
/// mount table until pivot_root. It reads its orders from the sync socket whose number is in
/// <see cref="SyncFdVariable"/>.
/// </summary>
public static class ContainerInit
{
    /// <summary>argv[1] that selects the init path in both executables.</summary>
    public const string Sentinel = "init";

    /// <summary>Environment variable carrying the sync socket's fd number.</summary>
    public const string SyncFdVariable = "_CSRT_SYNC_FD";

    public static int Run()
    {
        ProcessControl.SetName("csrt:[1:INIT]");
        var fdText = Environment.GetEnvironmentVariable(SyncFdVariable);
        if (fdText is null || !int.TryParse(fdText, NumberStyles.None, CultureInfo.InvariantCulture, out var fd))
        {
            Console.Error.WriteLine("csrt init: this is the container init, run by the runtime itself, not by hand (" + SyncFdVariable + " is not set)");
            return 2;
        }
        using var sync = new SyncChannel(new FileDescriptor(fd));
        try
        {
            var (type, payload) = sync.Receive();
            switch (type)
            {
                case SyncMessageType.Probe:
                    return Probe(sync, SyncChannel.Decode(payload, SyncJsonContext.Default.ProbeRequest));
                default:
                    sync.SendError($"init: unexpected first message {type}");
                    return 1;
            }
        }
        catch (Exception e)
        {
            try
            {
                sync.SendError(e.Message);
            }
            catch (Exception)
            {
                // The parent is gone; nobody to tell.
            }
            return 1;
        }
    }

    private static int Probe(SyncChannel sync, ProbeRequest request)
    {
        if (request.Hostname.Length > 0)
            ProcessControl.SetHostname(request.Hostname);
        var report = new ProbeReport { Pid = ProcessControl.GetPid(), Hostname = ProcessControl.GetHostname() };
        sync.Send(SyncMessageType.ProbeReport, report, SyncJsonContext.Default.ProbeReport);
        return 0;
    }
}
