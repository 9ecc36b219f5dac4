using System.Runtime.InteropServices;
using Csrt.Linux;
using Csrt.Runtime.Errors;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Rootfs;
using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Images;

/// <summary>An image ready to run: its unpacked rootfs in the cache and its run config.</summary>
public sealed record PreparedImage(string ManifestDigest, string Rootfs, OciRunConfig Config);

/// <summary>
/// Unpacked images, content-addressed by manifest digest: <c>&lt;root&gt;/images/&lt;alg&gt;-&lt;hex&gt;/</c>
/// holds <c>rootfs/</c> and the image's <c>config.json</c>. An image is unpacked into a
/// temporary directory next to it and renamed into place, under an flock per digest, so a
/// directory by that name is always complete and concurrent runs of one image unpack it once.
/// A rootless caller's images are unpacked in a user namespace with the container's mappings
/// (<see cref="NamespacedUnpack"/>), so their files belong to the mapped host ids; the entry's
/// name then carries the mappings too, since a rootfs owned for one mapping is wrong for another.
/// </summary>
public sealed class ImageCache
{
    private const string LinuxOs = "linux";
    private readonly string _images;
    private readonly UserNamespaceIds? _userNamespace;
    private readonly IExitMonitor _exits;
    private readonly string _suffix;

    private ImageCache(string root, UserNamespaceIds? userNamespace, IExitMonitor exits)
    {
        Root = root;
        _images = Path.Combine(root, "images");
        _userNamespace = userNamespace;
        _exits = exits;
        _suffix = userNamespace is null ? "" : "-userns-" + userNamespace.Key;
    }

    /// <summary>The cache as root uses it (owners as the image has them).</summary>
    public static ImageCache ForRoot(string? root) => new(root ?? DefaultRoot, null, DirectExitMonitor.Instance);

    /// <summary>The cache of a rootless caller whose containers run with these mappings: images
    /// are unpacked in a user namespace that has them, and kept apart per mapping.</summary>
    public static ImageCache ForRootless(string? root, List<LinuxIdMapping> uids, List<LinuxIdMapping> gids, IExitMonitor? exits = null) =>
        new(root ?? DefaultRoot, new UserNamespaceIds(uids, gids), exits ?? DirectExitMonitor.Instance);

    public string Root { get; }

    /// <summary>/var/cache/csrt for root; $XDG_CACHE_HOME/csrt (~/.cache/csrt) for anyone else.</summary>
    public static string DefaultRoot
    {
        get
        {
            if (ProcessControl.GetEffectiveUid() == 0)
                return "/var/cache/csrt";
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (!string.IsNullOrEmpty(xdg))
                return Path.Combine(xdg, "csrt");
            var home = Environment.GetEnvironmentVariable("HOME");
            if (string.IsNullOrEmpty(home))
                throw CsrtException.InvalidArgument("neither $XDG_CACHE_HOME nor $HOME is set: give the image cache with --image-cache");
            return Path.Combine(home, ".cache", "csrt");
        }
    }

    /// <summary>Resolves the reference to a manifest and returns the image unpacked, unpacking it
    /// first when the cache has no copy.</summary>
    public PreparedImage Prepare(ImageReference reference)
    {
        using var source = ImageSource.Open(reference);
        var manifestDescriptor = SelectManifest(source, reference);
        var digest = Digest.Parse(manifestDescriptor.Digest, $"{reference}: manifest");
        var final = Path.Combine(_images, digest.Algorithm + "-" + digest.Hex + _suffix);
        if (TryLoad(final, digest) is { } cached)
            return cached;

        Files.MakeDirectories(_images, FileModes.UserAll);
        using var lockFd = Files.Open(final + ".lock", OpenFlags.O_RDWR | OpenFlags.O_CREAT, FileModes.UserReadWrite);
        Files.Lock(lockFd, Files.LockKind.Exclusive, path: final + ".lock");
        // Another run may have unpacked it while we waited.
        if (TryLoad(final, digest) is { } raced)
            return raced;
        var tmp = final + ".tmp";
        var job = new UnpackJob(reference, manifestDescriptor, tmp);
        if (_userNamespace is { } userns)
            NamespacedUnpack.Run(job, userns, _exits);
        else
            UnpackInto(job, IdMap.Identity, source);
        Files.Rename(tmp, final);
        return TryLoad(final, digest) ?? throw CsrtException.Failed($"{final}: unpacked, but its config.json is missing");
    }

    /// <summary>Unpacks the job's image into its temporary directory (removing one a killed unpack
    /// left), and removes that directory again when the unpack fails.</summary>
    internal static void UnpackInto(UnpackJob job, IdMap ids, ImageSource? openSource = null)
    {
        RemoveIfPresent(job.Directory);
        try
        {
            Files.MakeDirectory(job.Directory, FileModes.UserAll);
            using var opened = openSource is null ? ImageSource.Open(job.Reference) : null;
            Unpack(opened ?? openSource!, job.Manifest, job.Reference, job.Directory, ids);
        }
        catch
        {
            try
            {
                RemoveIfPresent(job.Directory);
            }
            catch (SyscallException)
            {
                // Left for the next unpack of this digest, which removes it first.
            }
            throw;
        }
    }

    private static PreparedImage? TryLoad(string final, Digest digest)
    {
        var configPath = Path.Combine(final, "config.json");
        using var fd = Files.TryOpen(configPath, OpenFlags.O_RDONLY);
        if (fd is null)
            return null;
        var config = ImageJson.Parse(Files.ReadToEnd(fd), ImageJsonContext.Default.OciImageConfig, configPath);
        return new PreparedImage(digest.ToString(), Path.Combine(final, "rootfs"), config.Config ?? new OciRunConfig());
    }

    private static void RemoveIfPresent(string path)
    {
        if (!Files.Exists(path))
            return;
        using var parent = Files.Open(Path.GetDirectoryName(path)!, OpenFlags.O_RDONLY | OpenFlags.O_DIRECTORY);
        LayerUnpacker.RemoveTree(parent, Path.GetFileName(path));
    }

    /// <summary>The manifest the reference names: by tag (the layout's
    /// org.opencontainers.image.ref.name, or containerd's full image name), or the only one.
    /// An index inside the index is followed to this machine's platform.</summary>
    internal static OciDescriptor SelectManifest(ImageSource source, ImageReference reference)
    {
        var index = ImageJson.Parse(source.ReadIndex(), ImageJsonContext.Default.OciIndex, $"{reference}: index.json");
        List<OciDescriptor> matches;
        if (reference.Tag is { } tag)
        {
            matches = index.Manifests.Where(m => TagsOf(m).Contains(tag)).ToList();
            if (matches.Count == 0)
                throw CsrtException.NotFound($"{reference}: no image tagged \"{tag}\" in the layout (tags: {TagList(index)})");
        }
        else
        {
            matches = index.Manifests;
            if (matches.Count == 0)
                throw CsrtException.NotFound($"{reference}: the layout's index.json lists no image");
            if (matches.Count > 1)
                throw CsrtException.InvalidArgument($"{reference}: the layout holds {matches.Count} images; name one with :TAG (tags: {TagList(index)})");
        }
        var chosen = matches[0];
        for (var depth = 0; MediaTypes.IsIndex(chosen.MediaType); depth++)
        {
            if (depth > 4)
                throw CsrtException.InvalidArgument($"{reference}: image indexes nested too deep");
            var nested = ImageJson.Parse(source.ReadDocument(chosen, "image index"), ImageJsonContext.Default.OciIndex, $"{reference}: index {chosen.Digest}");
            var arch = PlatformArchitecture;
            chosen = nested.Manifests.FirstOrDefault(m => m.Platform is { } p && p.Os == LinuxOs && p.Architecture == arch)
                ?? throw CsrtException.NotFound($"{reference}: index {chosen.Digest} has no image for {LinuxOs}/{arch}");
        }
        if (!MediaTypes.IsManifest(chosen.MediaType))
            throw CsrtException.Unsupported($"{reference}: manifest {chosen.Digest}: media type \"{chosen.MediaType}\" is not supported (expected {MediaTypes.OciManifest})");
        return chosen;
    }

    private static IEnumerable<string> TagsOf(OciDescriptor d)
    {
        if (d.Annotations is null)
            yield break;
        if (d.Annotations.TryGetValue("org.opencontainers.image.ref.name", out var refName))
            yield return refName;
        if (d.Annotations.TryGetValue("io.containerd.image.name", out var full))
        {
            yield return full;
            var colon = full.LastIndexOf(':');
            if (colon > full.LastIndexOf('/'))
                yield return full[(colon + 1)..];
        }
    }

    private static string TagList(OciIndex index)
    {
        var tags = index.Manifests.SelectMany(TagsOf).Distinct().ToList();
        return tags.Count == 0 ? "none" : string.Join(", ", tags);
    }

    private static string PlatformArchitecture => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        Architecture.Arm => "arm",
        Architecture.X86 => "386",
        Architecture.S390x => "s390x",
        Architecture.Ppc64le => "ppc64le",
        Architecture.RiscV64 => "riscv64",
        var other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>Manifest, config and layers into <paramref name="dir"/>: every blob verified, every
    /// layer's media type checked before the first is unpacked.</summary>
    private static OciImageConfig Unpack(ImageSource source, OciDescriptor manifestDescriptor, ImageReference reference, string dir, IdMap ids)
    {
        var manifestBytes = source.ReadDocument(manifestDescriptor, "manifest");
        var manifest = ImageJson.Parse(manifestBytes, ImageJsonContext.Default.OciManifest, $"{reference}: manifest {manifestDescriptor.Digest}");
        if (manifest.Config.MediaType is not (MediaTypes.OciConfig or MediaTypes.DockerConfig))
            throw CsrtException.Unsupported($"{reference}: config {manifest.Config.Digest}: media type \"{manifest.Config.MediaType}\" is not supported (expected {MediaTypes.OciConfig})");
        var configBytes = source.ReadDocument(manifest.Config, "config");
        var config = ImageJson.Parse(configBytes, ImageJsonContext.Default.OciImageConfig, $"{reference}: config {manifest.Config.Digest}");
        if (config.Os is { Length: > 0 } os && os != LinuxOs)
            throw CsrtException.Unsupported($"{reference}: the image is for os \"{os}\", not {LinuxOs}");
        var gzip = manifest.Layers.Select(l => MediaTypes.LayerIsGzip(l.MediaType, l.Digest)).ToList();

        var rootfs = Path.Combine(dir, "rootfs");
        Files.MakeDirectory(rootfs, FileModes.UserAllOthersReadExecute);
        using (var root = new RootDirectory(rootfs))
        {
            var unpacker = new LayerUnpacker(root, ids);
            for (var i = 0; i < manifest.Layers.Count; i++)
                unpacker.Apply(source.OpenBlob(manifest.Layers[i], "layer"), gzip[i], manifest.Layers[i].Digest);
            // The mount points of a function's container, made now: the rootfs is shared by
            // concurrent runs and mounted read-only, so nothing should need creating in it later.
            foreach (var mountPoint in new[] { "proc", "dev", "sys", "tmp" })
            {
                using (root.MakeDirectories(mountPoint))
                {
                }
            }
        }
        Files.WriteAtomic(Path.Combine(dir, "config.json"), configBytes, FileModes.UserReadWrite);
        return config;
    }
}

/// <summary>One image to unpack: the manifest the reference resolved to, into a temporary directory.</summary>
internal sealed record UnpackJob(ImageReference Reference, OciDescriptor Manifest, string Directory);
