using Google.Protobuf.WellKnownTypes;

namespace Containerd;

/// <summary>
/// Exit times as containerd expects them. containerd 1.6 decodes timestamps into a non-nullable Go
/// <c>time.Time</c>, whose zero value 0001-01-01T00:00:00Z means "not exited"; 1.7+ would read an
/// absent field as 1970-01-01 instead. The runc shim therefore always sends the Go zero time for
/// processes that are still running, and so do we.
/// </summary>
public static class Timestamps
{
    /// <summary>Seconds of Go's zero time (0001-01-01T00:00:00Z) relative to the Unix epoch.</summary>
    public const long GoZeroSeconds = -62135596800;

    /// <summary>A new Timestamp holding Go's zero time, for exited_at of a process that has not exited.</summary>
    public static Timestamp NotExited() => new() { Seconds = GoZeroSeconds, Nanos = 0 };

    /// <summary>Whether an exited_at says "not exited": absent, or Go's zero time.</summary>
    public static bool IsNotExited(Timestamp? timestamp) =>
        timestamp is null || (timestamp.Seconds == GoZeroSeconds && timestamp.Nanos == 0);
}
