using Containerd;
using Containerd.Task.V2;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Xunit;

namespace Csrt.Shim.Tests.Protos;

public sealed class TimestampTests
{
    [Fact]
    public void NotExitedIsGoZeroTime()
    {
        var t = Timestamps.NotExited();

        Assert.Equal(-62135596800, t.Seconds);
        Assert.Equal(0, t.Nanos);
        Assert.Equal(new DateTime(1, 1, 1, 0, 0, 0, DateTimeKind.Utc), t.ToDateTime());
    }

    [Fact]
    public void NotExitedReturnsAFreshInstanceEachTime()
    {
        // Messages are mutable; a shared instance edited by one response would corrupt the next.
        var a = Timestamps.NotExited();
        a.Seconds = 5;
        Assert.Equal(Timestamps.GoZeroSeconds, Timestamps.NotExited().Seconds);
    }

    [Fact]
    public void GoZeroTimeSurvivesAWaitResponseRoundTrip()
    {
        var wait = new WaitResponse { ExitStatus = 0, ExitedAt = Timestamps.NotExited() };

        var parsed = WaitResponse.Parser.ParseFrom(wait.ToByteArray());

        Assert.NotNull(parsed.ExitedAt);
        Assert.Equal(Timestamps.GoZeroSeconds, parsed.ExitedAt.Seconds);
        Assert.Equal(DateTime.MinValue, parsed.ExitedAt.ToDateTime());
        Assert.True(Timestamps.IsNotExited(parsed.ExitedAt));
    }

    [Fact]
    public void AbsentOrGoZeroMeansNotExitedButTheUnixEpochDoesNot()
    {
        Assert.True(Timestamps.IsNotExited(null));
        Assert.True(Timestamps.IsNotExited(new Timestamp { Seconds = Timestamps.GoZeroSeconds }));
        Assert.False(Timestamps.IsNotExited(new Timestamp { Seconds = 0 }));
        Assert.False(Timestamps.IsNotExited(new Timestamp { Seconds = Timestamps.GoZeroSeconds, Nanos = 1 }));
        Assert.False(Timestamps.IsNotExited(Timestamp.FromDateTimeOffset(new DateTimeOffset(2024, 5, 1, 0, 0, 0, TimeSpan.Zero))));
    }
}
