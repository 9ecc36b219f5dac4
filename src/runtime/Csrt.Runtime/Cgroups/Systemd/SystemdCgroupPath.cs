namespace Csrt.Runtime.Cgroups.Systemd;

/// <summary>
/// linux.cgroupsPath under the systemd driver, with runc's rules (libcontainer/specconv and
/// cgroups/systemd/common.go):
/// <list type="bullet">
/// <item>"slice:prefix:name" — exactly three fields; an empty slice means system.slice;</item>
/// <item>empty → system.slice, prefix "runc", name = the container id;</item>
/// <item>the unit is "prefix-name.scope" (an empty prefix gives "-name.scope", as runc names it),
/// unless name already ends in ".slice": then the container's unit is that slice;</item>
/// <item>the cgroup is the slice's expanded path ("a-b-c.slice" → /a.slice/a-b.slice/a-b-c.slice)
/// plus the unit name, under the cgroup2 mount (a slice unit: its own expanded name).</item>
/// </list>
/// Unlike runc, names systemd would refuse are refused here first, naming the field.
/// </summary>
public sealed record SystemdCgroupPath(string Slice, string Prefix, string Name)
{
    public const string DefaultSlice = "system.slice";
    public const string DefaultPrefix = "runc";

    // systemd's UNIT_NAME_MAX (including the suffix).
    private const int UnitNameMax = 255;

    /// <summary>The container's unit: "prefix-name.scope", or the slice named by <see cref="Name"/>.</summary>
    public string UnitName => IsSliceUnit ? Name : Prefix + "-" + Name + ".scope";

    /// <summary>The container's unit is a slice (name ends in ".slice"), not a scope.</summary>
    public bool IsSliceUnit => Name.EndsWith(".slice", StringComparison.Ordinal);

    /// <summary>The cgroup below the cgroup2 mount, e.g. "/system.slice/runc-abc.scope". A slice unit
    /// lives where its own name puts it (systemd derives a slice's parent from its name, whatever the
    /// slice field says).</summary>
    public string RelativePath
    {
        get
        {
            if (IsSliceUnit)
                return ExpandSlice(Name, "name");
            var slice = ExpandSlice(Slice, "slice");
            return (slice == "/" ? "" : slice) + "/" + UnitName;
        }
    }

    /// <summary>Parses <paramref name="cgroupsPath"/> (or the default for an empty one) and checks
    /// every part.</summary>
    /// <exception cref="CgroupException">Not three fields, a slice or unit name systemd refuses.</exception>
    public static SystemdCgroupPath Parse(string? cgroupsPath, string containerId)
    {
        SystemdCgroupPath p;
        if (string.IsNullOrEmpty(cgroupsPath))
        {
            p = new SystemdCgroupPath(DefaultSlice, DefaultPrefix, containerId);
        }
        else
        {
            var parts = cgroupsPath.Split(':');
            if (parts.Length != 3)
            {
                throw CgroupException.Invalid(
                    $"linux.cgroupsPath \"{cgroupsPath}\": the systemd cgroup driver expects \"slice:prefix:name\" (e.g. \"system.slice:docker:1234\"), got {parts.Length} field{(parts.Length == 1 ? "" : "s")}");
            }
            p = new SystemdCgroupPath(parts[0].Length == 0 ? DefaultSlice : parts[0], parts[1], parts[2]);
        }
        p.Validate(cgroupsPath);
        return p;
    }

    private void Validate(string? cgroupsPath)
    {
        var where = string.IsNullOrEmpty(cgroupsPath) ? "the container id" : $"linux.cgroupsPath \"{cgroupsPath}\"";
        if (Name.Length == 0)
            throw CgroupException.Invalid($"{where}: the name field is empty; expected \"slice:prefix:name\" with a name");
        ExpandSlice(Slice, where + ": slice");
        CheckUnitChars(Prefix, where + ": prefix");
        CheckUnitChars(Name, where + ": name");
        var unit = UnitName;
        if (unit.Length > UnitNameMax)
            throw CgroupException.Invalid($"{where}: the unit name \"{unit}\" is {unit.Length} characters long; systemd allows at most {UnitNameMax}");
        if (IsSliceUnit)
            ExpandSlice(unit, where + ": name");
    }

    /// <summary>runc's ExpandSlice: "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" (the
    /// root slice) → "/".</summary>
    /// <param name="what">Names the field in the error.</param>
    /// <exception cref="CgroupException">No ".slice" suffix, a '/', an empty dash-separated component
    /// ("a--b.slice", "-a.slice", "a-.slice"), or a character systemd refuses in unit names.</exception>
    public static string ExpandSlice(string slice, string what = "slice")
    {
        const string suffix = ".slice";
        if (slice.Length <= suffix.Length || !slice.EndsWith(suffix, StringComparison.Ordinal) || slice.Contains('/'))
            throw CgroupException.Invalid($"{what} \"{slice}\" is not a slice unit name: expected NAME.slice without '/', e.g. \"system.slice\" or \"kubepods-burstable.slice\"");
        CheckUnitChars(slice, what);
        if (slice.Length > UnitNameMax)
            throw CgroupException.Invalid($"{what} \"{slice}\" is {slice.Length} characters long; systemd allows at most {UnitNameMax}");
        var name = slice[..^suffix.Length];
        if (name == "-")
            return "/";
        var path = new System.Text.StringBuilder(slice.Length * 2);
        var prefix = "";
        foreach (var component in name.Split('-'))
        {
            if (component.Length == 0)
                throw CgroupException.Invalid($"{what} \"{slice}\" has an empty component between dashes; systemd refuses such slice names (\"a--b.slice\", \"-a.slice\", \"a-.slice\")");
            path.Append('/').Append(prefix).Append(component).Append(suffix);
            prefix += component + "-";
        }
        return path.ToString();
    }

    // systemd's unit_name_is_valid: ASCII letters, digits and ":-_.\" (and '@' for templates; a
    // transient unit cannot be a template instance, so it is refused here).
    private static void CheckUnitChars(string value, string what)
    {
        foreach (var ch in value)
        {
            if (ch is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or ':' or '-' or '_' or '.' or '\\')
                continue;
            throw CgroupException.Invalid($"{what} \"{value}\" contains '{(ch < ' ' ? $"\\x{(int)ch:x2}" : ch.ToString())}': systemd unit names allow only ASCII letters, digits and \":-_.\\\"");
        }
    }

    /// <summary>The unit name of a container's cgroup directory (its last path element), as saved in
    /// the state: "/sys/fs/cgroup/system.slice/runc-x.scope" → "runc-x.scope".</summary>
    public static string UnitOfDirectory(string directory)
    {
        var trimmed = directory.TrimEnd('/');
        var name = trimmed[(trimmed.LastIndexOf('/') + 1)..];
        if (!name.EndsWith(".scope", StringComparison.Ordinal) && !name.EndsWith(".slice", StringComparison.Ordinal))
            throw CgroupException.Invalid($"{directory} is not the cgroup of a systemd scope or slice (its name does not end in .scope or .slice)");
        return name;
    }
}
