using Csrt.Linux;
using Csrt.Runtime.Processes;

namespace Csrt.Cli;

/// <summary>
/// The executable the container init of `create`/`run` runs from: this binary through a read-only
/// overlay mounted nowhere, as runc 1.2 and the shim do (the container can neither write it nor
/// reach its directory; cheap, and the pages are the page cache every csrt process shares), or,
/// where overlays cannot be made, a sealed memfd copy (SealedExecutable.Self: a copy of the whole
/// binary, in CPU and in memory, per container).
/// </summary>
internal static class InitBinary
{
    /// <param name="scratchLayer">An existing directory for the overlay's bottom layer (its content
    /// is never seen): the state root, as runc uses its own.</param>
    public static SealedExecutable Get(string scratchLayer)
    {
        string self;
        try
        {
            self = Files.ReadLink("/proc/self/exe");
        }
        catch (SyscallException)
        {
            // No readable /proc/self/exe link: copy what we run instead.
            return SealedExecutable.Self;
        }
        return SealedExecutable.ForRunning(self, scratchLayer);
    }

    private const string SealedMarker = "_CSRT_EXEC_SEALED";

    /// <summary>
    /// `exec` clones this process into the container, and the clone's /proc/self/exe is this
    /// process's executable until the user program replaces it: a program starting with
    /// "#!/proc/self/exe" would run the host's csrt inside the container, where a container process
    /// can reopen it for writing through /proc/&lt;pid&gt;/exe once it exits (CVE-2019-5736, the exec
    /// variant). So `exec` first re-executes itself, once, from the same sealed view of this binary
    /// as the container inits (one more process start per exec).
    /// </summary>
    public static void ReexecSealed(string stateRoot)
    {
        if (Environment.GetEnvironmentVariable(SealedMarker) is not null)
        {
            Environment.SetEnvironmentVariable(SealedMarker, null);
            return;
        }
        if (!Files.IsDirectory(stateRoot))
            return; // No container to exec into: the command fails on its own, sealed or not.
        var sealedBinary = Get(stateRoot);
        var env = new List<string>();
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            env.Add((string)e.Key + "=" + (string?)e.Value);
        env.Add(SealedMarker + "=1");
        ProcessControl.ExecuteFile(sealedBinary.Fd, Environment.GetCommandLineArgs(), env);
    }
}
