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
        foreach (var dir in path.Split(':'))
        {
            var candidate = (dir.Length == 0 ? "." : dir) + "/" + name;
            if (Files.TryStat(candidate) is { IsRegular: true } info && (info.Mode & FileModes.AnyExecute) != 0)
                return candidate;
        }
        throw CsrtException.Failed($"exec: \"{name}\": executable file not found in $PATH ({path})");
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
