using Csrt.Runtime.Cgroups;
using Csrt.Runtime.Cgroups.Systemd;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Cgroups.Systemd;

public class SystemdPropertiesTests
{
    private const int Debian12 = 252;

    private static List<string> Strings(IEnumerable<UnitProperty> props) => props.Select(p => p.ToString()).ToList();

    private static List<string> WithoutDevices(IEnumerable<UnitProperty> props) =>
        Strings(props.Where(p => p.Name is not ("DevicePolicy" or "DeviceAllow")));

    [Fact]
    public void A_scope_starts_with_its_pid_delegated_accounted_and_without_default_dependencies()
    {
        var path = SystemdCgroupPath.Parse("kubepods-pod1.slice:cri-containerd:abc", "abc");

        var props = SystemdProperties.ForStart(path, 4242, null, Debian12, null);

        Assert.Equal(new[]
        {
            "Description=csrt container abc",
            "Slice=kubepods-pod1.slice",
            "PIDs=4242",
            "Delegate=yes",
            "MemoryAccounting=yes",
            "CPUAccounting=yes",
            "IOAccounting=yes",
            "TasksAccounting=yes",
            "DefaultDependencies=no",
        }, WithoutDevices(props));
        Assert.Equal("au", props.Single(p => p.Name == "PIDs").Signature);
    }

    [Fact]
    public void A_slice_unit_wants_its_parent_and_gets_no_pids_nor_delegation()
    {
        var path = SystemdCgroupPath.Parse("kubepods.slice::kubepods-pod1.slice", "x");

        var names = SystemdProperties.ForStart(path, 1, null, Debian12, null).Select(p => p.Name).ToList();

        Assert.Contains("Wants", names);
        Assert.DoesNotContain("PIDs", names);
        Assert.DoesNotContain("Delegate", names);
        Assert.DoesNotContain("Slice", names);
    }

    [Fact]
    public void Resources_map_to_the_properties_systemd_knows_with_runcs_conversions()
    {
        var r = new LinuxResources
        {
            Memory = new LinuxMemory { Limit = 256L << 20, Reservation = 128L << 20, Swap = 512L << 20 },
            Cpu = new LinuxCpu { Shares = 1024, Quota = 50000, Period = 100000, Cpus = "0-1,3", Mems = "0" },
            Pids = new LinuxPids { Limit = 100 },
            BlockIO = new LinuxBlockIO { Weight = 500 },
        };

        var props = SystemdProperties.ForResources(r, Debian12, update: false, warn: null);

        Assert.Equal(new[]
        {
            "MemoryMax=268435456",
            "MemoryLow=134217728",
            "MemorySwapMax=268435456",           // v2 swap is swap alone: 512 MiB − 256 MiB
            "CPUWeight=100",                     // 1024 shares → the v2 default
            "CPUQuotaPeriodUSec=100000",
            "CPUQuotaPerSecUSec=500000",         // 50 ms per 100 ms = half a CPU
            "AllowedCPUs=0b",                    // CPUs 0, 1, 3
            "AllowedMemoryNodes=01",
            "TasksMax=100",
            "IOWeight=4950",                     // blkio 500 → io.weight
        }, WithoutDevices(props));
    }

    [Fact]
    public void Unlimited_values_become_infinity()
    {
        var r = new LinuxResources { Memory = new LinuxMemory { Limit = -1 }, Pids = new LinuxPids { Limit = -1 }, Cpu = new LinuxCpu { Quota = -1 } };

        Assert.Equal(new[] { "MemoryMax=infinity", "MemorySwapMax=infinity", "CPUQuotaPerSecUSec=infinity", "TasksMax=infinity" },
            WithoutDevices(SystemdProperties.ForResources(r, Debian12, update: false, warn: null)));
    }

    [Theory]
    [InlineData(50000L, 100000UL, 500000UL)]
    [InlineData(12345L, 100000UL, 130000UL)]   // 123450 µs/s rounds up to a whole percent
    [InlineData(100000L, 0UL, 1000000UL)]      // no period: the kernel's default 100 ms
    [InlineData(200000L, 50000UL, 4000000UL)]
    public void Cpu_quota_per_second_is_rounded_up_to_a_whole_percent(long quota, ulong period, ulong perSec)
    {
        var props = new List<UnitProperty>();
        SystemdProperties.AddCpuQuota(props, quota, period, Debian12);
        Assert.Equal(perSec, props.Single(p => p.Name == "CPUQuotaPerSecUSec").UInt64);
    }

    [Fact]
    public void Older_systemd_gets_no_quota_period_nor_cpuset_properties()
    {
        var r = new LinuxResources { Cpu = new LinuxCpu { Quota = 50000, Period = 100000, Cpus = "0" } };

        Assert.Equal(new[] { "CPUQuotaPerSecUSec=500000" }, WithoutDevices(SystemdProperties.ForResources(r, 241, update: false, warn: null)));
    }

    [Theory]
    [InlineData("0", "01")]
    [InlineData("0-7", "ff")]
    [InlineData("8", "0001")]
    [InlineData("1,3,5-6", "6a")]
    [InlineData(" 2 , ,9-10", "0406")]
    public void Cpu_lists_become_little_endian_bit_masks(string list, string hex)
    {
        Assert.Equal(hex, Convert.ToHexString(SystemdProperties.RangeToBits(list, "cpus")).ToLowerInvariant());
    }

    [Theory]
    [InlineData("")]
    [InlineData("3-1")]
    [InlineData("a")]
    [InlineData("-1")]
    public void Bad_cpu_lists_are_refused_naming_the_field(string list)
    {
        var e = Assert.Throws<CgroupException>(() => SystemdProperties.RangeToBits(list, "linux.resources.cpu.cpus"));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("linux.resources.cpu.cpus", e.Message);
    }

    [Fact]
    public void An_update_maps_only_what_is_set_and_leaves_devices_alone()
    {
        var r = new LinuxResources { Pids = new LinuxPids { Limit = 20 }, Memory = new LinuxMemory { Swap = 1L << 30 } };

        // swap alone: systemd needs the limit in force, which the cgroupfs side reads.
        Assert.Equal(new[] { "TasksMax=20" }, Strings(SystemdProperties.ForResources(r, Debian12, update: true, warn: null)));
    }

    [Fact]
    public void The_default_whitelist_becomes_strict_with_runcs_allowances()
    {
        var rules = DeviceRules.FromSpec(new List<LinuxDeviceCgroup> { new() { Allow = false, Access = "rwm" } }, withDefaults: true);

        var props = Strings(SystemdProperties.ForDevices(rules, Debian12));

        Assert.Equal("DevicePolicy=strict", props[0]);
        Assert.Equal("DeviceAllow=", props[1]);
        Assert.Equal(
            "DeviceAllow=char-* m, block-* m, /dev/char/1:3 rwm, /dev/char/1:8 rwm, /dev/char/1:7 rwm, /dev/char/5:0 rwm, " +
            "/dev/char/1:5 rwm, /dev/char/1:9 rwm, char-136 rwm, /dev/char/5:2 rwm, /dev/char/10:200 rwm",
            props[2]);
    }

    [Fact]
    public void Allow_rules_before_the_last_deny_all_do_not_count_and_access_merges()
    {
        var rules = new List<DeviceRule>
        {
            new('c', 4, 1, DeviceAccess.All, true),
            new('a', DeviceRule.Any, DeviceRule.Any, DeviceAccess.All, false),
            new('b', 8, 0, DeviceAccess.Read, true),
            new('b', 8, 0, DeviceAccess.Write, true),
            new('c', 1, 3, DeviceAccess.Read, false),   // denies are left to csrt's eBPF filter
        };

        Assert.Equal("DeviceAllow=/dev/block/8:0 rw", Strings(SystemdProperties.ForDevices(rules, Debian12))[2]);
    }

    [Fact]
    public void Allow_by_default_or_an_inexpressible_rule_means_no_systemd_device_filter()
    {
        var allowAll = new List<DeviceRule> { new('a', DeviceRule.Any, DeviceRule.Any, DeviceAccess.All, true) };
        var wildcardMajor = new List<DeviceRule>
        {
            new('a', DeviceRule.Any, DeviceRule.Any, DeviceAccess.All, false),
            new('c', DeviceRule.Any, 3, DeviceAccess.All, true),
        };
        var expected = new[] { "DevicePolicy=auto", "DeviceAllow=" };

        Assert.Equal(expected, Strings(SystemdProperties.ForDevices(allowAll, Debian12)));
        Assert.Equal(expected, Strings(SystemdProperties.ForDevices(wildcardMajor, Debian12)));
        Assert.Equal(expected, Strings(SystemdProperties.ForDevices(Array.Empty<DeviceRule>(), Debian12)));
    }

    [Fact]
    public void Unified_keys_systemd_knows_become_properties_and_the_rest_stay_for_cgroupfs()
    {
        var unified = new Dictionary<string, string>
        {
            ["memory.high"] = "1048576",
            ["memory.min"] = "max",
            ["pids.max"] = " 7 ",
            ["cpu.weight"] = "300",
            ["cpu.max"] = "25000 50000",
            ["cpuset.cpus"] = "1",
            ["memory.oom.group"] = "1",
            ["io.max"] = "8:0 rbps=1",
        };

        var props = SystemdProperties.ForUnified(unified, Debian12, null);

        Assert.Equal(new[]
        {
            "MemoryHigh=1048576", "MemoryMin=infinity", "TasksMax=7", "CPUWeight=300",
            "CPUQuotaPeriodUSec=50000", "CPUQuotaPerSecUSec=500000", "AllowedCPUs=02",
        }, Strings(props));
    }

    [Theory]
    [InlineData("memory/high", "1", "'/'")]
    [InlineData("memoryhigh", "1", "CONTROLLER.PARAMETER")]
    [InlineData("memory.max", "lots", "non-negative number")]
    [InlineData("cpu.max", "1 2 3", "QUOTA [PERIOD]")]
    public void Bad_unified_entries_are_refused_naming_the_key(string key, string value, string why)
    {
        var e = Assert.Throws<CgroupException>(() => SystemdProperties.ForUnified(new Dictionary<string, string> { [key] = value }, Debian12, null));
        Assert.Contains($"linux.resources.unified[\"{key}\"]", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Theory]
    [InlineData("252.22-1~deb12u1", 252)]
    [InlineData("v245.4-1.fc32", 245)]
    [InlineData("\"245\"", 245)]
    [InlineData("unknown", -1)]
    public void The_systemd_version_is_its_leading_number(string text, int version)
    {
        Assert.Equal(version, SystemdBus.ParseVersion(text));
    }
}
