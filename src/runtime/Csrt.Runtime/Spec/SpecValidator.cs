using System.Globalization;
using static Csrt.Runtime.Spec.JsonPaths;

namespace Csrt.Runtime.Spec;

/// <summary>What the caller needs checked, and where warnings go.</summary>
public sealed class SpecValidationOptions
{
    /// <summary>create/run need process with non-empty args; commands that only read the bundle do not.</summary>
    public bool RequireProcess { get; init; } = true;

    /// <summary>Answers "is this netns path the runtime's own network namespace?" so that net.*
    /// sysctls are refused there (runc stats both and compares). Null: a joined netns counts as private.</summary>
    public Func<string, bool>? IsHostNetworkNamespace { get; init; }

    /// <summary>Receives findings that are accepted as runc accepts them (unknown capability names,
    /// relative mount destinations, personality flags). Each message names the file and path.</summary>
    public Action<string>? Warn { get; init; }

    internal static readonly SpecValidationOptions Default = new();
}

/// <summary>
/// Semantic checks of a parsed config (after runc's libcontainer/configs/validate and specconv,
/// plus the spec's MUSTs). The first problem throws <see cref="SpecValidationException"/> with the
/// JSON path of the offending value. Host-dependent checks (does the rootfs exist, is SELinux on)
/// belong to the code that acts on the spec.
/// </summary>
/// <remarks>
/// Choices where runc is lenient or inconsistent:
/// <list type="bullet">
/// <item>Capability names: a known name is used; a well-formed unknown one (CAP_ + upper case) is
/// ignored with a warning, as runc does, so configs written for newer kernels still run; a name
/// that cannot be a capability ("chown", "CAP_chown") is an error, because it is a typo, not a
/// future capability.</item>
/// <item>Relative mount destinations: accepted with a warning and made absolute (runc 1.1).</item>
/// <item>A new user namespace must have both uid and gid mappings (without them the process
/// would run as the overflow id and every mount would fail later, less clearly).</item>
/// <item>Every uid and gid (the user, additional gids, both ends of every mapping, uid=/gid=
/// mount options) is in 0..<see cref="MaxId"/>, the range runc accepts: 4294967295 is (uid_t)-1,
/// which setresuid/setresgid take as "leave unchanged", so it would keep the runtime's root.</item>
/// <item>No string that the runtime hands to the kernel or to a program (paths, args, env,
/// hostname, mount options, hook commands, sysctls, seccomp syscall names, cgroup values) may
/// contain a NUL byte: as a C string it would end there, silently meaning something else.</item>
/// </list>
/// </remarks>
public static class SpecValidator
{
    /// <summary>The largest uid or gid accepted anywhere (runc: "uids and gids must be in range 0-2147483647").</summary>
    public const uint MaxId = int.MaxValue;

    /// <summary>The message for an id out of range, shared with the CLI's flags.</summary>
    public static string IdOutOfRange(string value) => $"uids and gids must be in range 0-{MaxId}, got {value}";

    public static void Validate(RuntimeSpec spec, string file = "config.json", SpecValidationOptions? options = null) =>
        new Checker(file, options ?? SpecValidationOptions.Default).Spec(spec);

    /// <summary>Checks a process alone (exec). <paramref name="basePath"/> is "$" for a process
    /// document and "$.process" inside config.json.</summary>
    public static void ValidateProcess(Process process, string file, string basePath = "$", bool requireArgs = true, SpecValidationOptions? options = null) =>
        new Checker(file, options ?? SpecValidationOptions.Default).Process(process, basePath, requireArgs);

    /// <summary>Checks a linux.resources document alone (`update -r`): what becomes a cgroup file
    /// name or value carries no NUL. Its values are the cgroup managers' to judge.</summary>
    public static void ValidateResources(LinuxResources resources, string file) =>
        new Checker(file, SpecValidationOptions.Default).Resources(resources, "$");

    private sealed class Checker(string file, SpecValidationOptions options)
    {
        private const int HostNameMax = 64; // HOST_NAME_MAX: longer names make sethostname fail with EINVAL

        public void Spec(RuntimeSpec spec)
        {
            OciVersion(spec.OciVersion);

            if (spec.Root is null)
                Missing("$.root", "an object with the root filesystem path");
            if (spec.Root.Path.Length == 0)
                Missing("$.root.path", "the path of the root filesystem (absolute or relative to the bundle)");
            NoNul("$.root.path", spec.Root.Path);

            if (spec.Process is null)
            {
                if (options.RequireProcess)
                    Missing("$.process", "an object describing the process to run");
            }
            else
            {
                Process(spec.Process, "$.process", options.RequireProcess);
            }

            var ns = Namespaces(spec.Linux?.Namespaces);
            HostAndDomain(spec, ns);
            Mounts(spec.Mounts);
            Hooks(spec.Hooks);
            if (spec.Annotations is { } annotations)
                foreach (var key in annotations.Keys)
                    if (key.Length == 0)
                        Fail(Property("$.annotations", key), "a non-empty annotation key", "an annotation key is empty");
            if (spec.Linux is { } linux)
                Linux(linux, ns);
        }

        // ---- top level -------------------------------------------------------------------------

        private void OciVersion(string version)
        {
            const string path = "$.ociVersion";
            if (version.Length == 0)
                Missing(path, "the runtime-spec version, e.g. \"" + BuildInfo.OciVersion + "\"");
            var core = version.AsSpan();
            var cut = core.IndexOfAny('-', '+');
            if (cut >= 0)
                core = core[..cut];
            Span<Range> parts = stackalloc Range[4];
            var n = core.Split(parts, '.');
            var semver = n == 3;
            for (var i = 0; i < n && semver; i++)
                semver = core[parts[i]].Length > 0 && !core[parts[i]].ContainsAnyExceptInRange('0', '9');
            if (!semver)
                Expected(path, "a SemVer 2.0.0 version such as \"1.2.0\"", Quote(version));
            if (!core[parts[0]].SequenceEqual("1"))
                Expected(path, $"a 1.x.y version (this runtime implements {BuildInfo.OciVersion})", Quote(version));
        }

        private void HostAndDomain(RuntimeSpec spec, Dictionary<string, LinuxNamespace> ns)
        {
            Name("$.hostname", spec.Hostname);
            Name("$.domainname", spec.Domainname);

            void Name(string path, string? value)
            {
                if (string.IsNullOrEmpty(value))
                    return;
                NoNul(path, value);
                if (System.Text.Encoding.UTF8.GetByteCount(value) > HostNameMax)
                    Expected(path, $"at most {HostNameMax} bytes", $"{value.Length} characters");
                if (!ns.ContainsKey(NamespaceTypes.Uts))
                    Fail(path, "a uts namespace in $.linux.namespaces",
                        $"setting {path[2..]} needs a uts namespace; add {{\"type\": \"uts\"}} to linux.namespaces");
            }
        }

        private void Mounts(List<Mount>? mounts)
        {
            if (mounts is null)
                return;
            for (var i = 0; i < mounts.Count; i++)
            {
                var m = mounts[i];
                var at = Index("$.mounts", i);
                if (m.Destination.Length == 0)
                    Missing(Property(at, "destination"), "an absolute path in the container");
                if (m.Destination[0] != '/')
                    Warn(Property(at, "destination"), $"relative mount destination {Quote(m.Destination)} is deprecated; using it as relative to /");
                NoNul(Property(at, "destination"), m.Destination);
                NoNul(Property(at, "source"), m.Source);
                NoNul(Property(at, "type"), m.Type);
                if (m.Options is { } options)
                    for (var j = 0; j < options.Count; j++)
                        MountOption(at, j, options[j]);
                IdMappings(m.UidMappings, Property(at, "uidMappings"));
                IdMappings(m.GidMappings, Property(at, "gidMappings"));
            }
        }

        private void Hooks(LifecycleHooks? hooks)
        {
            if (hooks is null)
                return;
            One("prestart", hooks.Prestart);
            One("createRuntime", hooks.CreateRuntime);
            One("createContainer", hooks.CreateContainer);
            One("startContainer", hooks.StartContainer);
            One("poststart", hooks.Poststart);
            One("poststop", hooks.Poststop);

            void One(string name, List<Hook>? list)
            {
                if (list is null)
                    return;
                for (var i = 0; i < list.Count; i++)
                {
                    var at = Index(Property("$.hooks", name), i);
                    var hook = list[i];
                    if (hook.Path.Length == 0)
                        Missing(Property(at, "path"), "an absolute path to the hook executable");
                    AbsolutePath(Property(at, "path"), hook.Path);
                    NoNul(Property(at, "path"), hook.Path);
                    NoNul(Property(at, "args"), hook.Args);
                    NoNul(Property(at, "env"), hook.Env);
                    if (hook.Timeout is <= 0)
                        Expected(Property(at, "timeout"), "a number of seconds greater than zero", hook.Timeout.Value.ToString(CultureInfo.InvariantCulture));
                }
            }
        }

        // ---- process ---------------------------------------------------------------------------

        public void Process(Process p, string at, bool requireArgs)
        {
            if (requireArgs && (p.Args is null || p.Args.Count == 0))
                Expected(Property(at, "args"), "a non-empty array (the command to run)", p.Args is null ? "nothing" : "[]");
            if (p.Args is { Count: > 0 } && p.Args[0].Length == 0)
                Expected(Index(Property(at, "args"), 0), "the program to run", "\"\"");
            NoNul(Property(at, "args"), p.Args);

            if (p.Cwd.Length == 0)
                Missing(Property(at, "cwd"), "an absolute path in the container");
            AbsolutePath(Property(at, "cwd"), p.Cwd);
            NoNul(Property(at, "cwd"), p.Cwd);

            User(p.User, Property(at, "user"));

            // Set by containerd on hosts with those LSMs or by newer tools; csrt applies none of
            // them, and says so instead of dropping them silently.
            if (p.ApparmorProfile is { Length: > 0 })
                NotApplied(Property(at, "apparmorProfile"), "AppArmor profiles");
            if (p.SelinuxLabel is { Length: > 0 })
                NotApplied(Property(at, "selinuxLabel"), "SELinux labels");
            if (p.Scheduler is not null)
                NotApplied(Property(at, "scheduler"), "scheduling policies");
            if (p.IoPriority is not null)
                NotApplied(Property(at, "ioPriority"), "I/O priorities");
            if (p.ExecCpuAffinity is not null)
                NotApplied(Property(at, "execCPUAffinity"), "exec CPU affinities");

            if (p.Env is { } env)
                for (var i = 0; i < env.Count; i++)
                {
                    // The path is only built for an error: an env list can be long.
                    var eq = env[i].IndexOf('=');
                    if (eq < 0)
                        Expected(Index(Property(at, "env"), i), "NAME=VALUE", Quote(env[i]));
                    if (eq == 0)
                        Expected(Index(Property(at, "env"), i), "NAME=VALUE with a non-empty NAME", Quote(env[i]));
                    if (env[i].Contains('\0'))
                        Expected(Index(Property(at, "env"), i), "NAME=VALUE without NUL bytes", Quote(env[i]));
                }

            if (p.Capabilities is { } caps)
            {
                var capsAt = Property(at, "capabilities");
                Capabilities(caps.Bounding, Property(capsAt, "bounding"));
                Capabilities(caps.Effective, Property(capsAt, "effective"));
                Capabilities(caps.Inheritable, Property(capsAt, "inheritable"));
                Capabilities(caps.Permitted, Property(capsAt, "permitted"));
                Capabilities(caps.Ambient, Property(capsAt, "ambient"));
            }

            Rlimits(p.Rlimits, Property(at, "rlimits"));

            if (p.OomScoreAdj is < -1000 or > 1000)
                Expected(Property(at, "oomScoreAdj"), "an integer from -1000 to 1000", p.OomScoreAdj.Value.ToString(CultureInfo.InvariantCulture));

            if (p.Scheduler is { } s)
                Scheduler(s, Property(at, "scheduler"));

            if (p.IoPriority is { } io)
            {
                var ioAt = Property(at, "ioPriority");
                OneOf(Property(ioAt, "class"), io.Class, SpecValues.IoPriorityClasses, "an I/O priority class");
                if (io.Priority is < 0 or > 7)
                    Expected(Property(ioAt, "priority"), "an integer from 0 (highest) to 7 (lowest)", io.Priority.ToString(CultureInfo.InvariantCulture));
            }

            if (p.ExecCpuAffinity is { } aff)
            {
                var affAt = Property(at, "execCPUAffinity");
                IdList(Property(affAt, "initial"), aff.Initial, "a CPU list such as \"0-3,7\"");
                IdList(Property(affAt, "final"), aff.Final, "a CPU list such as \"0-3,7\"");
            }
        }

        private void User(User user, string at)
        {
            Id(Property(at, "uid"), user.Uid);
            Id(Property(at, "gid"), user.Gid);
            if (user.AdditionalGids is { } gids)
                for (var i = 0; i < gids.Count; i++)
                    if (gids[i] > MaxId)
                        Id(Index(Property(at, "additionalGids"), i), gids[i]);
        }

        private void Capabilities(List<string>? names, string at)
        {
            if (names is null)
                return;
            for (var i = 0; i < names.Count; i++)
            {
                var name = names[i];
                if (KnownCapabilities.TryGetNumber(name, out _))
                    continue;
                var path = Index(at, i);
                if (!KnownCapabilities.IsWellFormed(name))
                    Expected(path, "a capability name such as \"CAP_CHOWN\"", Quote(name));
                Warn(path, $"unknown capability {Quote(name)} ignored (this runtime knows CAP_CHOWN to CAP_CHECKPOINT_RESTORE)");
            }
        }

        private void Rlimits(List<PosixRlimit>? rlimits, string at)
        {
            if (rlimits is null)
                return;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < rlimits.Count; i++)
            {
                var r = rlimits[i];
                var path = Index(at, i);
                if (r.Type.Length == 0)
                    Missing(Property(path, "type"), "an RLIMIT_* name");
                if (!KnownRlimits.TryGetResource(r.Type, out _))
                    Expected(Property(path, "type"), "one of " + string.Join(", ", KnownRlimits.All), Quote(r.Type));
                if (!seen.Add(r.Type))
                    Fail(Property(path, "type"), "each rlimit type once", $"rlimit {r.Type} is given more than once");
                if (r.Soft > r.Hard)
                    Fail(Property(path, "soft"), "soft <= hard",
                        $"soft limit {r.Soft} is above hard limit {r.Hard} for {r.Type}; expected soft <= hard");
            }
        }

        private void Scheduler(Scheduler s, string at)
        {
            // sched_setattr(2) rules, as runc checks them.
            if (s.Policy.Length == 0)
                Missing(Property(at, "policy"), "a scheduling policy such as \"SCHED_OTHER\"");
            OneOf(Property(at, "policy"), s.Policy, SpecValues.SchedulerPolicies, "a scheduling policy");
            if (s.Nice is < -20 or > 19)
                Expected(Property(at, "nice"), "an integer from -20 to 19", s.Nice.ToString(CultureInfo.InvariantCulture));
            if (s.Priority != 0 && s.Policy is not ("SCHED_FIFO" or "SCHED_RR"))
                Fail(Property(at, "priority"), "priority only with SCHED_FIFO or SCHED_RR",
                    $"priority can only be set for SCHED_FIFO or SCHED_RR, not {s.Policy}");
            if (s.Policy != "SCHED_DEADLINE" && (s.Runtime != 0 || s.Deadline != 0 || s.Period != 0))
                Fail(at, "runtime, deadline and period only with SCHED_DEADLINE",
                    $"runtime, deadline and period can only be set for SCHED_DEADLINE, not {s.Policy}");
            if (s.Flags is { } flags)
                for (var i = 0; i < flags.Count; i++)
                    OneOf(Index(Property(at, "flags"), i), flags[i], SpecValues.SchedulerFlags, "a scheduler flag");
        }

        // ---- linux -----------------------------------------------------------------------------

        private Dictionary<string, LinuxNamespace> Namespaces(List<LinuxNamespace>? list)
        {
            var map = new Dictionary<string, LinuxNamespace>(StringComparer.Ordinal);
            if (list is null)
                return map;
            for (var i = 0; i < list.Count; i++)
            {
                var at = Index("$.linux.namespaces", i);
                var ns = list[i];
                if (ns.Type.Length == 0)
                    Missing(Property(at, "type"), "a namespace type: " + string.Join(", ", NamespaceTypes.All));
                if (!NamespaceTypes.IsKnown(ns.Type))
                    Expected(Property(at, "type"), "one of " + string.Join(", ", NamespaceTypes.All), Quote(ns.Type));
                if (!map.TryAdd(ns.Type, ns))
                    Fail(Property(at, "type"), "each namespace type once", $"namespace {Quote(ns.Type)} is listed more than once");
                if (!string.IsNullOrEmpty(ns.Path))
                {
                    AbsolutePath(Property(at, "path"), ns.Path);
                    NoNul(Property(at, "path"), ns.Path);
                }
            }
            return map;
        }

        private void Linux(LinuxConfig linux, Dictionary<string, LinuxNamespace> ns)
        {
            UserNamespace(linux, ns);
            TimeOffsets(linux, ns);
            Sysctls(linux.Sysctl, ns);
            Devices(linux.Devices);
            DeviceRules(linux.Resources?.Devices);
            NoNul("$.linux.cgroupsPath", linux.CgroupsPath);
            if (linux.Resources is { } resources)
                Resources(resources, "$.linux.resources");
            if (linux.Seccomp is { } seccomp)
                Seccomp(seccomp);
            if (!string.IsNullOrEmpty(linux.RootfsPropagation))
                OneOf("$.linux.rootfsPropagation", linux.RootfsPropagation, SpecValues.RootfsPropagations, "a mount propagation");
            ContainerPaths(linux.MaskedPaths, "$.linux.maskedPaths");
            ContainerPaths(linux.ReadonlyPaths, "$.linux.readonlyPaths");

            if (linux.IntelRdt?.ClosId is { } clos && (clos is "." or ".." || clos.Contains('/')))
                Expected("$.linux.intelRdt.closID", "a resctrl group name (not \".\" or \"..\", no \"/\")", Quote(clos));

            if (linux.Personality is { } pers)
            {
                if (pers.Domain.Length == 0)
                    Missing("$.linux.personality.domain", "LINUX or LINUX32");
                OneOf("$.linux.personality.domain", pers.Domain, SpecValues.PersonalityDomains, "an execution domain");
                if (pers.Flags is { Count: > 0 })
                    Expected("$.linux.personality.flags", "no flags (csrt supports the execution domain only)", $"{pers.Flags.Count} flag(s)");
            }

            if (linux.MemoryPolicy is { } mp)
                MemoryPolicy(mp);
            NetDevices(linux.NetDevices, ns);

            if (linux.MountLabel is { Length: > 0 })
                NotApplied("$.linux.mountLabel", "SELinux mount labels");
            if (linux.IntelRdt is not null)
                NotApplied("$.linux.intelRdt", "Intel RDT");
            if (linux.MemoryPolicy is not null)
                NotApplied("$.linux.memoryPolicy", "NUMA memory policies");
            if (linux.NetDevices is { Count: > 0 })
                NotApplied("$.linux.netDevices", "moving network devices");
        }

        private void NotApplied(string path, string what) => Warn(path, $"{what} are not supported by csrt: ignored");

        private void UserNamespace(LinuxConfig linux, Dictionary<string, LinuxNamespace> ns)
        {
            IdMappings(linux.UidMappings, "$.linux.uidMappings");
            IdMappings(linux.GidMappings, "$.linux.gidMappings");
            var hasUid = linux.UidMappings is { Count: > 0 };
            var hasGid = linux.GidMappings is { Count: > 0 };
            if (!ns.TryGetValue(NamespaceTypes.User, out var user))
            {
                if (hasUid || hasGid)
                    Fail(hasUid ? "$.linux.uidMappings" : "$.linux.gidMappings", "a user namespace in $.linux.namespaces",
                        "uid/gid mappings need a user namespace; add {\"type\": \"user\"} to linux.namespaces");
                return;
            }
            if (string.IsNullOrEmpty(user.Path) && !(hasUid && hasGid))
                Fail(hasUid ? "$.linux.gidMappings" : "$.linux.uidMappings", "uid and gid mappings for a new user namespace",
                    "a new user namespace needs both uidMappings and gidMappings");
        }

        private void IdMappings(List<LinuxIdMapping>? maps, string at)
        {
            if (maps is null)
                return;
            for (var i = 0; i < maps.Count; i++)
            {
                var m = maps[i];
                if (m.Size == 0)
                    Expected(Property(Index(at, i), "size"), "a size greater than zero", "0");
                Id(Property(Index(at, i), "containerID"), m.ContainerId);
                Id(Property(Index(at, i), "hostID"), m.HostId);
                var lastContainer = (ulong)m.ContainerId + m.Size - 1;
                var lastHost = (ulong)m.HostId + m.Size - 1;
                if (lastContainer > MaxId || lastHost > MaxId)
                    Fail(Property(Index(at, i), "size"), $"ranges within 0-{MaxId}",
                        $"the range {m.ContainerId}..{lastContainer} -> {m.HostId}..{lastHost} goes past {MaxId}, the largest uid or gid");
            }
        }

        private void TimeOffsets(LinuxConfig linux, Dictionary<string, LinuxNamespace> ns)
        {
            if (linux.TimeOffsets is not { Count: > 0 } offsets)
                return;
            if (!ns.TryGetValue(NamespaceTypes.Time, out var time))
                Fail("$.linux.timeOffsets", "a time namespace in $.linux.namespaces",
                    "time offsets need a time namespace; add {\"type\": \"time\"} to linux.namespaces");
            if (!string.IsNullOrEmpty(time.Path))
                Fail("$.linux.timeOffsets", "no offsets when joining a time namespace",
                    "time offsets cannot be set on an existing time namespace (it has a path)");
            foreach (var (clock, offset) in offsets)
            {
                var at = Property("$.linux.timeOffsets", clock);
                if (!SpecValues.TimeOffsetClocks.Contains(clock))
                    Fail(at, "monotonic or boottime", $"unknown clock {Quote(clock)}; expected monotonic or boottime");
                if (offset.Nanosecs >= 1_000_000_000)
                    Expected(Property(at, "nanosecs"), "less than 1000000000", offset.Nanosecs.ToString(CultureInfo.InvariantCulture));
            }
        }

        private void Sysctls(Dictionary<string, string>? sysctl, Dictionary<string, LinuxNamespace> ns)
        {
            if (sysctl is null)
                return;
            foreach (var key in sysctl.Keys)
            {
                NoNul("$.linux.sysctl", key, "a sysctl name");
                var at = Property("$.linux.sysctl", key);
                var s = DottedSysctl(key);
                if (s.Length == 0)
                    Fail(at, "a sysctl name", "a sysctl name is empty");
                NoNul(at, sysctl[key]);
                if (IsIpcSysctl(s))
                {
                    if (!ns.ContainsKey(NamespaceTypes.Ipc))
                        Fail(at, "an ipc namespace in $.linux.namespaces",
                            $"sysctl {Quote(s)} is not allowed in the host's ipc namespace; add {{\"type\": \"ipc\"}} to linux.namespaces");
                    continue;
                }
                if (s.StartsWith("net.", StringComparison.Ordinal))
                {
                    var hostNet = !ns.TryGetValue(NamespaceTypes.Network, out var net)
                        || (!string.IsNullOrEmpty(net.Path) && options.IsHostNetworkNamespace?.Invoke(net.Path) == true);
                    if (hostNet)
                        Fail(at, "a private network namespace",
                            $"sysctl {Quote(s)} is not allowed in the host's network namespace");
                    continue;
                }
                if (ns.ContainsKey(NamespaceTypes.Uts))
                {
                    if (s == "kernel.domainname")
                        continue;
                    if (s == "kernel.hostname")
                        Fail(at, "the hostname field instead", "sysctl \"kernel.hostname\" conflicts with the \"hostname\" field; set the hostname there");
                }
                Fail(at, "a namespaced sysctl (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*, kernel.domainname)",
                    $"sysctl {Quote(s)} is not in a separate kernel namespace, so setting it would change the host");
            }
        }

        /// <summary>sysctl(8) accepts '/' as the separator; then '.' is literal (an interface name such as eno2.100).</summary>
        internal static string DottedSysctl(string key)
        {
            var first = key.AsSpan().IndexOfAny('.', '/');
            if (first < 0 || key[first] == '.')
                return key;
            return string.Create(key.Length, key, static (dst, src) =>
            {
                for (var i = 0; i < src.Length; i++)
                    dst[i] = src[i] switch { '.' => '/', '/' => '.', var c => c };
            });
        }

        private static bool IsIpcSysctl(string s) =>
            s is "kernel.msgmax" or "kernel.msgmnb" or "kernel.msgmni" or "kernel.sem" or "kernel.shmall"
                or "kernel.shmmax" or "kernel.shmmni" or "kernel.shm_rmid_forced"
            || s.StartsWith("fs.mqueue.", StringComparison.Ordinal);

        private void Devices(List<LinuxDevice>? devices)
        {
            if (devices is null)
                return;
            for (var i = 0; i < devices.Count; i++)
            {
                var d = devices[i];
                var at = Index("$.linux.devices", i);
                if (d.Type.Length == 0)
                    Missing(Property(at, "type"), "c, b, u or p");
                if (d.Type is not ("c" or "b" or "u" or "p"))
                    Expected(Property(at, "type"), "c (char), b (block), u (unbuffered char) or p (FIFO)", Quote(d.Type));
                if (d.Path.Length == 0)
                    Missing(Property(at, "path"), "an absolute path in the container");
                AbsolutePath(Property(at, "path"), d.Path);
                NoNul(Property(at, "path"), d.Path);
                if (d.Type == "p")
                    continue;
                if (d.Major is null)
                    Missing(Property(at, "major"), $"the major number (required for type {d.Type})");
                if (d.Minor is null)
                    Missing(Property(at, "minor"), $"the minor number (required for type {d.Type})");
                if (d.Major is < 0 or > uint.MaxValue)
                    Expected(Property(at, "major"), "a device number from 0 to 4294967295", d.Major.Value.ToString(CultureInfo.InvariantCulture));
                if (d.Minor is < 0 or > uint.MaxValue)
                    Expected(Property(at, "minor"), "a device number from 0 to 4294967295", d.Minor.Value.ToString(CultureInfo.InvariantCulture));
            }
        }

        private void DeviceRules(List<LinuxDeviceCgroup>? rules)
        {
            if (rules is null)
                return;
            for (var i = 0; i < rules.Count; i++)
            {
                var r = rules[i];
                var at = Index("$.linux.resources.devices", i);
                if (r.Type is not (null or "" or "a" or "b" or "c"))
                    Expected(Property(at, "type"), "a (all), b (block) or c (char)", Quote(r.Type));
                if (r.Access is { } access && access.AsSpan().ContainsAnyExcept("rwm"))
                    Expected(Property(at, "access"), "a combination of r, w and m", Quote(access));
            }
        }

        private void Seccomp(LinuxSeccomp s)
        {
            const string at = "$.linux.seccomp";
            if (s.DefaultAction.Length == 0)
                Missing(Property(at, "defaultAction"), "a seccomp action such as \"SCMP_ACT_ERRNO\"");
            OneOf(Property(at, "defaultAction"), s.DefaultAction, SeccompNames.Actions, "a seccomp action");
            if (s.DefaultAction == "SCMP_ACT_NOTIFY")
                Fail(Property(at, "defaultAction"), "an action other than SCMP_ACT_NOTIFY",
                    "SCMP_ACT_NOTIFY cannot be the default action (the agent itself could not run)");
            if (s.DefaultErrnoRet is not null && !SeccompNames.TakesErrno(s.DefaultAction))
                Fail(Property(at, "defaultErrnoRet"), "defaultErrnoRet only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                    $"defaultErrnoRet is set but the default action {s.DefaultAction} does not return an errno");
            if (s.Architectures is { } archs)
                for (var i = 0; i < archs.Count; i++)
                    OneOf(Index(Property(at, "architectures"), i), archs[i], SeccompNames.Architectures, "a seccomp architecture");
            if (s.Flags is { } flags)
                for (var i = 0; i < flags.Count; i++)
                    OneOf(Index(Property(at, "flags"), i), flags[i], SeccompNames.Flags, "a seccomp filter flag");
            NoNul(Property(at, "listenerPath"), s.ListenerPath);
            NoNul(Property(at, "listenerMetadata"), s.ListenerMetadata);
            if (!string.IsNullOrEmpty(s.ListenerMetadata) && string.IsNullOrEmpty(s.ListenerPath))
                Fail(Property(at, "listenerMetadata"), "listenerMetadata only with listenerPath",
                    "listenerMetadata is set but listenerPath is not");

            if (s.Syscalls is not { } calls)
                return;
            for (var i = 0; i < calls.Count; i++)
            {
                var c = calls[i];
                var cAt = Index(Property(at, "syscalls"), i);
                if (c.Names.Count == 0)
                    Expected(Property(cAt, "names"), "at least one syscall name", "[]");
                for (var j = 0; j < c.Names.Count; j++)
                    if (c.Names[j].Length == 0)
                        Expected(Index(Property(cAt, "names"), j), "a syscall name", "\"\"");
                NoNul(Property(cAt, "names"), c.Names);
                if (c.Action.Length == 0)
                    Missing(Property(cAt, "action"), "a seccomp action such as \"SCMP_ACT_ALLOW\"");
                OneOf(Property(cAt, "action"), c.Action, SeccompNames.Actions, "a seccomp action");
                if (c.ErrnoRet is not null && !SeccompNames.TakesErrno(c.Action))
                    Fail(Property(cAt, "errnoRet"), "errnoRet only with SCMP_ACT_ERRNO or SCMP_ACT_TRACE",
                        $"errnoRet is set but the action {c.Action} does not return an errno");
                if (c.Action == "SCMP_ACT_NOTIFY")
                {
                    if (string.IsNullOrEmpty(s.ListenerPath))
                        Fail(Property(at, "listenerPath"), "a listener socket path when SCMP_ACT_NOTIFY is used",
                            $"{cAt} uses SCMP_ACT_NOTIFY but listenerPath is not set");
                    if (c.Names.Contains("write"))
                        Fail(Property(cAt, "names"), "no SCMP_ACT_NOTIFY for write",
                            "SCMP_ACT_NOTIFY cannot be used for write (the runtime needs it to hand over the listener)");
                }
                if (c.Args is { } args)
                    for (var k = 0; k < args.Count; k++)
                    {
                        var aAt = Index(Property(cAt, "args"), k);
                        if (args[k].Index > 5)
                            Expected(Property(aAt, "index"), "a syscall argument index from 0 to 5", args[k].Index.ToString(CultureInfo.InvariantCulture));
                        if (args[k].Op.Length == 0)
                            Missing(Property(aAt, "op"), "a comparison operator such as \"SCMP_CMP_EQ\"");
                        OneOf(Property(aAt, "op"), args[k].Op, SeccompNames.Operators, "a comparison operator");
                    }
            }
        }

        /// <summary>Masked and read-only paths; without a mount namespace they are applied in the
        /// runtime's, under the rootfs, as crun does (runc refuses them).</summary>
        private void ContainerPaths(List<string>? paths, string at)
        {
            if (paths is not { Count: > 0 })
                return;
            for (var i = 0; i < paths.Count; i++)
            {
                AbsolutePath(Index(at, i), paths[i]);
                NoNul(Index(at, i), paths[i]);
            }
        }

        private void MemoryPolicy(LinuxMemoryPolicy mp)
        {
            const string at = "$.linux.memoryPolicy";
            if (mp.Mode.Length == 0)
                Missing(Property(at, "mode"), "a memory policy mode such as \"MPOL_BIND\"");
            OneOf(Property(at, "mode"), mp.Mode, SpecValues.MemoryPolicyModes, "a memory policy mode");
            IdList(Property(at, "nodes"), mp.Nodes, "a NUMA node list such as \"0-1,3\"");
            if (mp.Mode is "MPOL_DEFAULT" or "MPOL_LOCAL" && !string.IsNullOrEmpty(mp.Nodes))
                Fail(Property(at, "nodes"), $"no nodes with {mp.Mode}", $"{mp.Mode} takes no nodes");
            if (mp.Flags is { } flags)
            {
                for (var i = 0; i < flags.Count; i++)
                    OneOf(Index(Property(at, "flags"), i), flags[i], SpecValues.MemoryPolicyFlags, "a memory policy flag");
                if (flags.Contains("MPOL_F_STATIC_NODES") && flags.Contains("MPOL_F_RELATIVE_NODES"))
                    Fail(Property(at, "flags"), "at most one of MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES",
                        "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
            }
        }

        private void NetDevices(Dictionary<string, LinuxNetDevice>? devices, Dictionary<string, LinuxNamespace> ns)
        {
            if (devices is not { Count: > 0 })
                return;
            if (!ns.ContainsKey(NamespaceTypes.Network))
                Fail("$.linux.netDevices", "a network namespace in $.linux.namespaces",
                    "network devices can only be moved into a private network namespace; add {\"type\": \"network\"} to linux.namespaces");
            foreach (var (host, dev) in devices)
            {
                var at = Property("$.linux.netDevices", host);
                if (!IsInterfaceName(host))
                    Fail(at, "a network interface name", $"{Quote(host)} is not a valid interface name (1-15 bytes, no '/', ':' or white space, not . or ..)");
                if (dev.Name is { } name && !IsInterfaceName(name))
                    Expected(Property(at, "name"), "a network interface name (1-15 bytes, no '/', ':' or white space, not . or ..)", Quote(name));
            }
        }

        private static bool IsInterfaceName(string name)
        {
            // dev_valid_name() in net/core/dev.c; IFNAMSIZ is 16 including the NUL.
            if (name.Length is 0 or > 15 || name is "." or "..")
                return false;
            foreach (var c in name)
                if (c is '/' or ':' || char.IsWhiteSpace(c) || c > '\x7e')
                    return false;
            return true;
        }

        // ---- helpers ---------------------------------------------------------------------------

        /// <summary>"0-3,7" style lists (cpus, NUMA nodes); empty and null are accepted (unset).</summary>
        private void IdList(string path, string? value, string expected)
        {
            if (string.IsNullOrEmpty(value))
                return;
            foreach (var part in value.Split(','))
            {
                var dash = part.IndexOf('-');
                var ok = dash < 0
                    ? uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out _)
                    : uint.TryParse(part.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var lo)
                      && uint.TryParse(part.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var hi)
                      && lo <= hi;
                if (!ok)
                    Expected(path, expected, Quote(value));
            }
        }

        private void Id(string path, ulong value)
        {
            if (value > MaxId)
                Fail(path, $"an id from 0 to {MaxId}", IdOutOfRange(value.ToString(CultureInfo.InvariantCulture)));
        }

        /// <summary>A mount option; the uid=/gid= data options of tmpfs, devpts, vfat and the like carry ids.</summary>
        private void MountOption(string mountAt, int index, string option)
        {
            if (option.Contains('\0'))
                Nul(Index(Property(mountAt, "options"), index), option);
            if (!(option.StartsWith("uid=", StringComparison.Ordinal) || option.StartsWith("gid=", StringComparison.Ordinal)))
                return;
            // Only a number is an id here: other values are the filesystem's to judge.
            var digits = option.AsSpan(4);
            if (digits.Length == 0 || digits.ContainsAnyExceptInRange('0', '9'))
                return;
            if (!uint.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id > MaxId)
                Fail(Index(Property(mountAt, "options"), index), $"an id from 0 to {MaxId}", IdOutOfRange(digits.ToString()));
        }

        /// <summary>Strings that reach the kernel or a program as C strings (see the remarks).</summary>
        public void Resources(LinuxResources r, string at)
        {
            if (r.Cpu is { } cpu)
            {
                NoNul(Property(Property(at, "cpu"), "cpus"), cpu.Cpus);
                NoNul(Property(Property(at, "cpu"), "mems"), cpu.Mems);
            }
            if (r.HugepageLimits is { } huge)
                for (var i = 0; i < huge.Count; i++)
                    NoNul(Property(Index(Property(at, "hugepageLimits"), i), "pageSize"), huge[i].PageSize);
            if (r.Network?.Priorities is { } priorities)
                for (var i = 0; i < priorities.Count; i++)
                    NoNul(Property(Index(Property(Property(at, "network"), "priorities"), i), "name"), priorities[i].Name);
            if (r.Rdma is { } rdma)
                foreach (var device in rdma.Keys)
                    NoNul(Property(at, "rdma"), device, "an RDMA device name");
            if (r.Unified is { } unified)
                foreach (var (key, value) in unified)
                {
                    NoNul(Property(at, "unified"), key, "a cgroup file name");
                    NoNul(Property(Property(at, "unified"), key), value);
                }
        }

        private void NoNul(string path, string? value)
        {
            if (value is not null && value.Contains('\0'))
                Nul(path, value);
        }

        /// <summary>A member name (a map key) with a NUL: <paramref name="mapPath"/> is the map's path.</summary>
        private void NoNul(string mapPath, string key, string what)
        {
            if (key.Contains('\0'))
                Fail(mapPath, $"{what} without NUL bytes", $"expected {what} without NUL bytes, got {Quote(key)}");
        }

        private void NoNul(string listPath, List<string>? values)
        {
            if (values is null)
                return;
            for (var i = 0; i < values.Count; i++)
                if (values[i].Contains('\0'))
                    Nul(Index(listPath, i), values[i]);
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Nul(string path, string value) =>
            Expected(path, "a string without NUL bytes (a C string ends at the first)", Quote(value));

        private void AbsolutePath(string path, string value)
        {
            if (value.Length == 0 || value[0] != '/')
                Expected(path, "an absolute path", Quote(value));
        }

        private void OneOf(string path, string value, IReadOnlyList<string> allowed, string what)
        {
            if (!allowed.Contains(value, StringComparer.Ordinal))
                Expected(path, $"{what}: one of {string.Join(", ", allowed)}", Quote(value));
        }

        private void Warn(string path, string message) => options.Warn?.Invoke($"{file}: {path}: {message}");

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Missing(string path, string expected) =>
            throw new SpecValidationException(file, path, expected, $"required field is missing or empty; expected {expected}");

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Expected(string path, string expected, string got) =>
            throw new SpecValidationException(file, path, expected, $"expected {expected}, got {got}");

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Fail(string path, string expected, string detail) =>
            throw new SpecValidationException(file, path, expected, detail);

        private static string Quote(string? s) => JsonErrors.Quote(s);
    }
}
