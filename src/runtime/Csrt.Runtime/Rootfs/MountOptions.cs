using Csrt.Linux;

namespace Csrt.Runtime.Rootfs;

/// <summary>Recursive mount attributes (mount_setattr(2) MOUNT_ATTR_*), from the "r…" options.</summary>
[Flags]
public enum RecursiveAttributes : ulong
{
    None = 0,
    MOUNT_ATTR_RDONLY = 0x1,
    MOUNT_ATTR_NOSUID = 0x2,
    MOUNT_ATTR_NODEV = 0x4,
    MOUNT_ATTR_NOEXEC = 0x8,
    MOUNT_ATTR_NOATIME = 0x10,
    MOUNT_ATTR_STRICTATIME = 0x20,
    /// <summary>The access-time mode field (relatime is 0 in it): a mode is set by clearing the
    /// whole field and setting the mode, or the kernel refuses with EINVAL.</summary>
    MOUNT_ATTR__ATIME = 0x70,
    MOUNT_ATTR_NODIRATIME = 0x80,
    MOUNT_ATTR_NOSYMFOLLOW = 0x200000,
}

/// <summary>
/// A mount's options split the way the kernel takes them (runc's parseMountOptions): flags for
/// mount(2), propagation changes (each its own mount call), recursive attributes (mount_setattr),
/// and the rest joined as the filesystem data string.
/// </summary>
public sealed record ParsedMountOptions(
    MountFlags Flags,
    MountFlags ClearedFlags,
    IReadOnlyList<MountFlags> Propagation,
    RecursiveAttributes SetAttributes,
    RecursiveAttributes ClearAttributes,
    string Data,
    bool CopyUp,
    IdMapOption IdMap = IdMapOption.None)
{
    public bool IsBind => (Flags & MountFlags.MS_BIND) != 0;

    public bool IsRecursiveBind => IsBind && (Flags & MountFlags.MS_REC) != 0;
}

/// <summary>The runtime-spec's id-mapping options of a bind mount.</summary>
public enum IdMapOption
{
    None,
    /// <summary>"idmap": the top mount only.</summary>
    Top,
    /// <summary>"ridmap": the mount and every mount below it.</summary>
    Recursive,
}

public static class MountOptions
{
    private static readonly Dictionary<string, (bool Clear, MountFlags Flag)> FlagOptions = new(StringComparer.Ordinal)
    {
        ["acl"] = (false, MountFlags.MS_POSIXACL),
        ["async"] = (true, MountFlags.MS_SYNCHRONOUS),
        ["atime"] = (true, MountFlags.MS_NOATIME),
        ["bind"] = (false, MountFlags.MS_BIND),
        ["defaults"] = (false, MountFlags.None),
        ["dev"] = (true, MountFlags.MS_NODEV),
        ["diratime"] = (true, MountFlags.MS_NODIRATIME),
        ["dirsync"] = (false, MountFlags.MS_DIRSYNC),
        ["exec"] = (true, MountFlags.MS_NOEXEC),
        ["iversion"] = (false, MountFlags.MS_I_VERSION),
        ["lazytime"] = (false, MountFlags.MS_LAZYTIME),
        ["loud"] = (true, MountFlags.MS_SILENT),
        ["mand"] = (false, MountFlags.MS_MANDLOCK),
        ["noacl"] = (true, MountFlags.MS_POSIXACL),
        ["noatime"] = (false, MountFlags.MS_NOATIME),
        ["nodev"] = (false, MountFlags.MS_NODEV),
        ["nodiratime"] = (false, MountFlags.MS_NODIRATIME),
        ["noexec"] = (false, MountFlags.MS_NOEXEC),
        ["noiversion"] = (true, MountFlags.MS_I_VERSION),
        ["nolazytime"] = (true, MountFlags.MS_LAZYTIME),
        ["nomand"] = (true, MountFlags.MS_MANDLOCK),
        ["norelatime"] = (true, MountFlags.MS_RELATIME),
        ["nostrictatime"] = (true, MountFlags.MS_STRICTATIME),
        ["nosuid"] = (false, MountFlags.MS_NOSUID),
        ["nosymfollow"] = (false, MountFlags.MS_NOSYMFOLLOW),
        ["rbind"] = (false, MountFlags.MS_BIND | MountFlags.MS_REC),
        ["relatime"] = (false, MountFlags.MS_RELATIME),
        ["remount"] = (false, MountFlags.MS_REMOUNT),
        ["ro"] = (false, MountFlags.MS_RDONLY),
        ["rw"] = (true, MountFlags.MS_RDONLY),
        ["silent"] = (false, MountFlags.MS_SILENT),
        ["strictatime"] = (false, MountFlags.MS_STRICTATIME),
        ["suid"] = (true, MountFlags.MS_NOSUID),
        ["symfollow"] = (true, MountFlags.MS_NOSYMFOLLOW),
        ["sync"] = (false, MountFlags.MS_SYNCHRONOUS),
    };

    private static readonly Dictionary<string, MountFlags> PropagationOptions = new(StringComparer.Ordinal)
    {
        ["private"] = MountFlags.MS_PRIVATE,
        ["rprivate"] = MountFlags.MS_PRIVATE | MountFlags.MS_REC,
        ["shared"] = MountFlags.MS_SHARED,
        ["rshared"] = MountFlags.MS_SHARED | MountFlags.MS_REC,
        ["slave"] = MountFlags.MS_SLAVE,
        ["rslave"] = MountFlags.MS_SLAVE | MountFlags.MS_REC,
        ["unbindable"] = MountFlags.MS_UNBINDABLE,
        ["runbindable"] = MountFlags.MS_UNBINDABLE | MountFlags.MS_REC,
    };

    private static readonly Dictionary<string, (bool Clear, RecursiveAttributes Attr)> RecursiveOptions = new(StringComparer.Ordinal)
    {
        ["rro"] = (false, RecursiveAttributes.MOUNT_ATTR_RDONLY),
        ["rrw"] = (true, RecursiveAttributes.MOUNT_ATTR_RDONLY),
        ["rnosuid"] = (false, RecursiveAttributes.MOUNT_ATTR_NOSUID),
        ["rsuid"] = (true, RecursiveAttributes.MOUNT_ATTR_NOSUID),
        ["rnodev"] = (false, RecursiveAttributes.MOUNT_ATTR_NODEV),
        ["rdev"] = (true, RecursiveAttributes.MOUNT_ATTR_NODEV),
        ["rnoexec"] = (false, RecursiveAttributes.MOUNT_ATTR_NOEXEC),
        ["rexec"] = (true, RecursiveAttributes.MOUNT_ATTR_NOEXEC),
        ["rnodiratime"] = (false, RecursiveAttributes.MOUNT_ATTR_NODIRATIME),
        ["rdiratime"] = (true, RecursiveAttributes.MOUNT_ATTR_NODIRATIME),
        ["rnosymfollow"] = (false, RecursiveAttributes.MOUNT_ATTR_NOSYMFOLLOW),
        ["rsymfollow"] = (true, RecursiveAttributes.MOUNT_ATTR_NOSYMFOLLOW),
    };

    /// <summary>
    /// The recursive access-time options, each the mode it gives the whole tree (one mode at a
    /// time; the last option wins). The "no"/"a" forms cannot just clear a bit as the flag options
    /// do, so they pick a mode: ratime and rnostrictatime the kernel's default (relatime),
    /// rnorelatime an update on every access (strictatime).
    /// </summary>
    private static readonly Dictionary<string, RecursiveAttributes> RecursiveAtimeOptions = new(StringComparer.Ordinal)
    {
        ["rnoatime"] = RecursiveAttributes.MOUNT_ATTR_NOATIME,
        ["rstrictatime"] = RecursiveAttributes.MOUNT_ATTR_STRICTATIME,
        ["rrelatime"] = RecursiveAttributes.None,
        ["ratime"] = RecursiveAttributes.None,
        ["rnostrictatime"] = RecursiveAttributes.None,
        ["rnorelatime"] = RecursiveAttributes.MOUNT_ATTR_STRICTATIME,
    };

    private const string CopyUpOption = "tmpcopyup";

    private static readonly Dictionary<string, IdMapOption> IdMapOptions = new(StringComparer.Ordinal)
    {
        ["idmap"] = IdMapOption.Top,
        ["ridmap"] = IdMapOption.Recursive,
    };

    /// <summary>Every option word this runtime acts on, sorted: the source of the features
    /// document's mountOptions. Anything else is filesystem data (mode=, size=, …).</summary>
    public static IEnumerable<string> Known =>
        FlagOptions.Keys.Concat(PropagationOptions.Keys).Concat(RecursiveOptions.Keys).Concat(RecursiveAtimeOptions.Keys)
            .Concat(IdMapOptions.Keys).Append(CopyUpOption).Order(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="option"/> is one of <see cref="Known"/>.</summary>
    public static bool IsKnown(string option) =>
        FlagOptions.ContainsKey(option) || PropagationOptions.ContainsKey(option) || RecursiveOptions.ContainsKey(option) ||
        RecursiveAtimeOptions.ContainsKey(option) || IdMapOptions.ContainsKey(option) || option == CopyUpOption;

    /// <summary>Whether a propagation option makes the mount receive or send mount events.
    /// A recursive read-only mount refuses those (see InitPlanBuilder).</summary>
    public static bool IsSharedOrSlave(string option) =>
        PropagationOptions.TryGetValue(option, out var p) && (p & (MountFlags.MS_SHARED | MountFlags.MS_SLAVE)) != 0;

    public static ParsedMountOptions Parse(IEnumerable<string>? options)
    {
        var flags = MountFlags.None;
        var cleared = MountFlags.None;
        var propagation = new List<MountFlags>();
        var setAttr = RecursiveAttributes.None;
        var clearAttr = RecursiveAttributes.None;
        var data = new List<string>();
        var copyUp = false;
        var idMap = IdMapOption.None;
        foreach (var option in options ?? Array.Empty<string>())
        {
            if (FlagOptions.TryGetValue(option, out var f))
            {
                if (f.Clear)
                {
                    flags &= ~f.Flag;
                    cleared |= f.Flag;
                }
                else
                {
                    flags |= f.Flag;
                    cleared &= ~f.Flag;
                }
            }
            else if (PropagationOptions.TryGetValue(option, out var p))
            {
                propagation.Add(p);
            }
            else if (RecursiveOptions.TryGetValue(option, out var r))
            {
                if (r.Clear)
                {
                    clearAttr |= r.Attr;
                    setAttr &= ~r.Attr;
                }
                else
                {
                    setAttr |= r.Attr;
                    clearAttr &= ~r.Attr;
                }
            }
            else if (RecursiveAtimeOptions.TryGetValue(option, out var mode))
            {
                setAttr = (setAttr & ~RecursiveAttributes.MOUNT_ATTR__ATIME) | mode;
                clearAttr |= RecursiveAttributes.MOUNT_ATTR__ATIME;
            }
            else if (option == CopyUpOption)
            {
                copyUp = true;
            }
            else if (IdMapOptions.TryGetValue(option, out var i))
            {
                idMap = i > idMap ? i : idMap;
            }
            else if (option.Length > 0)
            {
                data.Add(option);
            }
        }
        return new ParsedMountOptions(flags, cleared, propagation, setAttr, clearAttr, string.Join(',', data), copyUp, idMap);
    }

    /// <summary>The propagation flag of linux.rootfsPropagation (default: rslave, as runc does).</summary>
    public static MountFlags RootPropagation(string? value) => value switch
    {
        null or "" => MountFlags.MS_SLAVE | MountFlags.MS_REC,
        _ when PropagationOptions.TryGetValue(value, out var p) => p,
        _ => throw new ArgumentException($"linux.rootfsPropagation: unknown value \"{value}\"; expected one of {string.Join(", ", PropagationOptions.Keys)}"),
    };
}
