using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>
/// Id-mapped bind mounts (a mount's uidMappings/gidMappings, options idmap/ridmap) and a user
/// namespace joined by path with its mappings in the spec, as containerd 2.x writes the
/// containers of a user-namespaced pod (hostUsers: false): ids read back from the kernel on both
/// sides of the mount, and the refusals of what cannot be made, which leave nothing behind.
/// </summary>
public sealed class IdMappedMountTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("idmap");
    private readonly HostDirectories _hostDirs = new();

    public void Dispose()
    {
        try
        {
            _csrt.Dispose();
        }
        finally
        {
            _hostDirs.Dispose();
        }
    }

    private static readonly string[] UserNamespaced = ["pid", "network", "ipc", "uts", "mount", "user"];

    private static JsonArray Range(uint container, uint host, uint size) =>
        new(new JsonObject { ["containerID"] = container, ["hostID"] = host, ["size"] = size });

    private static void MapContainer(JsonObject c, uint host)
    {
        c["linux"]!["uidMappings"] = Range(0, host, 65536);
        c["linux"]!["gidMappings"] = Range(0, host, 65536);
    }

    private static JsonObject AddMount(JsonObject c, string destination, string source, string[] options, JsonArray? uids = null, JsonArray? gids = null)
    {
        var mount = new JsonObject
        {
            ["destination"] = destination, ["type"] = "bind", ["source"] = source,
            ["options"] = new JsonArray(options.Select(o => (JsonNode)JsonValue.Create(o)).ToArray()),
        };
        if (uids is not null)
            mount["uidMappings"] = uids;
        if (gids is not null)
            mount["gidMappings"] = gids;
        c["mounts"]!.AsArray().Add((JsonNode)mount);
        return mount;
    }

    /// <summary>A host directory (mode 0777, so any container user may write) holding "byroot"
    /// (uid 0, gid 0) and "by3" (uid 3, gid 4).</summary>
    private string Volume()
    {
        var dir = _hostDirs.Create("vol");
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ff);
        File.WriteAllText(Path.Combine(dir, "byroot"), "r\n");
        File.WriteAllText(Path.Combine(dir, "by3"), "3\n");
        Commands.RunOk("chown", "3:4", Path.Combine(dir, "by3"));
        return dir;
    }

    private static (uint Uid, uint Gid) Owner(string path)
    {
        var st = Csrt.Linux.Files.Stat(path);
        return (st.Uid, st.Gid);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData(false)] // the mount's own uidMappings/gidMappings, as containerd's CRI writes them
    [InlineData(true)] // "idmap" without mappings: the container's user namespace
    public void AVolumeIdMappedWithTheContainersMappings_ShowsHostIdsAsThemselves_AndWritesTheContainersIdsToDisk(bool optionOnly)
    {
        var vol = Volume();
        // Existing directories: the container's root cannot make one in the image (host root's).
        var bundle = _csrt.Bundle(["sh", "-c", "stat -c '%n %u %g' /tmp/byroot /tmp/by3 /home/byroot; touch /tmp/made"], c =>
        {
            MapContainer(c, 410000);
            if (optionOnly)
                AddMount(c, "/tmp", vol, ["rbind", "rw", "idmap"]);
            else
                AddMount(c, "/tmp", vol, ["rbind", "rw"], Range(0, 410000, 65536), Range(0, 410000, 65536));
            // The same directory without id-mapping: host root is unmapped in the container.
            AddMount(c, "/home", vol, ["rbind", "ro"]);
        }, namespaces: UserNamespaced);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(["/tmp/byroot 0 0", "/tmp/by3 3 4", "/home/byroot 65534 65534"], Lines(result.Stdout));
        Assert.Equal((0u, 0u), Owner(Path.Combine(vol, "made")));
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void MountMappingsOnAContainerWithoutAUserNamespace_ShowDiskIdsAsTheHostIdsOfTheMapping()
    {
        var vol = Volume();
        var bundle = _csrt.Bundle(["sh", "-c", "stat -c '%n %u %g' /mnt/byroot /mnt/by3; touch /mnt/byroot-new 2>&1; echo root-create=$?"], c =>
            AddMount(c, "/mnt", vol, ["bind"], Range(0, 1000, 10), Range(0, 2000, 10)));
        var asUser = _csrt.Bundle(["touch", "/mnt/by1005"], c =>
        {
            AddMount(c, "/mnt", vol, ["bind"], Range(0, 1000, 10), Range(0, 2000, 10));
            c["process"]!["user"] = new JsonObject { ["uid"] = 1005, ["gid"] = 2006 };
        });

        var result = _csrt.RunForeground(bundle);
        var userResult = _csrt.RunForeground(asUser);

        Assert.True(result.Succeeded, result.ToString());
        var lines = Lines(result.Stdout);
        Assert.Equal(["/mnt/byroot 1000 2000", "/mnt/by3 1003 2004"], lines[..2]);
        // Host uid 0 has no id on this mount: the kernel refuses to create a file it cannot store.
        Assert.Contains("Value too large", lines[2], StringComparison.Ordinal);
        Assert.Equal("root-create=1", lines[3]);
        Assert.True(userResult.Succeeded, userResult.ToString());
        Assert.Equal((5u, 6u), Owner(Path.Combine(vol, "by1005")));
        _csrt.AssertNothingLeft(bundle);
        _csrt.AssertNothingLeft(asUser);
    }

    [Theory]
    [InlineData("idmap", "1000 0")]
    [InlineData("ridmap", "1000 1000")]
    public void Ridmap_MapsTheSubmountsOfARecursiveBindToo_IdmapOnlyTheTop(string option, string expected)
    {
        var vol = Volume();
        Directory.CreateDirectory(Path.Combine(vol, "sub"));
        Commands.RunOk("mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "idmap-sub", Path.Combine(vol, "sub"));
        var bundle = _csrt.Bundle(["sh", "-c", "echo $(stat -c %u /mnt/byroot /mnt/sub)"], c =>
            AddMount(c, "/mnt", vol, ["rbind", option], Range(0, 1000, 10), Range(0, 2000, 10)));

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(expected, result.Stdout.Trim());
        _csrt.AssertNothingLeft(bundle);
    }

    /// <summary>A pod's sandbox: a container in a new user namespace, running.</summary>
    private (TestBundle Bundle, int Pid) Sandbox(uint host)
    {
        var sandbox = _csrt.Bundle(["sleep", "1000"], c => MapContainer(c, host), namespaces: UserNamespaced);
        _csrt.RunDetached(sandbox);
        return (sandbox, _csrt.Pid(sandbox.Id));
    }

    /// <summary>An app container of the pod as containerd 2.x writes it: the sandbox's user, network,
    /// ipc and uts namespaces by path, the pod's mappings repeated, and an id-mapped volume.</summary>
    private TestBundle AppContainer(int sandboxPid, uint specHost, string vol, string[] args)
    {
        return _csrt.Bundle(args, c =>
        {
            MapContainer(c, specHost);
            AddMount(c, "/tmp", vol, ["rbind", "rprivate", "rw"], Range(0, specHost, 65536), Range(0, specHost, 65536));
            var namespaces = c["linux"]!["namespaces"]!.AsArray();
            foreach (var ns in namespaces)
            {
                var type = (string)ns!["type"]!;
                if (type is "user" or "network" or "ipc" or "uts")
                    ns["path"] = $"/proc/{sandboxPid}/ns/{(type == "network" ? "net" : type)}";
            }
        }, namespaces: UserNamespaced);
    }

    [Fact]
    public void AnAppContainerJoiningThePodsUserNamespaceByPath_WithItsMappings_RunsInItWithAnIdMappedVolume()
    {
        var vol = Volume();
        var (sandbox, pid) = Sandbox(420000);
        var app = AppContainer(pid, 420000, vol, ["sh", "-c", "cat /proc/self/uid_map; readlink /proc/self/ns/user; stat -c '%u %g' /tmp/byroot; touch /tmp/by-app"]);

        var result = _csrt.RunForeground(app);

        Assert.True(result.Succeeded, result.ToString());
        var lines = Lines(result.Stdout);
        Assert.Equal("0 420000 65536", string.Join(' ', lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal(new FileInfo($"/proc/{pid}/ns/user").LinkTarget, lines[1]);
        Assert.Equal("0 0", lines[2]);
        Assert.Equal((0u, 0u), Owner(Path.Combine(vol, "by-app")));
        _csrt.AssertNothingLeft(app);
        Assert.Equal("running", _csrt.Status(sandbox.Id));
    }

    [Fact]
    public void AContainerJoiningAPinnedUserNamespaceThatDeniesSetgroups_RunsAndExecsWithAdditionalGids()
    {
        var pinned = PinnedUserNamespace.Create(Path.Combine(_hostDirs.Create("pinned"), "user"), 425000, denySetgroups: true);
        var bundle = _csrt.Bundle(["sleep", "1000"], c =>
        {
            MapContainer(c, 425000);
            foreach (var ns in c["linux"]!["namespaces"]!.AsArray())
            {
                if ((string?)ns!["type"] == "user")
                    ns["path"] = pinned;
            }
            c["process"]!["user"] = new JsonObject { ["uid"] = 0, ["gid"] = 0, ["additionalGids"] = new JsonArray(5) };
        }, namespaces: UserNamespaced);

        _csrt.RunDetached(bundle);
        var exec = _csrt.Run("exec", "--additional-gids", "6", bundle.Id, "sh", "-c", "readlink /proc/self/ns/user; cat /proc/self/setgroups");

        Assert.True(exec.Succeeded, exec.ToString());
        Assert.Equal([$"user:[{Csrt.Linux.Files.Stat(pinned).Inode}]", "deny"], Lines(exec.Stdout));
    }

    [Fact]
    public void MappingsThatAreNotThoseOfTheJoinedUserNamespace_AreRefusedNamingBoth_AndLeaveNothing()
    {
        var vol = Volume();
        var (_, pid) = Sandbox(430000);
        var app = AppContainer(pid, 440000, vol, ["true"]);

        var result = _csrt.Run("run", "--bundle", app.Dir, app.Id);

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("$.linux.uidMappings", result.Stderr, StringComparison.Ordinal);
        Assert.Contains($"/proc/{pid}/ns/user", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("0:430000:65536", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("0:440000:65536", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(app);
    }

    [Fact]
    public void MountMappingsTheKernelRefusesForAUserNamespace_AreRefusedNamingTheMount_AndLeaveNothing()
    {
        var vol = Volume();
        // Two container ranges that overlap: no uid_map can hold them.
        var uids = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 1000, ["size"] = 10 },
            new JsonObject { ["containerID"] = 5, ["hostID"] = 5000, ["size"] = 10 });
        var bundle = _csrt.Bundle(["true"], c => AddMount(c, "/mnt", vol, ["rbind"], uids, Range(0, 1000, 10)));

        var result = _csrt.Run("run", "--bundle", bundle.Dir, bundle.Id);

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains("config.json $.mounts[", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("].uidMappings", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("uid_map", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void AnIdMappedMountOfAFilesystemThatCannotBeIdMapped_IsRefusedWithTheKernelsErrorAndThePath_AndLeavesNothing()
    {
        var dir = _hostDirs.Create("ramfs");
        Commands.RunOk("mount", "-t", "ramfs", "idmap-ramfs", dir);
        var bundle = _csrt.Bundle(["true"], c => AddMount(c, "/mnt", dir, ["rbind"], Range(0, 1000, 10), Range(0, 1000, 10)));

        var result = _csrt.Run("run", "--bundle", bundle.Dir, bundle.Id);

        Assert.False(result.Succeeded, result.ToString());
        Assert.Contains($"mount_setattr({dir})", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("EINVAL", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("cannot be id-mapped", result.Stderr, StringComparison.Ordinal);
        _csrt.AssertNothingLeft(bundle);
        Assert.Equal([dir], HostState.MountsUnder(dir));
    }
}
