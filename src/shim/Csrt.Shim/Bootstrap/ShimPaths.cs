using System.Text;
using Csrt.Linux;
using Csrt.Runtime.Hashing;

namespace Csrt.Shim.Bootstrap;

/// <summary>Where a shim's socket and its containers' runtime state live.</summary>
public static class ShimPaths
{
    /// <summary>containerd's hard-coded directory for shim sockets (defaults.DefaultStateDir + "/s").</summary>
    public const string SocketDirectory = "/run/containerd/s";

    /// <summary>The annotation grouping containers into one shim (a pod).</summary>
    public const string SandboxIdAnnotation = "io.kubernetes.cri.sandbox-id";

    /// <summary>An explicit grouping annotation, like runc's io.containerd.runc.v2.group.</summary>
    public const string GroupAnnotation = "io.containerd.csrt.v2.group";

    /// <summary>unix:///run/containerd/s/&lt;sha256 of "address/namespace/group"&gt;, as the runc shim computes it.</summary>
    public static string SocketAddress(string containerdAddress, string ns, string group) =>
        SocketAddress(SocketDirectory, containerdAddress, ns, group);

    /// <summary>The same name in another directory (containerd 2.3's socket_dir).</summary>
    public static string SocketAddress(string directory, string containerdAddress, string ns, string group)
    {
        var joined = Path.Join(containerdAddress, ns, group);
        var hash = Convert.ToHexStringLower(Sha256.Hash(Encoding.UTF8.GetBytes(joined)));
        return "unix://" + directory.TrimEnd('/') + "/" + hash;
    }

    /// <summary>Whether <paramref name="address"/> is a shim socket address as <see cref="SocketAddress(string, string, string, string)"/> makes them.</summary>
    public static bool IsShimSocketAddress(string address)
    {
        if (!address.StartsWith("unix:///", StringComparison.Ordinal))
            return false;
        var name = address.AsSpan(address.LastIndexOf('/') + 1);
        return name.Length == 64 && !name.ContainsAnyExcept("0123456789abcdef");
    }

    /// <summary>The path of the shim socket an `address` file names; null when there is no such file
    /// or it names anything else (so nothing but a shim socket is ever unlinked from it).</summary>
    public static string? SocketNamedIn(string addressFile)
    {
        var address = Files.TryReadText(addressFile)?.Trim();
        return address is not null && IsShimSocketAddress(address) ? address["unix://".Length..] : null;
    }

    /// <summary>An empty directory: the bottom layer of the read-only overlay through which
    /// container inits run this binary (see ServeCommand).</summary>
    public const string EmptyDirectory = "/run/containerd/csrt/.empty";

    /// <summary>The csrt state root for one containerd namespace (like runc's /run/containerd/runc/&lt;ns&gt;).</summary>
    public static string RuntimeRoot(string ns) => "/run/containerd/csrt/" + ns;
}
