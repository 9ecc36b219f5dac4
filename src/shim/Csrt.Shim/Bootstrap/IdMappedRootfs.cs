using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Spec;

namespace Csrt.Shim.Bootstrap;

/// <summary>
/// The rootfs options <c>uidmap=</c>/<c>gidmap=</c> that containerd 2.x's overlay snapshotter
/// adds for user-namespaced pods ("containerID:hostID:size[,…]"). They are not kernel options:
/// as containerd's own mount code does, a user namespace is made with the mappings and the
/// layers are id-mapped with it (each overlay lowerdir, or a bind's source), so files of the
/// image's root appear owned by the pod's root.
/// </summary>
public sealed class IdMappedRootfs : IDisposable
{
    private readonly FileDescriptor _userNamespace;
    private readonly List<string> _lowerMounts = new();
    private string? _lowerDirectory;

    private IdMappedRootfs(FileDescriptor userNamespace) => _userNamespace = userNamespace;

    /// <summary>
    /// Takes uidmap=/gidmap= out of <paramref name="options"/>; null when there are none. With
    /// them, a user namespace with those mappings (killed with its helper; the fd keeps it).
    /// </summary>
    public static IdMappedRootfs? Take(List<string> options, string what, Csrt.Runtime.Processes.IExitMonitor exits)
    {
        string? uidmap = null, gidmap = null;
        for (var i = options.Count - 1; i >= 0; i--)
        {
            if (options[i].StartsWith("uidmap=", StringComparison.Ordinal))
                uidmap = options[i]["uidmap=".Length..];
            else if (options[i].StartsWith("gidmap=", StringComparison.Ordinal))
                gidmap = options[i]["gidmap=".Length..];
            else
                continue;
            options.RemoveAt(i);
        }
        if (uidmap is null && gidmap is null)
            return null;
        if (uidmap is null || gidmap is null)
            throw CsrtException.InvalidArgument($"{what}: uidmap= and gidmap= come together (containerd id-maps a rootfs only with both)");
        var uids = UserNamespaces.ParseMappingText(uidmap, what + " uidmap=");
        var gids = UserNamespaces.ParseMappingText(gidmap, what + " gidmap=");
        return new IdMappedRootfs(UserNamespaces.Create(uids, gids, exits, what));
    }

    /// <summary>Where the id-mapped layers of one overlay are attached until it is mounted: short
    /// paths, as the lowerdir= option of many layers must fit the kernel's one-page limit.</summary>
    public const string ScratchPrefix = "/run/csrt-idmap-";

    /// <summary>Replaces the overlay's lowerdir= option by id-mapped copies of each layer, attached
    /// under a scratch directory until the overlay is mounted (it keeps its own references).</summary>
    public void MapLowerDirectories(List<string> options, string what)
    {
        var index = options.FindIndex(o => o.StartsWith("lowerdir=", StringComparison.Ordinal));
        if (index < 0)
            throw CsrtException.InvalidArgument($"{what}: uidmap=/gidmap= on an overlay need its lowerdir= option");
        var scratch = ScratchPrefix + Random.Shared.NextInt64().ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
        Files.MakeDirectories(scratch, FileModes.UserAll);
        _lowerDirectory = scratch;
        var mapped = new List<string>();
        var layers = options[index]["lowerdir=".Length..].Split(':');
        for (var i = 0; i < layers.Length; i++)
        {
            var dir = Path.Combine(scratch, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Files.MakeDirectories(dir, FileModes.UserAll);
            _lowerMounts.Add(dir);
            Attach(layers[i], dir, recursive: false, what);
            mapped.Add(dir);
        }
        options[index] = "lowerdir=" + string.Join(':', mapped);
    }

    /// <summary>An id-mapped copy of <paramref name="source"/> attached on <paramref name="target"/>.</summary>
    public void Attach(string source, string target, bool recursive, string what)
    {
        try
        {
            using var clone = Mounts.CloneTree(source, recursive);
            Mounts.SetIdMapping(clone, _userNamespace, recursive, source);
            Mounts.MoveMount(clone, target);
        }
        catch (SyscallException e)
        {
            throw CsrtException.Failed($"{what}: id-mapping {source}: {e.Message}", e);
        }
    }

    /// <summary>Detaches the temporary layer mounts and removes their directories.</summary>
    public void Dispose()
    {
        _userNamespace.Dispose();
        // Never a recursive delete: a layer still attached would lose its files.
        foreach (var dir in _lowerMounts)
        {
            Mounts.TryUnmount(dir, UnmountFlags.MNT_DETACH);
            Directory.Delete(dir);
        }
        _lowerMounts.Clear();
        if (_lowerDirectory is not null)
            Directory.Delete(_lowerDirectory);
    }
}
