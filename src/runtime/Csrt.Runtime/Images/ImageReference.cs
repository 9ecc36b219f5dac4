using Csrt.Runtime.Errors;

namespace Csrt.Runtime.Images;

/// <summary>Where an image comes from, in the transport names of containers/image (skopeo,
/// podman): <c>oci:DIR[:TAG]</c>, an OCI image layout directory, and <c>oci-archive:FILE[:TAG]</c>,
/// the same layout as a tar file.</summary>
public sealed record ImageReference(bool IsArchive, string Path, string? Tag)
{
    public const string LayoutTransport = "oci:";
    public const string ArchiveTransport = "oci-archive:";

    public static ImageReference Parse(string text)
    {
        bool archive;
        string rest;
        if (text.StartsWith(ArchiveTransport, StringComparison.Ordinal))
            (archive, rest) = (true, text[ArchiveTransport.Length..]);
        else if (text.StartsWith(LayoutTransport, StringComparison.Ordinal))
            (archive, rest) = (false, text[LayoutTransport.Length..]);
        else
            throw CsrtException.InvalidArgument($"--image {text}: expected oci:DIR[:TAG] or oci-archive:FILE[:TAG]");
        if (rest.Length == 0)
            throw CsrtException.InvalidArgument($"--image {text}: no path after the transport");
        // A path may itself hold a ':'; the tag is what follows the last one only when the whole
        // text is not an existing path (as containers/image splits it).
        string path = rest;
        string? tag = null;
        var colon = rest.LastIndexOf(':');
        if (colon > 0 && !File.Exists(rest) && !Directory.Exists(rest))
        {
            path = rest[..colon];
            tag = rest[(colon + 1)..];
            if (tag.Length == 0)
                throw CsrtException.InvalidArgument($"--image {text}: empty tag after ':'");
        }
        return new ImageReference(archive, System.IO.Path.GetFullPath(path), tag);
    }

    public override string ToString() => (IsArchive ? ArchiveTransport : LayoutTransport) + Path + (Tag is null ? "" : ":" + Tag);
}
