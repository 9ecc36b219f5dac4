using System.Globalization;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Functions;

/// <summary>An image config's User ("user", "uid", "user:group", "uid:gid", ...) resolved in the
/// image's own /etc/passwd and /etc/group, read through the root directory fd, as docker does: a
/// name must be there; a numeric uid need not be (its group is then 0 unless given).</summary>
internal static class ImageUser
{
    public static User Resolve(string spec, RootDirectory root)
    {
        var colon = spec.IndexOf(':');
        var userPart = colon < 0 ? spec : spec[..colon];
        var groupPart = colon < 0 ? null : spec[(colon + 1)..];
        var passwd = ReadInRoot(root, "/etc/passwd");
        uint uid, gid = 0;
        if (TryId(userPart, out uid))
        {
            if (FindLine(passwd, 2, userPart) is { } entry)
                gid = ParseId(entry[3]);
        }
        else
        {
            var entry = FindLine(passwd, 0, userPart)
                ?? throw CsrtException.InvalidArgument($"image config: User \"{spec}\": no user \"{userPart}\" in the image's /etc/passwd");
            uid = ParseId(entry[2]);
            gid = ParseId(entry[3]);
        }
        if (groupPart is { Length: > 0 })
        {
            if (!TryId(groupPart, out gid))
            {
                var group = FindLine(ReadInRoot(root, "/etc/group"), 0, groupPart)
                    ?? throw CsrtException.InvalidArgument($"image config: User \"{spec}\": no group \"{groupPart}\" in the image's /etc/group");
                gid = ParseId(group[2]);
            }
        }
        return new User { Uid = uid, Gid = gid };
    }

    private static bool TryId(string text, out uint id) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id);

    private static uint ParseId(string text) =>
        TryId(text, out var id) ? id : throw CsrtException.InvalidArgument($"image /etc/passwd or /etc/group: \"{text}\" is not a numeric id");

    private static string[]? FindLine(string? text, int field, string value)
    {
        foreach (var line in (text ?? "").Split('\n'))
        {
            var f = line.Split(':');
            if (f.Length >= 4 && f[field] == value)
                return f;
        }
        return null;
    }

    private static string? ReadInRoot(RootDirectory root, string path)
    {
        using var fd = root.TryOpen(path, OpenFlags.O_RDONLY);
        return fd is null ? null : System.Text.Encoding.UTF8.GetString(Files.ReadToEnd(fd));
    }
}
