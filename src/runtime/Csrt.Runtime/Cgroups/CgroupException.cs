namespace Csrt.Runtime.Cgroups;

/// <summary>What kind of cgroup failure this is, so the shim and the CLI can map it in one place.</summary>
public enum CgroupErrorKind
{
    /// <summary>The request is malformed (a bad cgroupsPath, swappiness 150, an unknown device type).</summary>
    InvalidArgument,

    /// <summary>The host cannot do what was asked (controller not mounted or not enabled, systemd driver).</summary>
    Unsupported,

    /// <summary>The kernel refused or the operation did not finish (freeze stuck, cgroup busy).</summary>
    Failed,
}

/// <summary>A cgroup operation failed. The message names the cgroup file and the value when there is one.</summary>
public sealed class CgroupException : Exception
{
    public CgroupException(CgroupErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public CgroupErrorKind Kind { get; }

    internal static CgroupException Invalid(string message) => new(CgroupErrorKind.InvalidArgument, message);

    internal static CgroupException Unsupported(string message) => new(CgroupErrorKind.Unsupported, message);

    internal static CgroupException Failed(string message, Exception? inner = null) => new(CgroupErrorKind.Failed, message, inner);
}
