using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Csrt.Runtime.Processes;
using Xunit;

namespace Csrt.Runtime.Tests.Processes;

/// <summary>
/// The container init decodes the plan in C (src/linux/native/csrt_plan.c) from the bytes
/// InitPlanCodec writes. These tests decode the same bytes with both decoders and compare a
/// canonical text of each result: the C side's from csrt_plan_dump (in libcsrt_native.so), this
/// side's from <see cref="Dump"/>, written here field for field in csrt_plan_dump.c's order.
/// </summary>
public class InitPlanNativeDecoderTests
{
    [DllImport("csrt_native", EntryPoint = "csrt_plan_dump")]
    private static extern int NativeDump(byte[] data, nuint length, byte[] buffer, nuint size);

    private static string CDump(byte[] bytes)
    {
        var buffer = new byte[1 << 20];
        var n = NativeDump(bytes, (nuint)bytes.Length, buffer, (nuint)buffer.Length);
        Assert.True(n >= 0, $"csrt_plan_decode refused the plan: {n}");
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    private static void AssertSameDecoding(InitPlan plan)
    {
        var bytes = InitPlanCodec.Encode(plan);
        var expected = Dump(InitPlanCodec.Decode(bytes));
        var actual = CDump(bytes);
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (var i = 0; i < Math.Min(e.Length, a.Length); i++)
            Assert.True(e[i] == a[i], $"line {i + 1}: C# decoded `{e[i]}`, C decoded `{a[i]}`");
        Assert.Equal(e.Length, a.Length);
    }

    [Fact]
    public void A_plan_with_every_field_set_decodes_the_same_in_C()
    {
        AssertSameDecoding((InitPlan)ObjectGraph.Filled(typeof(InitPlan), seed: 3));
    }

    [Fact]
    public void A_default_plan_decodes_the_same_in_C()
    {
        AssertSameDecoding(new InitPlan());
    }

    [Fact]
    public void Nulls_empty_strings_non_ascii_and_extreme_numbers_decode_the_same_in_C()
    {
        var plan = new InitPlan
        {
            ContainerId = "ünïcode-✓ \"q\" \\ \t",
            Bundle = "",
            RootfsParentMount = null,
            RootPropagation = ulong.MaxValue,
            NewRootPropagation = 1UL << 63,
            Hostname = null,
            Domainname = "",
            Sysctl = new Dictionary<string, string> { ["net.ipv4.ip_forward"] = "1", [""] = "" },
            OomScoreAdj = int.MinValue,
            PreserveFds = int.MaxValue,
            ConsoleSocketFd = -1,
            ExecFifoFd = int.MinValue,
            HookState = new string('x', 70000),
        };
        plan.Devices.Add(new DeviceNode { Path = "/dev/x", Type = 'p', Major = long.MinValue, Minor = long.MaxValue, FileMode = uint.MaxValue, Uid = uint.MaxValue });
        plan.Mounts.Add(new MountStep { Destination = "/a", Source = null, Type = null, Data = "", CgroupSources = null, Propagation = new List<ulong>(), MountFd = 7 });
        plan.Mounts.Add(new MountStep
        {
            Kind = MountKinds.CgroupV1,
            Destination = "/sys/fs/cgroup",
            CgroupSources = new List<CgroupMountSource> { new() { Name = "cpu,cpuacct", HostPath = "/h", Options = "", Aliases = new List<string> { "cpu", "cpuacct" } } },
            Propagation = new List<ulong> { ulong.MaxValue, 0 },
        });
        plan.MaskedPaths = new List<string> { "", "/proc/kcore" };
        plan.Rlimits.Add(new RlimitStep { Resource = -1, Name = "RLIMIT_NOFILE", Soft = ulong.MaxValue, Hard = 0 });
        plan.Process.Args = new List<string> { "/bin/sh", "" };
        plan.Process.Seccomp = Array.Empty<byte>();
        plan.Process.AdditionalGids = null;
        plan.Process.Umask = 0;
        plan.Process.Personality = null;
        plan.Process.ConsoleHeight = ushort.MaxValue;
        plan.CreateContainerHooks.Add(new HookStep { Path = "/h", Args = new List<string>(), TimeoutSeconds = 0 });
        AssertSameDecoding(plan);
        plan.Sysctl = null;
        plan.Process.Seccomp = null;
        plan.Process.AdditionalGids = new List<uint>();
        AssertSameDecoding(plan);
    }

    [Fact]
    public void A_truncated_plan_or_one_with_extra_bytes_is_refused_in_C()
    {
        var bytes = InitPlanCodec.Encode((InitPlan)ObjectGraph.Filled(typeof(InitPlan), seed: 4));
        var buffer = new byte[1 << 20];
        for (var n = 0; n < bytes.Length; n++)
            Assert.Equal(-22, NativeDump(bytes[..n], (nuint)n, buffer, (nuint)buffer.Length));
        byte[] longer = [.. bytes, 0];
        Assert.Equal(-22, NativeDump(longer, (nuint)longer.Length, buffer, (nuint)buffer.Length));
        // A number of eleven continuation bytes does not fit 64 bits.
        byte[] malformed = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        Assert.Equal(-22, NativeDump(malformed, (nuint)malformed.Length, buffer, (nuint)buffer.Length));
    }

    // ---- the C# side of csrt_plan_dump.c ----

    private static string Dump(InitPlan p)
    {
        var d = new DumpWriter();
        d.Str("container_id", p.ContainerId);
        d.Str("bundle", p.Bundle);
        d.Str("rootfs", p.Rootfs);
        d.Str("rootfs_parent_mount", p.RootfsParentMount);
        d.Num("rootfs_readonly", p.RootfsReadonly);
        d.Num("root_propagation", p.RootPropagation);
        d.Num("new_root_propagation", p.NewRootPropagation);
        d.Num("no_pivot", p.NoPivot);
        d.Num("no_new_keyring", p.NoNewKeyring);
        d.Num("own_mount_namespace", p.OwnMountNamespace);
        d.Num("in_user_namespace", p.InUserNamespace);
        d.Num("new_cgroup_namespace", p.NewCgroupNamespace);
        d.Num("new_network_namespace", p.NewNetworkNamespace);
        d.Num("mounts.count", p.Mounts.Count);
        for (var i = 0; i < p.Mounts.Count; i++)
        {
            var m = p.Mounts[i];
            var at = $"mounts[{i}].";
            d.Str(at + "kind", m.Kind);
            d.Str(at + "source", m.Source);
            d.Str(at + "destination", m.Destination);
            d.Str(at + "type", m.Type);
            d.Num(at + "flags", m.Flags);
            d.Num(at + "cleared_flags", m.ClearedFlags);
            d.Num(at + "propagation.count", m.Propagation.Count);
            for (var j = 0; j < m.Propagation.Count; j++)
                d.Num(at + $"propagation[{j}]", m.Propagation[j]);
            d.Num(at + "set_attributes", m.SetAttributes);
            d.Num(at + "clear_attributes", m.ClearAttributes);
            d.Str(at + "data", m.Data);
            d.Num(at + "copy_up", m.CopyUp);
            d.Num(at + "cgroup_sources.count", m.CgroupSources?.Count ?? -1);
            for (var j = 0; j < (m.CgroupSources?.Count ?? 0); j++)
            {
                var s = m.CgroupSources![j];
                var sat = at + $"cgroup_sources[{j}].";
                d.Str(sat + "name", s.Name);
                d.Str(sat + "host_path", s.HostPath);
                d.Str(sat + "options", s.Options);
                d.Strs(sat + "aliases", s.Aliases);
            }
            d.Num(at + "mount_fd", m.MountFd);
        }
        d.Num("setup_dev", p.SetupDev);
        d.Num("devices.count", p.Devices.Count);
        for (var i = 0; i < p.Devices.Count; i++)
        {
            var v = p.Devices[i];
            var at = $"devices[{i}].";
            d.Str(at + "path", v.Path);
            d.Num(at + "type", (ulong)v.Type);
            d.Num(at + "major", v.Major);
            d.Num(at + "minor", v.Minor);
            d.Num(at + "file_mode", v.FileMode);
            d.Num(at + "uid", v.Uid);
            d.Num(at + "gid", v.Gid);
        }
        d.Str("hostname", p.Hostname);
        d.Str("domainname", p.Domainname);
        d.Num("sysctl.count", p.Sysctl?.Count ?? -1);
        var k = 0;
        foreach (var (key, value) in p.Sysctl ?? new Dictionary<string, string>())
        {
            d.Str($"sysctl[{k}].key", key);
            d.Str($"sysctl[{k++}].value", value);
        }
        d.Strs("masked_paths", p.MaskedPaths);
        d.Strs("readonly_paths", p.ReadonlyPaths);
        d.Num("rlimits.count", p.Rlimits.Count);
        for (var i = 0; i < p.Rlimits.Count; i++)
        {
            var r = p.Rlimits[i];
            d.Num($"rlimits[{i}].resource", r.Resource);
            d.Str($"rlimits[{i}].name", r.Name);
            d.Num($"rlimits[{i}].soft", r.Soft);
            d.Num($"rlimits[{i}].hard", r.Hard);
        }
        d.Num("has_oom_score_adj", p.OomScoreAdj.HasValue);
        d.Num("oom_score_adj", p.OomScoreAdj ?? 0);
        var q = p.Process;
        d.Strs("process.args", q.Args);
        d.Strs("process.env", q.Env);
        d.Str("process.cwd", q.Cwd);
        d.Num("process.uid", q.Uid);
        d.Num("process.gid", q.Gid);
        d.Num("process.additional_gids.count", q.AdditionalGids?.Count ?? -1);
        for (var i = 0; i < (q.AdditionalGids?.Count ?? 0); i++)
            d.Num($"process.additional_gids[{i}]", q.AdditionalGids![i]);
        d.Num("process.has_umask", q.Umask.HasValue);
        d.Num("process.umask", q.Umask ?? 0);
        d.Num("process.set_capabilities", q.SetCapabilities);
        d.Num("process.cap_bounding", q.CapBounding);
        d.Num("process.cap_effective", q.CapEffective);
        d.Num("process.cap_permitted", q.CapPermitted);
        d.Num("process.cap_inheritable", q.CapInheritable);
        d.Num("process.cap_ambient", q.CapAmbient);
        d.Num("process.no_new_privileges", q.NoNewPrivileges);
        d.Num("process.seccomp_length", q.Seccomp?.Length ?? -1);
        d.Line("process.seccomp=" + Convert.ToHexStringLower(q.Seccomp ?? Array.Empty<byte>()));
        d.Num("process.seccomp_flags", q.SeccompFlags);
        d.Num("process.has_personality", q.Personality.HasValue);
        d.Num("process.personality", q.Personality ?? 0);
        d.Num("process.terminal", q.Terminal);
        d.Num("process.console_height", q.ConsoleHeight);
        d.Num("process.console_width", q.ConsoleWidth);
        Hooks(d, "create_container_hooks", p.CreateContainerHooks);
        Hooks(d, "start_container_hooks", p.StartContainerHooks);
        d.Str("hook_state", p.HookState);
        d.Num("preserve_fds", p.PreserveFds);
        d.Num("console_socket_fd", p.ConsoleSocketFd);
        d.Num("exec_fifo_fd", p.ExecFifoFd);
        return d.ToString();
    }

    private static void Hooks(DumpWriter d, string list, List<HookStep> hooks)
    {
        d.Num(list + ".count", hooks.Count);
        for (var i = 0; i < hooks.Count; i++)
        {
            var at = $"{list}[{i}].";
            d.Str(at + "path", hooks[i].Path);
            d.Strs(at + "args", hooks[i].Args);
            d.Strs(at + "env", hooks[i].Env);
            d.Num(at + "has_timeout", hooks[i].TimeoutSeconds.HasValue);
            d.Num(at + "timeout_seconds", hooks[i].TimeoutSeconds ?? 0);
        }
    }

    private sealed class DumpWriter
    {
        private readonly StringBuilder _sb = new();

        public void Line(string line) => _sb.Append(line).Append('\n');

        public void Num(string name, long v) => Line(name + "=" + v.ToString(CultureInfo.InvariantCulture));

        public void Num(string name, ulong v) => Line(name + "=" + v.ToString(CultureInfo.InvariantCulture));

        public void Num(string name, bool v) => Num(name, v ? 1L : 0L);

        public void Str(string name, string? s)
        {
            if (s is null)
            {
                Line(name + "=null");
                return;
            }
            var sb = new StringBuilder(name).Append("=\"");
            foreach (var b in Encoding.UTF8.GetBytes(s))
            {
                if (b < 0x20 || b >= 0x7f || b == '"' || b == '\\')
                    sb.Append(CultureInfo.InvariantCulture, $"\\x{b:x2}");
                else
                    sb.Append((char)b);
            }
            Line(sb.Append('"').ToString());
        }

        public void Strs(string name, List<string> items)
        {
            Num(name + ".count", items.Count);
            for (var i = 0; i < items.Count; i++)
                Str($"{name}[{i}]", items[i]);
        }

        public override string ToString() => _sb.ToString();
    }
}
