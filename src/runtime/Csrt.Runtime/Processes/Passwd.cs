using System.Globalization;

namespace Csrt.Runtime.Processes;

/// <summary>An entry of an /etc/passwd file: the fields the runtime uses.</summary>
internal sealed record PasswdEntry(string Name, string Home);

/// <summary>Lookups in /etc/passwd text (name:password:uid:gid:gecos:home:shell).</summary>
internal static class Passwd
{
    /// <summary>The first entry whose uid is <paramref name="uid"/>, or null (no text, no such
    /// entry). Lines with fewer than three fields are skipped; an empty or missing home is "/", as
    /// runc has it.</summary>
    public static PasswdEntry? Find(string? text, uint uid)
    {
        if (text is null)
            return null;
        foreach (var line in text.Split('\n'))
        {
            var f = line.Split(':');
            if (f.Length >= 3 && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var u) && u == uid)
                return new PasswdEntry(f[0], f.Length >= 6 && f[5].Length > 0 ? f[5] : "/");
        }
        return null;
    }

    /// <summary><paramref name="env"/> with HOME added from the passwd text of
    /// <paramref name="uid"/> ("/" without one) when it has none, as runc does. The text is read
    /// only then.</summary>
    public static List<string> WithHome(List<string> env, uint uid, Func<string?> readPasswd)
    {
        if (env.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal)))
            return env;
        return new List<string>(env) { "HOME=" + (Find(readPasswd(), uid)?.Home ?? "/") };
    }
}
