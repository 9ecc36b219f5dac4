using Csrt.Runtime.Processes;
using Xunit;

namespace Csrt.Runtime.Tests.Processes;

/// <summary>The init plan crosses the sync socket in a hand-written binary form; these tests fail
/// when a property of the plan's types is not carried (someone added one to InitPlan and not to
/// InitPlanCodec) or comes back different.</summary>
public class InitPlanCodecTests
{
    [Fact]
    public void Every_property_set_to_a_non_default_value_comes_back_equal()
    {
        var plan = (InitPlan)ObjectGraph.Filled(typeof(InitPlan), seed: 1);
        var back = InitPlanCodec.Decode(InitPlanCodec.Encode(plan));
        ObjectGraph.AssertDeepEqual(plan, back, "plan");
    }

    [Fact]
    public void A_default_plan_comes_back_equal()
    {
        var plan = new InitPlan();
        ObjectGraph.AssertDeepEqual(plan, InitPlanCodec.Decode(InitPlanCodec.Encode(plan)), "plan");
    }

    [Fact]
    public void Nulls_empty_lists_extreme_numbers_and_non_ascii_text_survive()
    {
        var plan = new InitPlan
        {
            ContainerId = "ünïcode-✓",
            RootPropagation = ulong.MaxValue,
            Hostname = null,
            Sysctl = new Dictionary<string, string>(),
            OomScoreAdj = int.MinValue,
            PreserveFds = int.MaxValue,
            ConsoleSocketFd = -1,
        };
        plan.Devices.Add(new DeviceNode { Path = "/dev/x", Type = 'c', Major = long.MinValue, Minor = long.MaxValue, FileMode = uint.MaxValue });
        plan.Mounts.Add(new MountStep { Destination = "/a", CgroupSources = null, Propagation = new List<ulong>() });
        plan.Process.Seccomp = Array.Empty<byte>();
        plan.Process.AdditionalGids = null;
        plan.Process.Umask = 0;
        ObjectGraph.AssertDeepEqual(plan, InitPlanCodec.Decode(InitPlanCodec.Encode(plan)), "plan");
    }

    [Fact]
    public void A_truncated_plan_is_refused_with_an_IOException()
    {
        var bytes = InitPlanCodec.Encode((InitPlan)ObjectGraph.Filled(typeof(InitPlan), seed: 2));
        for (var n = 0; n < bytes.Length; n += Math.Max(1, bytes.Length / 50))
            Assert.Throws<IOException>(() => InitPlanCodec.Decode(bytes.AsSpan(0, n)));
        Assert.Throws<IOException>(() => InitPlanCodec.Decode([.. bytes, 0]));
    }
}
