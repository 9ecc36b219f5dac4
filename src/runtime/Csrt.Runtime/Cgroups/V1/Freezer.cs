namespace Csrt.Runtime.Cgroups.V1;

/// <summary>v1 freezer: freezer.state THAWED / FREEZING / FROZEN.</summary>
internal static class Freezer
{
    private const string State = "freezer.state";

    public static FreezerState Get(string dir) => Parse(CgroupFs.Read(dir, State));

    internal static FreezerState Parse(string text) => text.Trim() switch
    {
        "THAWED" => FreezerState.Thawed,
        "FREEZING" => FreezerState.Freezing,
        "FROZEN" => FreezerState.Frozen,
        var other => throw CgroupException.Failed($"{State}: unexpected state \"{other}\""),
    };

    /// <summary>
    /// Freezes and waits until the kernel reports FROZEN. A v1 cgroup can sit in FREEZING while new
    /// tasks keep arriving (fork, exec joining): like runc, write FROZEN again, sleep now and then,
    /// thaw briefly every 50 attempts so a fork storm can settle, and give up after 1000 attempts by
    /// thawing (a cgroup left FREEZING is worse than a failed pause).
    /// </summary>
    public static FreezerState Freeze(string dir)
    {
        for (var i = 0; i < 1000; i++)
        {
            if (i % 50 == 49)
            {
                CgroupFs.Write(dir, State, "THAWED");
                Thread.Sleep(10);
            }
            CgroupFs.Write(dir, State, "FROZEN");
            if (i % 25 == 24)
                Thread.Sleep(1);
            var state = Get(dir);
            if (state == FreezerState.Frozen)
                return state;
            if (state != FreezerState.Freezing)
                throw CgroupException.Failed($"{CgroupFs.PathOf(dir, State)}: unexpected state {state} while freezing");
        }
        CgroupFs.Write(dir, State, "THAWED");
        throw CgroupException.Failed($"{CgroupFs.PathOf(dir, State)} stayed FREEZING after 1000 attempts; thawed it again");
    }

    public static FreezerState Thaw(string dir)
    {
        CgroupFs.Write(dir, State, "THAWED");
        // Thawing is immediate in the kernel; read back so the caller sees what is true.
        for (var i = 0; i < 100; i++)
        {
            var state = Get(dir);
            if (state == FreezerState.Thawed)
                return state;
            Thread.Sleep(1);
        }
        throw CgroupException.Failed($"{CgroupFs.PathOf(dir, State)} did not become THAWED");
    }
}
