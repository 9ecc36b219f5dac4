using System.Formats.Tar;
using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.IntegrationTests.Rootless;
using Xunit;

namespace Csrt.IntegrationTests.Functions;

/// <summary>`csrt fn run` by a real unprivileged user (<see cref="UnprivilegedUser"/>): the
/// ResourceList function from an OCI archive and the contract, rootless.</summary>
[Collection(RootlessCollection.Name)]
public sealed class FnRootlessTests : IDisposable
{
    private readonly UnprivilegedUser _user;
    private readonly string _dir;
    private readonly string _fnArchive;
    private readonly string _busyboxArchive;

    public FnRootlessTests(UnprivilegedUser user)
    {
        _user = user;
        _dir = Path.Combine(user.WorkDir, "fn-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_dir);
        user.Chown(_dir);
        // The user cannot be assumed to reach the build tree: its own copies of the images.
        _fnArchive = CopyForUser(Path.Combine(TestImages.Get().Dir, "fn-annotate.oci.tar"));
        _busyboxArchive = CopyForUser(TestImages.Get().BusyboxTarball);
    }

    private string CopyForUser(string file)
    {
        var copy = Path.Combine(_dir, Path.GetFileName(file));
        File.Copy(file, copy);
        _user.Chown(copy);
        return copy;
    }

    private string Cache => Path.Combine(_dir, "cache");

    private CommandResult Fn(string? stdin, params string[] args) =>
        _user.Run(_user.Csrt, new[] { "fn", "run", "--image-cache", Cache }.Concat(args), stdin: stdin);

    public void Dispose() => Commands.Run("rm", ["-rf", "--one-file-system", _dir], UnprivilegedUser.Timeout);

    [Fact]
    public void ResourceListFunction_AsAnUnprivilegedUser_AnnotatesEveryItem_AndFailsCleanlyOnMalformedInput()
    {
        var ok = Fn("kind: ResourceList\nitems:\n- kind: ConfigMap\n  metadata:\n    name: a\n", "--image", "oci-archive:" + _fnArchive);
        var bad = Fn("not a resource list\n", "--image", "oci-archive:" + _fnArchive);

        Assert.True(ok.Succeeded, ok.ToString());
        Assert.Equal("", ok.Stderr);
        Assert.Equal("kind: ResourceList\nitems:\n- kind: ConfigMap\n  metadata:\n    annotations:\n      fn.csrt.io/processed: \"true\"\n    name: a\n", ok.Stdout);
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal("", bad.Stdout);
        Assert.Contains("malformed ResourceList", bad.Stderr, StringComparison.Ordinal);
        // No function container left in the user's state root (runc's default for a rootless caller).
        Assert.DoesNotContain(Directory.Exists(_user.CsrtStateRoot) ? Directory.EnumerateFileSystemEntries(_user.CsrtStateRoot) : [],
            e => Path.GetFileName(e).StartsWith("fn-", StringComparison.Ordinal));
        // Nothing mounted is left behind (the function's mounts lived in its own mount namespace),
        // and no cgroup was made: without a delegated subtree and without limits a rootless call
        // stays in the caller's cgroup, as runc does.
        Assert.Empty(HostState.MountsUnder(_dir));
        Assert.Empty(HostState.MountsUnder(_user.RuntimeDir));
        var cgroups = Fn(null, "--image", "oci-archive:" + _busyboxArchive, "--", "cat", "/proc/self/cgroup");
        Assert.True(cgroups.Succeeded, cgroups.ToString());
        var callers = _user.Run("cat", ["/proc/self/cgroup"]);
        Assert.Equal(callers.Stdout, cgroups.Stdout);
    }

    [Fact]
    public void ARootfsTheCallerCannotRead_IsAClearErrorNamingIt_AndLeavesNothing()
    {
        var closed = Path.Combine(_dir, "closed");
        var rootfs = Path.Combine(closed, "rootfs");
        Directory.CreateDirectory(rootfs);
        // Root-owned and closed to others: the unprivileged caller cannot reach the rootfs.
        Commands.RunOk("chmod", "0700", closed);

        var result = Fn(null, "--rootfs", rootfs, "--", "true");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(rootfs, result.Stderr, StringComparison.Ordinal);
        Assert.Contains("ermission denied", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.Exists(_user.CsrtStateRoot) ? Directory.EnumerateFileSystemEntries(_user.CsrtStateRoot) : [],
            e => Path.GetFileName(e).StartsWith("fn-", StringComparison.Ordinal));
        Assert.Empty(HostState.MountsUnder(_dir));
    }

    [Fact]
    public void Rootless_TheCallerIsRootInTheUserNamespace_TheImagesRootOwnedFilesAreItsFiles_OnlyLo_ReadOnly_NoTmpdir()
    {
        var result = _user.Run(_user.Csrt,
            ["fn", "run", "--image-cache", Cache, "--image", "oci-archive:" + _busyboxArchive, "--", "sh", "-c",
                "id -u; stat -c %u /bin/busybox; head -n1 /proc/self/uid_map | tr -s ' '; ls /sys/class/net; " +
                "touch /etc/x 2>/dev/null; echo etc=$?; touch /tmp/x; echo tmp=$?; env | grep -c '^TMPDIR=' ; env | grep '^HOME='"],
            stdin: null);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Equal("0", lines[0]);
        Assert.Equal("0", lines[1]);
        Assert.Equal($" 0 {_user.Uid} 1", lines[2]);
        Assert.Equal("lo", lines[3]);
        Assert.Equal("etc=1", lines[4]);
        Assert.Equal("tmp=0", lines[5]);
        Assert.Equal("0", lines[6]);
        Assert.Equal("HOME=" + _user.Home, lines[7]);
        // The image's root-owned files belong to the user on the host.
        var busybox = Directory.GetFiles(Path.Combine(Cache, "images"), "busybox", new EnumerationOptions { RecurseSubdirectories = true, MatchType = MatchType.Simple })
            .First(p => p.EndsWith("/rootfs/bin/busybox", StringComparison.Ordinal));
        Assert.Equal(_user.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), Commands.RunOk("stat", "-c", "%u", busybox).Trim());
    }

    /// <summary>The cache entries of the layout's manifest (one per user namespace mapping), without temporary ones.</summary>
    private string[] Entries(OciLayout layout) =>
        Directory.Exists(Path.Combine(Cache, "images"))
            ? Directory.GetDirectories(Path.Combine(Cache, "images"), layout.ManifestDigest.Replace(':', '-') + "*")
            : [];

    /// <summary>A layout under the user's directory (written by root, readable by the user).</summary>
    private OciLayout Layout(string name) => new(Path.Combine(_dir, name));

    /// <summary>fn run as the user with newuidmap and newgidmap not in $PATH: only the caller's own
    /// uid and gid can be mapped (as for a user without subordinate ranges).</summary>
    private CommandResult FnOwnIdOnly(params string[] args) =>
        _user.Run("/usr/bin/env", new[] { "PATH=/usr/local/bin", _user.Csrt, "fn", "run", "--image-cache", Cache, "--env", "PATH=/bin" }.Concat(args));

    private static string Text(uint id) => id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void ImageOwnersAndSetIdBits_AreKeptInTheContainer_AndBelongToTheMappedSubordinateIdsOnTheHost()
    {
        var layout = Layout("owners").BusyboxLayer().OwnersLayer().Write(new JsonObject { ["Cmd"] = OciLayout.StatOwnersCommand() });

        var result = Fn(null, "--image", "oci:" + layout.Dir);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(OciLayout.Owners, result.Stdout.TrimEnd('\n').Split('\n'));
        // On the host: container id 0 is the caller, ids 1… are the subordinate range from its start.
        var entry = Assert.Single(Entries(layout));
        uint HostUid(uint id) => id == 0 ? _user.Uid : _user.SubUids.Start + id - 1;
        uint HostGid(uint id) => id == 0 ? _user.Gid : _user.SubGids.Start + id - 1;
        foreach (var owner in OciLayout.Owners)
        {
            var f = owner.Split(' ');
            var expected = $"{f[0]} {Text(HostUid(uint.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture)))} " +
                           $"{Text(HostGid(uint.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture)))} {f[3]}";
            Assert.Equal(expected, f[0] + " " + Commands.RunOk("stat", "-c", "%u %g %a", Path.Combine(entry, "rootfs") + f[0]).Trim());
        }
        // Files of subordinate ids are removed from a user namespace holding them (the README's command).
        var clear = _user.Run("unshare", ["--map-root-user", "--map-auto", "rm", "-rf", Cache]);
        Assert.True(clear.Succeeded, clear.ToString());
        Assert.False(Directory.Exists(Cache));
    }

    [Fact]
    public void UnpackedInTheUserNamespace_SymlinksAndDotDotInTheImage_NeverLeadWritesOutsideTheRoot()
    {
        var outside = Path.Combine(_dir, "outside");
        Directory.CreateDirectory(outside);
        _user.Chown(outside);
        var layout = Layout("hostile").BusyboxLayer()
            .Layer(w =>
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "escape") { LinkName = outside });
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "up") { LinkName = "../../../../../../.." + outside });
            })
            .Layer(w =>
            {
                OciLayout.AddFile(w, "escape/pwned", "x", uid: 1000);
                OciLayout.AddFile(w, "up/pwned2", "x");
            })
            .Write(new JsonObject { ["Cmd"] = new JsonArray("true") });
        var dotDot = Layout("dotdot").BusyboxLayer().Layer(w => OciLayout.AddFile(w, "../../escaped", "x")).Write();

        var result = Fn(null, "--image", "oci:" + layout.Dir);
        var refused = Fn(null, "--image", "oci:" + dotDot.Dir, "--", "true");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(outside));
        Assert.True(File.Exists(Path.Combine(Assert.Single(Entries(layout)), "rootfs", outside.TrimStart('/'), "pwned")));
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("\"../../escaped\" escapes the root directory", refused.Stderr, StringComparison.Ordinal);
        Assert.Empty(Entries(dotDot));
    }

    [Fact]
    public void AnEntrypointInADirectoryOnlyTheImagesUserMayEnter_RunsAsThatUser()
    {
        // /app is 0700 and belongs to uid 1000: on the host to a subordinate id the caller cannot
        // enter, in the container to the image's User.
        var layout = Layout("private-app").BusyboxLayer()
            .Layer(w =>
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "app/") { Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, Uid = 1000, Gid = 1000 });
                w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "app/sh") { LinkName = "bin/busybox" });
                OciLayout.AddFile(w, "app/secret", "for user 1000", uid: 1000, gid: 1000);
            })
            .Write(new JsonObject { ["User"] = "user", ["Entrypoint"] = new JsonArray("/app/sh", "-c", "id -u; cat /app/secret") });

        var result = Fn(null, "--image", "oci:" + layout.Dir);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("1000\nfor user 1000", result.Stdout);
    }

    [Fact]
    public void AnOwnerOutsideTheSubordinateRange_IsRefusedNamingTheFileAndTheId_AndNothingIsCached()
    {
        var beyond = _user.SubUids.Count + 10;
        var layout = Layout("beyond").BusyboxLayer()
            .Layer(w => OciLayout.AddFile(w, "far", "x", uid: (int)beyond))
            .Write(new JsonObject { ["Cmd"] = new JsonArray("true") });

        var result = Fn(null, "--image", "oci:" + layout.Dir);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"\"far\" is owned by uid {Text(beyond)}, which the user namespace", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("/etc/subuid", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(Entries(layout));
    }

    [Fact]
    public void WithOnlyTheCallersIdMapped_ForeignOwnersAreRefused_TheOtherMappingsRootfsIsNotReused_RootOwnedImagesRun()
    {
        var layout = Layout("owners-twice").BusyboxLayer().OwnersLayer().Write(new JsonObject { ["Cmd"] = new JsonArray("true") });
        var withRanges = Fn(null, "--image", "oci:" + layout.Dir);
        Assert.True(withRanges.Succeeded, withRanges.ToString());

        var rootOwnedLayout = Layout("root-owned").BusyboxLayer().Write();

        var ownIdOnly = FnOwnIdOnly("--image", "oci:" + layout.Dir);
        var rootOwned = FnOwnIdOnly("--image", "oci:" + rootOwnedLayout.Dir, "--", "/bin/sh", "-c", "cat /proc/self/uid_map; stat -c %u /bin/busybox");

        // The rootfs unpacked for the subordinate ranges holds ids this mapping lacks: not reused.
        Assert.Equal(1, ownIdOnly.ExitCode);
        Assert.Contains("\"data/user\" is owned by uid 1000, which the user namespace (uid [0:" + Text(_user.Uid) + ":1]", ownIdOnly.Stderr, StringComparison.Ordinal);
        Assert.Single(Entries(layout));
        Assert.True(rootOwned.Succeeded, rootOwned.ToString());
        Assert.Equal(["0", Text(_user.Uid), "1", "0"], rootOwned.Stdout.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
    }
}
