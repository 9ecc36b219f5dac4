using System.Formats.Tar;
using System.IO.Compression;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Images;

/// <summary>
/// Applies layers to a root directory (image-spec layer.md). Every parent directory is resolved
/// inside the root with openat2(RESOLVE_IN_ROOT) (<see cref="RootDirectory"/>), and the last
/// component is made with the *at calls and O_NOFOLLOW, so neither a symlink of the image nor a
/// ".." leads a write outside the root; an entry whose own name climbs above the root is refused.
/// Whiteouts (".wh.NAME") remove NAME, an opaque whiteout (".wh..wh..opq") empties its directory
/// of what the lower layers put there; hard links stay hard links.
/// </summary>
internal sealed class LayerUnpacker
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueWhiteout = ".wh..wh..opq";

    private readonly RootDirectory _root;
    private readonly IdMap _ids;
    private readonly bool _canMakeDevices;
    private string _layer = "";

    public LayerUnpacker(RootDirectory root, IdMap ids)
    {
        _root = root;
        _ids = ids;
        _canMakeDevices = !NamespaceSetup.Rootless.IsRootless && ids.IsIdentity;
    }

    /// <summary>Unpacks one layer blob, then checks its digest; a failure names the layer.</summary>
    public void Apply(VerifyingStream blob, bool gzip, string digest)
    {
        using var _ = blob;
        _layer = digest;
        try
        {
            using var decompressed = gzip ? new GZipStream(blob, CompressionMode.Decompress, leaveOpen: true) : null;
            using var reader = new TarReader(decompressed ?? (Stream)blob, leaveOpen: true);
            var added = new HashSet<string>(StringComparer.Ordinal);
            while (reader.GetNextEntry() is { } entry)
                ApplyEntry(entry, added);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
        {
            // A digest mismatch is the better diagnosis of a damaged blob: check it first.
            blob.Verify();
            throw CsrtException.Failed($"layer {digest}: corrupt or truncated: {e.Message}", e);
        }
        blob.Verify();
    }

    /// <summary>The entry's path relative to the root ("a/b"), "" for the root itself; ".." that
    /// would climb above the root is refused.</summary>
    internal static string CleanPath(string name, string layer)
    {
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part is "" or ".")
                continue;
            if (part == "..")
            {
                if (parts.Count == 0)
                    throw CsrtException.InvalidArgument($"layer {layer}: entry \"{name}\" escapes the root directory");
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    private void ApplyEntry(TarEntry entry, HashSet<string> added)
    {
        if (entry.EntryType is TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes)
            return;
        var path = CleanPath(entry.Name, _layer);
        if (path.Length == 0)
        {
            if (entry.EntryType == TarEntryType.Directory)
            {
                using var rootFd = _root.Open("/", OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
                SetOwnerAndMode(rootFd, entry);
            }
            return;
        }
        var slash = path.LastIndexOf('/');
        var parentPath = slash < 0 ? "" : path[..slash];
        var name = path[(slash + 1)..];
        using var parent = OpenDirectory(parentPath);

        if (name == OpaqueWhiteout)
        {
            foreach (var child in Files.ListDirectory(parent))
            {
                if (!added.Contains(Join(parentPath, child)))
                    RemoveTree(parent, child);
            }
            return;
        }
        if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            var hidden = name[WhiteoutPrefix.Length..];
            if (hidden is "" or "." or "..")
                throw CsrtException.InvalidArgument($"layer {_layer}: whiteout \"{entry.Name}\" names no file");
            RemoveTree(parent, hidden);
            return;
        }

        added.Add(path);
        var existing = TryLstat(parent, name);
        if (entry.EntryType == TarEntryType.Directory)
        {
            if (existing is { IsDirectory: true })
            {
                using var dir = Files.OpenAt(parent, name, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_NOFOLLOW);
                SetOwnerAndMode(dir, entry);
                return;
            }
            if (existing is not null)
                RemoveTree(parent, name);
            Files.MakeDirectoryAt(parent, name, FileModes.UserAllOthersReadExecute);
            using var made = Files.OpenAt(parent, name, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_NOFOLLOW);
            SetOwnerAndMode(made, entry);
            return;
        }
        if (existing is not null)
            RemoveTree(parent, name);
        switch (entry.EntryType)
        {
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                using (var file = Files.OpenAt(parent, name, OpenFlags.O_WRONLY | OpenFlags.O_CREAT | OpenFlags.O_EXCL | OpenFlags.O_NOFOLLOW, FileModes.UserReadWrite))
                {
                    if (entry.DataStream is { } data)
                        Copy(data, file);
                    SetOwnerAndMode(file, entry);
                }
                break;
            case TarEntryType.SymbolicLink:
                Files.CreateSymlinkAt(entry.LinkName, parent, name);
                ChownAt(parent, name, entry);
                break;
            case TarEntryType.HardLink:
            {
                var target = CleanPath(entry.LinkName, _layer);
                using var targetFd = _root.TryOpen(target, OpenFlags.O_PATH | OpenFlags.O_NOFOLLOW)
                    ?? throw CsrtException.InvalidArgument($"layer {_layer}: hard link \"{entry.Name}\": its target \"{entry.LinkName}\" is not in the image");
                Files.LinkAt(targetFd, parent, name);
                break;
            }
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
            {
                var type = entry.EntryType switch
                {
                    TarEntryType.CharacterDevice => StatInfo.S_IFCHR,
                    TarEntryType.BlockDevice => StatInfo.S_IFBLK,
                    _ => StatInfo.S_IFIFO,
                };
                // Without CAP_MKNOD over the host a device node cannot be made; the container's
                // /dev is built by the runtime anyway, so the node is left out.
                if (type != StatInfo.S_IFIFO && !_canMakeDevices)
                    break;
                var posix = entry as PosixTarEntry;
                uint major = (uint)(posix?.DeviceMajor ?? 0), minor = (uint)(posix?.DeviceMinor ?? 0);
                var dev = ((ulong)(major & 0xfff) << 8) | ((ulong)(major & ~0xfffu) << 32)
                          | (minor & 0xff) | ((ulong)(minor & ~0xffu) << 12);
                Files.MakeNodeAt(parent, name, type | ((uint)entry.Mode & 0xfff), type == StatInfo.S_IFIFO ? 0 : dev);
                ChownAt(parent, name, entry);
                break;
            }
            default:
                throw CsrtException.Unsupported($"layer {_layer}: entry \"{entry.Name}\": tar entry type {entry.EntryType} is not supported");
        }
    }

    private static string Join(string parent, string name) => parent.Length == 0 ? name : parent + "/" + name;

    private FileDescriptor OpenDirectory(string path)
    {
        using var pathFd = _root.MakeDirectories(path.Length == 0 ? "/" : path);
        return Files.OpenAt(pathFd, ".", OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
    }

    private static StatInfo? TryLstat(FileDescriptor dir, string name)
    {
        try
        {
            return Files.LstatAt(dir, name);
        }
        catch (SyscallException e) when (e.Errno is Errno.ENOENT)
        {
            return null;
        }
    }

    /// <summary>Removes a file or a whole tree below a directory fd, never following a symlink.</summary>
    internal static void RemoveTree(FileDescriptor dir, string name)
    {
        var info = TryLstat(dir, name);
        if (info is null)
            return;
        if (info.Value.IsDirectory)
        {
            using (var sub = Files.OpenAt(dir, name, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY | OpenFlags.O_NOFOLLOW))
            {
                foreach (var child in Files.ListDirectory(sub))
                    RemoveTree(sub, child);
            }
            Files.UnlinkAt(dir, name, directory: true);
        }
        else
        {
            Files.UnlinkAt(dir, name);
        }
    }

    private static void Copy(Stream data, FileDescriptor file)
    {
        var buffer = new byte[1 << 16];
        int n;
        while ((n = data.Read(buffer)) > 0)
            Files.WriteAll(file, buffer.AsSpan(0, n));
    }

    private void SetOwnerAndMode(FileDescriptor fd, TarEntry entry)
    {
        var (uid, gid) = _ids.Owner(entry, _layer);
        Files.Chown(fd, uid, gid);
        // After chown, which clears the set-id bits.
        Files.Chmod(fd, (uint)entry.Mode & 0xfff);
    }

    private void ChownAt(FileDescriptor dir, string name, TarEntry entry)
    {
        var (uid, gid) = _ids.Owner(entry, _layer);
        Files.ChownAt(dir, name, uid, gid);
    }
}

/// <summary>Which owners the unpack may give files: any, as host root; in the user namespace
/// a rootless unpack runs in (<see cref="NamespacedUnpack"/>), only ids its maps hold, so an id the
/// caller's subordinate ranges cannot express is refused by name (podman's default; it does not
/// ignore chown errors) instead of failing as chown's EINVAL.</summary>
internal sealed class IdMap
{
    public static readonly IdMap Identity = new(null, null, "");

    private readonly List<LinuxIdMapping>? _uids;
    private readonly List<LinuxIdMapping>? _gids;
    private readonly string _mappings;

    private IdMap(List<LinuxIdMapping>? uids, List<LinuxIdMapping>? gids, string mappings)
    {
        _uids = uids;
        _gids = gids;
        _mappings = mappings;
    }

    /// <summary>The ids of the user namespace this process is in (its /proc/self/uid_map and gid_map).</summary>
    public static IdMap OfThisUserNamespace() =>
        Of(UserNamespaces.ParseMap(Files.ReadText("/proc/self/uid_map")), UserNamespaces.ParseMap(Files.ReadText("/proc/self/gid_map")));

    internal static IdMap Of(List<LinuxIdMapping> uids, List<LinuxIdMapping> gids) =>
        new(uids, gids, $"uid [{UserNamespaces.MappingText(uids)}] gid [{UserNamespaces.MappingText(gids)}]");

    public bool IsIdentity => _uids is null;

    /// <summary>The entry's owner, checked: chown in this namespace takes the image's ids as they are.</summary>
    public (uint Uid, uint Gid) Owner(TarEntry entry, string layer)
    {
        uint uid = (uint)entry.Uid, gid = (uint)entry.Gid;
        if (_uids is null)
            return (uid, gid);
        if (!Holds(_uids, uid))
            throw Unmapped(entry, layer, "uid", uid);
        if (!Holds(_gids!, gid))
            throw Unmapped(entry, layer, "gid", gid);
        return (uid, gid);
    }

    private static bool Holds(List<LinuxIdMapping> ranges, uint id) =>
        ranges.Any(r => id >= r.ContainerId && id - r.ContainerId < r.Size);

    private CsrtException Unmapped(TarEntry entry, string layer, string what, uint id) => CsrtException.Unsupported(
        $"layer {layer}: \"{entry.Name}\" is owned by {what} {id}, which the user namespace ({_mappings}, container:host:size) does not map: " +
        $"give the caller a larger range in /etc/sub{what} (and newuidmap/newgidmap, Debian package uidmap)");
}
