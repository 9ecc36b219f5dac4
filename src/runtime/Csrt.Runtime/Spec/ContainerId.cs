using System.Diagnostics.CodeAnalysis;
using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Spec;

/// <summary>
/// Container id rules, checked by every command and the shim before an id touches the file system.
/// Characters and the "."/".." rule are runc's (its id check; runc 1.1's regular expression
/// accidentally also let ',' through, later runc versions and csrt do not). The length cap is csrt's:
/// the id is a directory name under --root (and the default cgroup leaf and resctrl group name),
/// and a path component cannot exceed NAME_MAX (255 bytes); refusing longer ids here gives a clear
/// error instead of ENAMETOOLONG half-way through create.
/// </summary>
public static class ContainerId
{
    /// <summary>NAME_MAX: the id is used as one path component.</summary>
    public const int MaxLength = 255;

    private const string Allowed = "an id may contain only ASCII letters, digits, '_', '+', '-' and '.', " +
                                   "must not be \".\" or \"..\", and is 1 to 255 characters long";

    /// <summary>Throws <see cref="InvalidContainerIdException"/> saying what is wrong and what is allowed.</summary>
    public static void Validate(string? id)
    {
        if (!IsValid(id, out var reason))
            throw new InvalidContainerIdException(id ?? "", reason);
    }

    public static bool IsValid([NotNullWhen(true)] string? id, [NotNullWhen(false)] out string? reason)
    {
        reason = Check(id);
        return reason is null;
    }

    private static string? Check(string? id)
    {
        if (string.IsNullOrEmpty(id))
            return $"invalid container id: it is empty; {Allowed}";
        if (id.Length > MaxLength)
            return $"invalid container id ({id.Length} characters, starting {JsonErrors.Quote(id[..16])}): it is longer than {MaxLength} characters " +
                   $"(the id names a directory under the state root, and NAME_MAX is {MaxLength}); {Allowed}";
        if (id is "." or "..")
            return $"invalid container id {JsonErrors.Quote(id)}: \".\" and \"..\" are not allowed; {Allowed}";
        for (var i = 0; i < id.Length; i++)
        {
            var c = id[i];
            if (char.IsAsciiLetterOrDigit(c) || c is '_' or '+' or '-' or '.')
                continue;
            var shown = c is >= ' ' and <= '~' ? $"'{c}'" : $"U+{(int)c:X4}";
            return $"invalid container id {JsonErrors.Quote(id)}: character {shown} at position {i + 1} is not allowed; {Allowed}";
        }
        return null;
    }
}

/// <summary>An id that breaks <see cref="ContainerId"/>'s rules; the message says which rule.</summary>
public sealed class InvalidContainerIdException(string id, string message) : CsrtException(ErrorKind.InvalidArgument, message)
{
    public string Id { get; } = id;
}
