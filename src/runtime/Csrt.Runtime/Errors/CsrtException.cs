using Csrt.Linux;

namespace Csrt.Runtime.Errors;

/// <summary>
/// What went wrong, as the callers branch on it. The shim's status mapping, the CLI's exit and the
/// init's report each switch on this one list; nothing else decides how an error is shown.
/// </summary>
public enum ErrorKind
{
    /// <summary>The container, process or cgroup named does not exist (or no longer does).</summary>
    NotFound,

    /// <summary>The id is taken.</summary>
    AlreadyExists,

    /// <summary>The request is valid but not in the current state (start a running container).</summary>
    FailedPrecondition,

    /// <summary>The request itself is malformed (a bad id, config.json, cgroupsPath, option).</summary>
    InvalidArgument,

    /// <summary>csrt or the host cannot do what was asked (systemd driver, a missing controller).</summary>
    Unsupported,

    /// <summary>The operation was attempted and failed (a mount, a hook, the container's init).</summary>
    Failed,
}

/// <summary>
/// A failure csrt expects and reports as its message alone. Subclasses exist only where a caller
/// catches that one failure or reads data it carries (<c>ContainerNotFoundException.Id</c>,
/// <c>SpecValidationException.JsonPath</c>); every other failure is this type with its kind.
/// </summary>
public class CsrtException : Exception
{
    public CsrtException(ErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public ErrorKind Kind { get; }

    public static CsrtException NotFound(string message) => new(ErrorKind.NotFound, message);

    public static CsrtException AlreadyExists(string message) => new(ErrorKind.AlreadyExists, message);

    public static CsrtException FailedPrecondition(string message) => new(ErrorKind.FailedPrecondition, message);

    public static CsrtException InvalidArgument(string message, Exception? inner = null) => new(ErrorKind.InvalidArgument, message, inner);

    public static CsrtException Unsupported(string message) => new(ErrorKind.Unsupported, message);

    public static CsrtException Failed(string message, Exception? inner = null) => new(ErrorKind.Failed, message, inner);

    /// <summary>
    /// The kind of any exception: a <see cref="CsrtException"/>'s own, the syscall layer's and the
    /// standard ones csrt throws for bad input or failed I/O; null for anything else, which is a bug
    /// and is shown with its type name.
    /// </summary>
    public static ErrorKind? KindOf(Exception e) => e switch
    {
        CsrtException c => c.Kind,
        // The syscall layer names the call, path and errno; what the errno means is the caller's to decide.
        SyscallException => ErrorKind.Failed,
        // InvalidDataException: bytes from a peer that do not decode (an Any of the wrong type, bootstrap params).
        ArgumentException or InvalidDataException => ErrorKind.InvalidArgument,
        NotSupportedException => ErrorKind.Unsupported,
        IOException or TimeoutException => ErrorKind.Failed,
        _ => null,
    };

    /// <summary>The text a person reads: the message of an expected failure; a bug's type name too.</summary>
    public static string Describe(Exception e) => KindOf(e) is null ? $"{e.GetType().Name}: {e.Message}" : e.Message;
}
