using Csrt.Linux;
using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups;

public class DeviceRulesTests
{
    private static LinuxDeviceCgroup Rule(bool allow, string? type = null, long? major = null, long? minor = null, string? access = "rwm") =>
        new() { Allow = allow, Type = type, Major = major, Minor = minor, Access = access };

    [Fact]
    public void Spec_rules_keep_their_order_and_runcs_defaults_follow()
    {
        var rules = DeviceRules.FromSpec(new[] { Rule(false), Rule(true, "c", 4, 64, "rw") }, withDefaults: true);

        Assert.Equal(2 + DeviceRules.RuncDefaults.Count, rules.Count);
        Assert.Equal(new DeviceRule('a', -1, -1, DeviceAccess.All, false), rules[0]);
        Assert.Equal(new DeviceRule('c', 4, 64, DeviceAccess.Read | DeviceAccess.Write, true), rules[1]);
        Assert.Equal(DeviceRules.RuncDefaults, rules.Skip(2));
    }

    [Fact]
    public void Runc_defaults_allow_the_standard_devices_and_mknod_of_anything()
    {
        var lines = DeviceRules.RuncDefaults.Select(r => r.ToString()).ToArray();

        Assert.Equal(new[]
        {
            "allow c *:* m", "allow b *:* m", "allow c 1:3 rwm", "allow c 1:8 rwm", "allow c 1:7 rwm", "allow c 5:0 rwm",
            "allow c 1:5 rwm", "allow c 1:9 rwm", "allow c 136:* rwm", "allow c 5:2 rwm", "allow c 10:200 rwm",
        }, lines);
    }

    [Fact]
    public void A_null_access_means_all_and_a_null_type_means_any()
    {
        var r = DeviceRules.FromSpec(new[] { Rule(true, null, 1, 3, null) }, withDefaults: false).Single();

        Assert.Equal(new DeviceRule('a', 1, 3, DeviceAccess.All, true), r);
    }

    [Theory]
    [InlineData("x", null, "rwm", "type \"x\"")]
    [InlineData("c", null, "rwx", "unknown letter 'x'")]
    [InlineData("c", null, "", "access is empty")]
    [InlineData("c", -7L, "rwm", "major -7")]
    public void Bad_rules_are_refused_naming_the_field(string type, long? major, string access, string what)
    {
        var e = Assert.Throws<CgroupException>(() => DeviceRules.FromSpec(new[] { Rule(true, type, major, 1, access) }, withDefaults: false));

        Assert.Contains("linux.resources.devices[0]", e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void V1_writes_start_from_the_deny_all_rule_and_follow_the_rule_order()
    {
        var rules = DeviceRules.FromSpec(new[] { Rule(false), Rule(true, "c", 1, 3, "rwm"), Rule(false, "b", 8, null, "w") }, withDefaults: false);

        Assert.Equal(new[]
        {
            ("devices.deny", "a"),
            ("devices.allow", "c 1:3 rwm"),
            ("devices.deny", "b 8:* w"),
        }, DeviceRules.ToV1Writes(rules));
    }

    [Fact]
    public void Without_a_reset_rule_v1_starts_by_denying_everything_as_runc_does()
    {
        var rules = DeviceRules.FromSpec(new[] { Rule(true, "c", 1, 3) }, withDefaults: false);

        Assert.Equal(new[] { ("devices.deny", "a"), ("devices.allow", "c 1:3 rwm") }, DeviceRules.ToV1Writes(rules));
    }

    [Fact]
    public void Rules_before_the_last_reset_rule_are_dropped()
    {
        var rules = DeviceRules.FromSpec(new[] { Rule(false), Rule(true, "c", 1, 3), Rule(true), Rule(false, "c", 1, 5) }, withDefaults: false);

        Assert.Equal(new[] { ("devices.allow", "a"), ("devices.deny", "c 1:5 rwm") }, DeviceRules.ToV1Writes(rules));
    }

    [Fact]
    public void A_narrow_any_type_rule_is_written_for_char_and_block_because_v1_reads_a_as_everything()
    {
        var rules = DeviceRules.FromSpec(new[] { Rule(false), Rule(true, "a", null, null, "r") }, withDefaults: false);

        Assert.Equal(new[] { ("devices.deny", "a"), ("devices.allow", "c *:* r"), ("devices.allow", "b *:* r") }, DeviceRules.ToV1Writes(rules));
    }
}

public class DeviceFilterTests
{
    private static IReadOnlyList<DeviceRule> Rules(params DeviceRule[] r) => r;

    private static readonly DeviceRule DenyAll = new('a', -1, -1, DeviceAccess.All, false);
    private static readonly DeviceRule AllowAll = new('a', -1, -1, DeviceAccess.All, true);

    [Fact]
    public void The_program_starts_by_loading_type_access_major_and_minor()
    {
        var p = DeviceFilter.Build(Rules(DenyAll));

        Assert.Equal(new[]
        {
            BpfInstruction.Make(0x61, 2, 1, 0, 0),      // r2 = *(u32*)(r1+0)
            BpfInstruction.Make(0x54, 2, 0, 0, 0xffff), // w2 &= 0xffff
            BpfInstruction.Make(0x61, 3, 1, 0, 0),      // r3 = *(u32*)(r1+0)
            BpfInstruction.Make(0x74, 3, 0, 0, 16),     // w3 >>= 16
            BpfInstruction.Make(0x61, 4, 1, 4, 0),      // r4 = major
            BpfInstruction.Make(0x61, 5, 1, 8, 0),      // r5 = minor
            BpfInstruction.Make(0xb4, 0, 0, 0, 0),      // w0 = 0
            BpfInstruction.Make(0x95, 0, 0, 0, 0),      // exit
        }, p);
    }

    [Fact]
    public void Rules_are_emitted_last_first_and_a_reset_rule_ends_the_program()
    {
        var p = DeviceFilter.Build(Rules(DenyAll, new DeviceRule('c', 1, 3, DeviceAccess.All, true)));

        // 6 loads; the char 1:3 block (type, major, minor, verdict, exit); the deny-all verdict.
        Assert.Equal(6 + 5 + 2, p.Length);
        Assert.Equal(BpfInstruction.Make(0x55, 2, 0, 4, 2), p[6]);  // if r2 != char skip 4 (to the next block)
        Assert.Equal(BpfInstruction.Make(0x55, 4, 0, 3, 1), p[7]);  // if r4 != 1 skip 3
        Assert.Equal(BpfInstruction.Make(0x55, 5, 0, 2, 3), p[8]);  // if r5 != 3 skip 2
        Assert.Equal(BpfInstruction.Make(0xb4, 0, 0, 0, 1), p[9]);  // allow
        Assert.Equal(BpfInstruction.Make(0xb4, 0, 0, 0, 0), p[11]); // deny all
        Assert.Equal(0x95, p[^1].Code);
    }

    [Fact]
    public void A_partial_access_rule_masks_the_requested_access()
    {
        var p = DeviceFilter.Build(Rules(new DeviceRule('b', 8, -1, DeviceAccess.Read, true)));

        Assert.Equal(6 + 7 + 2, p.Length);
        Assert.Equal(BpfInstruction.Make(0x55, 2, 0, 6, 1), p[6]);  // block device
        Assert.Equal(BpfInstruction.Make(0xbc, 1, 3, 0, 0), p[7]);  // w1 = w3
        Assert.Equal(BpfInstruction.Make(0x54, 1, 0, 0, 2), p[8]);  // w1 &= read
        Assert.Equal(BpfInstruction.Make(0x5d, 1, 3, 3, 0), p[9]);  // if r1 != r3 skip 3
        Assert.Equal(BpfInstruction.Make(0x55, 4, 0, 2, 8), p[10]); // major 8, any minor
    }

    [Fact]
    public void A_program_for_runcs_defaults_after_deny_all_has_one_block_per_rule()
    {
        var rules = DeviceRules.FromSpec(new[] { new LinuxDeviceCgroup { Allow = false, Access = "rwm" } }, withDefaults: true);

        var p = DeviceFilter.Build(rules);

        // Loads; two mknod rules (type, access mask, verdict); eight c M:m rules (type, major, minor,
        // verdict); /dev/pts (type, major, verdict); the deny-all verdict ends it.
        var expected = 6 + 2 * (1 + 3 + 2) + 8 * (1 + 2 + 2) + (1 + 1 + 2) + 2;
        Assert.Equal(expected, p.Length);
        Assert.True(DeviceFilter.Evaluate(p, 'c', 1, 3, DeviceAccess.Read | DeviceAccess.Write));
        Assert.True(DeviceFilter.Evaluate(p, 'c', 136, 7, DeviceAccess.Write));
        Assert.True(DeviceFilter.Evaluate(p, 'b', 8, 0, DeviceAccess.Mknod));
        Assert.False(DeviceFilter.Evaluate(p, 'b', 8, 0, DeviceAccess.Read));
        Assert.False(DeviceFilter.Evaluate(p, 'c', 1, 11, DeviceAccess.Read));
    }

    [Fact]
    public void The_last_matching_rule_wins()
    {
        var p = DeviceFilter.Build(Rules(
            AllowAll,
            new DeviceRule('c', 1, -1, DeviceAccess.All, false),
            new DeviceRule('c', 1, 3, DeviceAccess.Read, true)));

        Assert.True(DeviceFilter.Evaluate(p, 'c', 1, 3, DeviceAccess.Read));
        Assert.False(DeviceFilter.Evaluate(p, 'c', 1, 3, DeviceAccess.Write));
        Assert.False(DeviceFilter.Evaluate(p, 'c', 1, 5, DeviceAccess.Read));
        Assert.True(DeviceFilter.Evaluate(p, 'c', 4, 1, DeviceAccess.Write));
        Assert.True(DeviceFilter.Evaluate(p, 'b', 1, 3, DeviceAccess.Write));
    }

    [Fact]
    public void With_no_matching_rule_access_is_denied()
    {
        var p = DeviceFilter.Build(Rules(new DeviceRule('c', 1, 3, DeviceAccess.All, true)));

        Assert.False(DeviceFilter.Evaluate(p, 'c', 1, 5, DeviceAccess.Read));
        Assert.True(DeviceFilter.Evaluate(p, 'c', 1, 3, DeviceAccess.Read));
    }

    [Fact]
    public void Rules_before_an_allow_everything_rule_are_not_emitted()
    {
        var p = DeviceFilter.Build(Rules(DenyAll, new DeviceRule('c', 1, 3, DeviceAccess.All, false), AllowAll));

        Assert.Equal(6 + 2, p.Length);
        Assert.True(DeviceFilter.Evaluate(p, 'c', 1, 3, DeviceAccess.Read));
    }

    [Fact]
    public void An_any_type_rule_matches_char_and_block_devices()
    {
        var p = DeviceFilter.Build(Rules(new DeviceRule('a', 7, -1, DeviceAccess.Read, true)));

        Assert.True(DeviceFilter.Evaluate(p, 'b', 7, 0, DeviceAccess.Read));
        Assert.True(DeviceFilter.Evaluate(p, 'c', 7, 2, DeviceAccess.Read));
        Assert.False(DeviceFilter.Evaluate(p, 'b', 7, 0, DeviceAccess.Read | DeviceAccess.Write));
    }
}
