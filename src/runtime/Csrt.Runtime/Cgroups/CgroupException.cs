using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Cgroups;

/// <summary>
/// A cgroup operation failed. The message names the cgroup file and the value when there is one;
/// the kind is <see cref="ErrorKind.InvalidArgument"/> for a malformed request (a bad cgroupsPath,
/// swappiness 150), <see cref="ErrorKind.Unsupported"/> when the host cannot do it (controller not
/// mounted, systemd driver), <see cref="ErrorKind.Failed"/> when the kernel refused or it did not finish.
/// </summary>
public sealed class CgroupException : CsrtException
{
    public CgroupException(ErrorKind kind, string message, Exception? inner = null)
        : base(kind, message, inner)
    {
    }

    internal static CgroupException Invalid(string message) => new(ErrorKind.InvalidArgument, message);

    internal static new CgroupException Unsupported(string message) => new(ErrorKind.Unsupported, message);

    internal static new CgroupException Failed(string message, Exception? inner = null) => new(ErrorKind.Failed, message, inner);
}
