using Csrt.Linux;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Security;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Processes;

/// <summary>How the container's cgroups appear inside it (for "cgroup" mounts).</summary>
public sealed record CgroupMountLayout(bool Unified, IReadOnlyList<CgroupMountSource> Sources, string? UnifiedHostPath);

/// <summary>Compiles a validated config.json into the <see cref="InitPlan"/> the init executes.</summary>
public static class InitPlanBuilder
{
    /// <summary>The devices every container gets unless the spec lists them itself (runc's defaults).</summary>
    public static IReadOnlyList<DeviceNode> DefaultDevices { get; } = new[]
    {
        new DeviceNode { Path = "/dev/null", Type = 'c', Major = 1, Minor = 3, FileMode = FileModes.AllReadWrite },
        new DeviceNode { Path = "/dev/zero", Type = 'c', Major = 1, Minor = 5, FileMode = FileModes.AllReadWrite },
        new DeviceNode { Path = "/dev/full", Type = 'c', Major = 1, Minor = 7, FileMode = FileModes.AllReadWrite },
        new DeviceNode { Path = "/dev/random", Type = 'c', Major = 1, Minor = 8, FileMode = FileModes.AllReadWrite },
        new DeviceNode { Path = "/dev/urandom", Type = 'c', Major = 1, Minor = 9, FileMode = FileModes.AllReadWrite },
        new DeviceNode { Path = "/dev/tty", Type = 'c', Major = 5, Minor = 0, FileMode = FileModes.AllReadWrite },
    };

    public sealed class Options
    {
        public required string ContainerId { get; init; }
        public required string Bundle { get; init; }
        public bool NoPivot { get; init; }
        public bool NoNewKeyring { get; init; }
        public int PreserveFds { get; init; }
        public CgroupMountLayout? CgroupLayout { get; init; }

        /// <summary>linux.seccomp already compiled (a caller that caches the program); null: compile it here.</summary>
        public CompiledSeccomp? Seccomp { get; init; }
    }

    public static InitPlan Build(RuntimeSpec spec, NamespacePlan namespaces, Options o)
    {
        var root = spec.Root ?? throw new SpecValidationException("config.json", "$.root", "an object with \"path\"", "root is missing");
        var rootfs = Path.IsPathRooted(root.Path) ? root.Path : Path.Combine(o.Bundle, root.Path);
        rootfs = Path.GetFullPath(rootfs);
        if (!Files.IsDirectory(rootfs))
            throw new SpecValidationException("config.json", "$.root.path", "an existing directory", $"root filesystem {rootfs} does not exist or is not a directory");
        var linux = spec.Linux ?? new LinuxConfig();
        var plan = new InitPlan
        {
            ContainerId = o.ContainerId,
            Bundle = o.Bundle,
            Rootfs = rootfs,
            RootfsReadonly = root.Readonly,
            RootPropagation = (ulong)MountOptions.RootPropagation(linux.RootfsPropagation),
            // As crun: the spec's propagation is given to the container's "/" once it is the root
            // too (the bind of the rootfs under a private parent starts out private). Left alone
            // when unset, so the default rslave does not undo the propagation of the spec's mounts.
            NewRootPropagation = string.IsNullOrEmpty(linux.RootfsPropagation) ? 0 : (ulong)MountOptions.RootPropagation(linux.RootfsPropagation),
            NoPivot = o.NoPivot,
            NoNewKeyring = o.NoNewKeyring,
            OwnMountNamespace = (namespaces.All & CloneFlags.CLONE_NEWNS) != 0,
            InUserNamespace = (namespaces.All & CloneFlags.CLONE_NEWUSER) != 0 || !NamespaceSetup.Rootless.InInitialUserNamespace,
            NewCgroupNamespace = namespaces.NewCgroupNamespace,
            NewNetworkNamespace = (namespaces.Created & CloneFlags.CLONE_NEWNET) != 0,
            Hostname = spec.Hostname,
            Domainname = spec.Domainname,
            Sysctl = linux.Sysctl,
            MaskedPaths = linux.MaskedPaths ?? new List<string>(),
            ReadonlyPaths = linux.ReadonlyPaths ?? new List<string>(),
            PreserveFds = o.PreserveFds,
        };
        if (plan.OwnMountNamespace)
        {
            var mountinfo = MountinfoSeenByInit(namespaces);
            if (mountinfo == "/proc/self/mountinfo")
                plan.RootfsParentMount = ParentMountOf(rootfs, SelfMountinfo.Read().Span);
            else
            {
                using var fd = Files.Open(mountinfo, OpenFlags.O_RDONLY);
                plan.RootfsParentMount = ParentMountOf(rootfs, Files.ReadToEnd(fd));
            }
        }
        for (var i = 0; i < (spec.Mounts?.Count ?? 0); i++)
            plan.Mounts.Add(BuildMount(spec.Mounts![i], $"$.mounts[{i}]", o, namespaces));
        plan.SetupDev = !plan.Mounts.Any(m => m.Destination == "/dev" && m.Kind == MountKinds.Bind);
        var listed = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < (linux.Devices?.Count ?? 0); i++)
        {
            var d = linux.Devices![i];
            listed.Add(d.Path);
            plan.Devices.Add(new DeviceNode
            {
                Path = d.Path,
                Type = d.Type.Length == 1 ? (d.Type[0] == 'u' ? 'c' : d.Type[0]) : throw new SpecValidationException("config.json", $"$.linux.devices[{i}].type", "c, b, u or p", $"expected c, b, u or p, got \"{d.Type}\""),
                Major = d.Major ?? 0,
                Minor = d.Minor ?? 0,
                FileMode = d.FileMode ?? FileModes.AllReadWrite,
                Uid = d.Uid ?? 0,
                Gid = d.Gid ?? 0,
            });
        }
        if (plan.SetupDev)
            plan.Devices.InsertRange(0, DefaultDevices.Where(d => !listed.Contains(d.Path)));

        var process = spec.Process ?? throw new SpecValidationException("config.json", "$.process", "a process object", "process is missing (required to create a container)");
        plan.Process = BuildProcess(process, linux, o.Seccomp);
        for (var i = 0; i < (process.Rlimits?.Count ?? 0); i++)
        {
            var r = process.Rlimits![i];
            var resource = KnownRlimits.GetResource(r.Type, "config.json", $"$.process.rlimits[{i}].type");
            plan.Rlimits.Add(new RlimitStep { Resource = resource, Name = r.Type, Soft = r.Soft, Hard = r.Hard });
        }
        plan.OomScoreAdj = process.OomScoreAdj;
        plan.CreateContainerHooks = Hooks(spec.Hooks?.CreateContainer);
        plan.StartContainerHooks = Hooks(spec.Hooks?.StartContainer);
        return plan;
    }

    /// <summary>Where the mounts the init starts with are listed: a new mount namespace is a copy of
    /// ours; one joined as /proc/&lt;pid&gt;/ns/mnt is that process's. Another joined path (a bind
    /// mount of the namespace) has no mountinfo to read from outside: ours is the best guess.</summary>
    internal static string MountinfoSeenByInit(NamespacePlan namespaces)
    {
        foreach (var (type, path) in namespaces.Joins)
        {
            if (type != CloneFlags.CLONE_NEWNS || !path.StartsWith("/proc/", StringComparison.Ordinal) || !path.EndsWith("/ns/mnt", StringComparison.Ordinal))
                continue;
            var pid = path["/proc/".Length..^"/ns/mnt".Length];
            if (pid.Length > 0 && pid.All(char.IsAsciiDigit))
                return "/proc/" + pid + "/mountinfo";
        }
        return "/proc/self/mountinfo";
    }

    /// <summary>The mount point that contains <paramref name="rootfs"/>: the longest mount point of
    /// <paramref name="mountinfo"/> (a /proc/&lt;pid&gt;/mountinfo text) that prefixes it; null when none does.</summary>
    /// <remarks>Over the bytes, field by field, without a string per line or field: the table has
    /// a line per mount of the node, containers' included.</remarks>
    public static string? ParentMountOf(string rootfs, ReadOnlySpan<byte> mountinfo)
    {
        var path = System.Text.Encoding.UTF8.GetBytes(rootfs);
        string? escapedBest = null;
        var bestLength = -1;
        ReadOnlySpan<byte> best = default;
        while (!mountinfo.IsEmpty)
        {
            var nl = mountinfo.IndexOf((byte)'\n');
            var line = nl < 0 ? mountinfo : mountinfo[..nl];
            mountinfo = nl < 0 ? default : mountinfo[(nl + 1)..];
            // Field 5 (index 4) is the mount point.
            var field = line;
            for (var i = 0; i < 4 && !field.IsEmpty; i++)
            {
                var sp = field.IndexOf((byte)' ');
                field = sp < 0 ? default : field[(sp + 1)..];
            }
            var end = field.IndexOf((byte)' ');
            if (field.IsEmpty || end < 0)
                continue;
            var mp = field[..end];
            string? unescaped = null;
            if (mp.Contains((byte)'\\'))
            {
                unescaped = Mounts.UnescapeOctal(System.Text.Encoding.UTF8.GetString(mp));
                mp = System.Text.Encoding.UTF8.GetBytes(unescaped);
            }
            var isPrefix = mp.SequenceEqual("/"u8)
                || (path.AsSpan().StartsWith(mp) && (path.Length == mp.Length || path[mp.Length] == (byte)'/'));
            if (isPrefix && mp.Length > bestLength)
            {
                bestLength = mp.Length;
                best = unescaped is null ? mp : default;
                escapedBest = unescaped;
            }
        }
        return bestLength < 0 ? null : escapedBest ?? System.Text.Encoding.UTF8.GetString(best);
    }

    public static List<HookStep> Hooks(List<Hook>? hooks) =>
        (hooks ?? new List<Hook>()).Select(h => new HookStep
        {
            Path = h.Path,
            Args = h.Args ?? new List<string> { h.Path },
            Env = h.Env ?? new List<string>(),
            TimeoutSeconds = h.Timeout,
        }).ToList();

    /// <summary>The user process part, also used for exec.</summary>
    public static ProcessPlan BuildProcess(Process process, LinuxConfig? linux, CompiledSeccomp? seccomp = null)
    {
        if (process.Args is not { Count: > 0 })
            throw new SpecValidationException("config.json", "$.process.args", "a non-empty array", "process.args is empty: nothing to run");
        var caps = CapabilityMasks.From(process.Capabilities);
        seccomp ??= linux?.Seccomp is null ? null : SeccompProfileCompiler.Compile(linux.Seccomp);
        return new ProcessPlan
        {
            Args = process.Args,
            Env = process.Env ?? new List<string>(),
            Cwd = string.IsNullOrEmpty(process.Cwd) ? "/" : process.Cwd,
            Uid = process.User.Uid,
            Gid = process.User.Gid,
            AdditionalGids = process.User.AdditionalGids ?? new List<uint>(),
            Umask = process.User.Umask is { } u ? (int)u : null,
            // No capabilities in the spec means none at all (runc drops every set), never "keep ours".
            SetCapabilities = true,
            CapBounding = caps.Bounding,
            CapEffective = caps.Effective,
            CapPermitted = caps.Permitted,
            CapInheritable = caps.Inheritable,
            CapAmbient = caps.Ambient,
            NoNewPrivileges = process.NoNewPrivileges,
            Seccomp = seccomp?.Program,
            SeccompFlags = seccomp?.Flags ?? 0,
            Personality = linux?.Personality is { } p ? PersonalityValue(p) : null,
            Terminal = process.Terminal,
            ConsoleHeight = (ushort)(process.ConsoleSize?.Height ?? 0),
            ConsoleWidth = (ushort)(process.ConsoleSize?.Width ?? 0),
        };
    }

    private static int PersonalityValue(LinuxPersonality p)
    {
        if (p.Flags is { Count: > 0 })
            throw new SpecValidationException("config.json", "$.linux.personality.flags", "no flags", "personality flags are not supported");
        return p.Domain switch
        {
            "LINUX" => 0,
            "LINUX32" => 8,
            _ => throw new SpecValidationException("config.json", "$.linux.personality.domain", "LINUX or LINUX32", $"expected LINUX or LINUX32, got \"{p.Domain}\""),
        };
    }

    private static MountStep BuildMount(Spec.Mount m, string path, Options o, NamespacePlan namespaces)
    {
        CheckOptions(m, path);
        var parsed = MountOptions.Parse(m.Options);
        // Validated here; the runtime makes the mount before the init runs (IdMapRequests).
        IdMappedMounts.RequestOf(m, path, parsed, m.Source is null ? null : BindSource(m.Source, o.Bundle), namespaces);
        var destination = m.Destination.StartsWith('/') ? m.Destination : "/" + m.Destination;
        var step = new MountStep
        {
            Source = m.Source,
            Destination = destination,
            Type = m.Type,
            Flags = (ulong)parsed.Flags,
            ClearedFlags = (ulong)parsed.ClearedFlags,
            Propagation = parsed.Propagation.Select(f => (ulong)f).ToList(),
            SetAttributes = (ulong)parsed.SetAttributes,
            ClearAttributes = (ulong)parsed.ClearAttributes,
            Data = parsed.Data,
            CopyUp = parsed.CopyUp,
        };
        if (m.Type == "bind" || parsed.IsBind)
        {
            step.Kind = MountKinds.Bind;
            step.Flags |= (ulong)MountFlags.MS_BIND;
            if (m.Source is null)
                throw new SpecValidationException("config.json", path + ".source", "a source path", "a bind mount needs a source");
            step.Source = BindSource(m.Source, o.Bundle);
        }
        else if (m.Type == "cgroup" || m.Type == "cgroup2")
        {
            var layout = o.CgroupLayout ?? throw new SpecValidationException("config.json", path, "no cgroup mount", "this host has no cgroup hierarchy to mount");
            step.Kind = layout.Unified ? MountKinds.CgroupV2 : MountKinds.CgroupV1;
            step.CgroupSources = layout.Sources.ToList();
            step.Source = layout.UnifiedHostPath;
        }
        if (step.CopyUp && m.Type != "tmpfs")
            throw new SpecValidationException("config.json", path + ".options", "tmpcopyup only on tmpfs", $"tmpcopyup is only valid for tmpfs mounts, not {m.Type}");
        return step;
    }

    /// <summary>A bind mount's source on the host: relative sources are relative to the bundle.</summary>
    private static string BindSource(string source, string bundle) =>
        Path.IsPathRooted(source) ? source : Path.GetFullPath(Path.Combine(bundle, source));

    /// <summary>
    /// The id-mapped mounts of a spec (by their index in <see cref="InitPlan.Mounts"/>), for the
    /// runtime to make before the init runs; <see cref="Build"/> has validated them.
    /// </summary>
    public static List<(int Step, IdMapRequest Request)> IdMapRequests(RuntimeSpec spec, NamespacePlan namespaces, string bundle)
    {
        var result = new List<(int, IdMapRequest)>();
        for (var i = 0; i < (spec.Mounts?.Count ?? 0); i++)
        {
            var m = spec.Mounts![i];
            var request = IdMappedMounts.RequestOf(m, $"$.mounts[{i}]", MountOptions.Parse(m.Options),
                m.Source is null ? null : BindSource(m.Source, bundle), namespaces);
            if (request is not null)
                result.Add((i, request));
        }
        return result;
    }

    /// <summary>Options csrt must not treat as filesystem data: a recursive read-only mount that
    /// receives or sends mount events: a mount propagated into it later would not be read-only, so
    /// it must be private, as containerd's CRI requires.</summary>
    private static void CheckOptions(Spec.Mount m, string path)
    {
        var options = m.Options;
        if (options is null)
            return;
        var rro = options.Contains("rro");
        for (var i = 0; i < options.Count; i++)
        {
            var at = $"{path}.options[{i}]";
            if (rro && MountOptions.IsSharedOrSlave(options[i]))
                throw new SpecValidationException("config.json", at, "private propagation with rro",
                    $"a recursive read-only mount (\"rro\") must be private, got \"{options[i]}\": mounts propagated into it would be writable");
        }
    }
}
