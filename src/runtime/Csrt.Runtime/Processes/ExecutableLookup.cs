using Csrt.Linux;
using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Processes;

/// <summary>Finds process.args[0] the way execvp will, in the current root, so a missing program
/// fails `create` with a clear message instead of the user process dying at `start`.</summary>
public static class ExecutableLookup
{
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    public static string Resolve(string name, IReadOnlyList<string> env)
    {
        if (name.Contains('/'))
        {
            Check(name, name);
            return name;
        }
        var path = env.LastOrDefault(e => e.StartsWith("PATH=", StringComparison.Ordinal))?[5..] ?? DefaultPath;
        return Find(name, path) ?? throw CsrtException.Failed($"exec: \"{name}\": executable file not found in $PATH ({path})");
    }

    /// <summary>The first executable regular file <paramref name="name"/> in the directories of
    /// <paramref name="searchPath"/> (colon-separated), or null.</summary>
    public static string? Find(string name, string searchPath)
    {
        foreach (var dir in searchPath.Split(':'))
        {
            var candidate = (dir.Length == 0 ? "." : dir) + "/" + name;
            StatInfo? info;
            try
            {
                info = Files.TryStat(candidate);
            }
            catch (SyscallException e) when (e.Errno == Errno.EACCES)
            {
                // As execvp: a directory of $PATH the caller may not search is skipped.
                continue;
            }
            if (info is { IsRegular: true } found && (found.Mode & FileModes.AnyExecute) != 0)
                return candidate;
        }
        return null;
    }

    private static void Check(string path, string name)
    {
        var info = Files.TryStat(path) ?? throw CsrtException.Failed($"exec: \"{name}\": no such file or directory");
        if (info.IsDirectory)
            throw CsrtException.Failed($"exec: \"{name}\": is a directory");
        if ((info.Mode & FileModes.AnyExecute) == 0)
            throw CsrtException.Failed($"exec: \"{name}\": permission denied (not executable)");
    }
}
