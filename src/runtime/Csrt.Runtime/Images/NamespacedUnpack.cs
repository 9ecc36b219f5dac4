using System.Globalization;
using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Hashing;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Images;

/// <summary>The user namespace mappings a rootless caller's containers run with (container id →
/// host id), and the short name of them that keys its cache entries.</summary>
public sealed class UserNamespaceIds(List<LinuxIdMapping> uids, List<LinuxIdMapping> gids)
{
    public List<LinuxIdMapping> Uids { get; } = uids;

    public List<LinuxIdMapping> Gids { get; } = gids;

    /// <summary>16 hex digits of the SHA-256 of both mapping lists, in order.</summary>
    public string Key => Convert.ToHexStringLower(Sha256.Hash(Encoding.UTF8.GetBytes(
        "uid " + UserNamespaces.MappingText(Uids) + "\ngid " + UserNamespaces.MappingText(Gids))))[..16];
}

/// <summary>
/// A rootless caller's image unpack, run where the image's owners exist: in a child in a new user
/// namespace with the container's mappings (written by <see cref="IdMaps"/>: newuidmap/newgidmap for
/// subordinate ranges), where the caller is root, so the unpacker's fchown to the layer's uid and
/// gid lands on the mapped host ids, as podman's and buildah's rootless storage does. The child
/// is this binary again (<c>csrt __unpack-image …</c>: managed code only after an exec), told
/// the job on its command line; it unpacks with the same by-fd code as root's unpack and reports
/// a failure as "kind&lt;TAB&gt;message" (the ErrorKind's number) on stderr. Files owned by subordinate ids can be removed
/// only from such a namespace, so the child also removes a temporary directory a killed unpack left.
/// </summary>
public static class NamespacedUnpack
{
    /// <summary>argv[1] of the child (dispatched by the CLI's Main before anything else).</summary>
    public const string Sentinel = "__unpack-image";

    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(10);
    private const int MaxReport = 16 * 1024;

    internal static void Run(UnpackJob job, UserNamespaceIds ids, IExitMonitor exits)
    {
        var (outRead, outWrite) = Files.Pipe();
        using var _ = outRead;
        using var subscription = exits.Subscribe();
        int pid;
        try
        {
            using var devNull = Files.Open("/dev/null", OpenFlags.O_RDONLY);
            var spawn = new SpawnOptions
            {
                UnshareFlags = CloneFlags.CLONE_NEWUSER,
                WaitForParent = true,
                // A parent without privilege writes the maps through the child's /proc files.
                DumpableAtSync = true,
                ParentDeathSignal = Signals.SIGKILL,
                ExecutablePath = "/proc/self/exe",
                Args = Arguments(job),
            };
            spawn.Files.Add((devNull, 0));
            spawn.Files.Add((outWrite, 1));
            spawn.Files.Add((outWrite, 2));
            using var spawned = Spawn.Start(spawn);
            spawned.WaitForSyncPoint(StartDeadline);
            try
            {
                IdMaps.Write(spawned.FirstPid, new LinuxConfig { UidMappings = ids.Uids, GidMappings = ids.Gids }, exits);
            }
            catch
            {
                Signals.Send(spawned.FirstPid, Signals.SIGKILL);
                subscription.Wait(spawned.FirstPid, StartDeadline);
                throw;
            }
            pid = spawned.Complete(StartDeadline);
        }
        finally
        {
            outWrite.Dispose();
        }
        // Until EOF: the child holds the write end until it exits. Its time is the image's size;
        // it dies with this process (parent-death signal) if the caller gives up.
        var output = new MemoryStream();
        var buffer = new byte[4096];
        int n;
        while ((n = Files.Read(outRead, buffer)) > 0)
        {
            if (output.Length < MaxReport)
                output.Write(buffer, 0, Math.Min(n, MaxReport - (int)output.Length));
        }
        var exit = subscription.Wait(pid, Timeout.InfiniteTimeSpan);
        if (exit is { Signaled: false, ExitCode: 0 })
            return;
        throw Reported(Encoding.UTF8.GetString(output.GetBuffer(), 0, (int)output.Length).Trim(), exit);
    }

    private static List<string> Arguments(UnpackJob job) =>
    [
        "csrt", Sentinel, job.Reference.IsArchive ? "archive" : "layout", job.Reference.Path, job.Reference.Tag ?? "",
        job.Manifest.Digest, job.Manifest.Size.ToString(CultureInfo.InvariantCulture), job.Manifest.MediaType, job.Directory,
    ];

    private static CsrtException Reported(string report, ChildExit exit)
    {
        var tab = report.IndexOf('\t');
        if (tab > 0 && int.TryParse(report[..tab], NumberStyles.None, CultureInfo.InvariantCulture, out var kind) && kind <= (int)ErrorKind.Failed)
            return new CsrtException((ErrorKind)kind, report[(tab + 1)..]);
        var status = exit.Signaled ? "signal " + exit.Signal.ToString(CultureInfo.InvariantCulture) : "exit status " + exit.ExitCode.ToString(CultureInfo.InvariantCulture);
        return CsrtException.Failed($"unpacking the image in a user namespace failed ({status})" + (report.Length > 0 ? ": " + report : ""));
    }

    /// <summary>The child, after its exec: <paramref name="args"/> as <see cref="Arguments"/> wrote them, from the sentinel on.</summary>
    public static int RunChild(string[] args)
    {
        try
        {
            if (args.Length != 8 || args[0] != Sentinel)
                throw CsrtException.InvalidArgument($"{Sentinel}: expected 7 arguments (csrt runs this itself)");
            var reference = new ImageReference(args[1] == "archive", args[2], args[3].Length == 0 ? null : args[3]);
            var manifest = new OciDescriptor
            {
                Digest = args[4],
                Size = long.Parse(args[5], NumberStyles.None, CultureInfo.InvariantCulture),
                MediaType = args[6],
            };
            ImageCache.UnpackInto(new UnpackJob(reference, manifest, args[7]), IdMap.OfThisUserNamespace());
            return 0;
        }
        catch (Exception e)
        {
            var kind = CsrtException.KindOf(e) ?? ErrorKind.Failed;
            using var stderr = Console.OpenStandardError();
            stderr.Write(Encoding.UTF8.GetBytes(((int)kind).ToString(CultureInfo.InvariantCulture) + "\t" + CsrtException.Describe(e) + "\n"));
            return 1;
        }
    }
}
