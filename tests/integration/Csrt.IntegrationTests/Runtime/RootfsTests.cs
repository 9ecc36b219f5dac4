using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>root and mounts: bind mounts and their options, propagation, tmpfs with tmpcopyup, /dev,
/// read-only root, masked and read-only paths, and image symlinks that must stay inside the rootfs.</summary>
public sealed class RootfsTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("rootfs");
    private readonly RuntimeRoot _runc = RuntimeRoot.Runc("rootfs");
    private readonly HostDirectories _hostDirs = new();

    public void Dispose()
    {
        try
        {
            _csrt.Dispose();
            _runc.Dispose();
        }
        finally
        {
            _hostDirs.Dispose();
        }
    }

    private string HostDir(string name) => _hostDirs.Create(name);

    private static void AddMount(JsonObject config, string destination, string type, string source, params string[] options)
    {
        var m = new JsonObject { ["destination"] = destination, ["type"] = type, ["source"] = source };
        if (options.Length > 0)
            m["options"] = new JsonArray(options.Select(o => (JsonNode)JsonValue.Create(o)).ToArray());
        config["mounts"]!.AsArray().Add((JsonNode)m);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The /proc/mounts line of <paramref name="mountPoint"/> in the container's output.</summary>
    private static string[] MountEntry(string procMounts, string mountPoint) =>
        Lines(procMounts).Select(l => l.Split(' ')).Last(f => f.Length > 3 && f[1] == mountPoint);

    [Fact]
    public void BindMounts_ReadOnlyRefusesWrites_ReadWriteReachesTheHost()
    {
        var ro = HostDir("bind-ro");
        var rw = HostDir("bind-rw");
        File.WriteAllText(Path.Combine(ro, "from-host"), "host data\n");
        var bundle = _csrt.Bundle(["sh", "-c", "cat /ro/from-host; touch /ro/new 2>&1; echo written > /rw/new; grep -E ' /(ro|rw) ' /proc/mounts"], c =>
        {
            AddMount(c, "/ro", "bind", ro, "rbind", "ro", "nosuid", "nodev");
            AddMount(c, "/rw", "none", rw, "bind", "rw");
        });

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.StartsWith("host data\n", result.Stdout);
        Assert.Contains("Read-only file system", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(rw, "new")));
        Assert.False(File.Exists(Path.Combine(ro, "new")));
        var roOptions = MountEntry(result.Stdout, "/ro")[3].Split(',');
        Assert.Contains("ro", roOptions);
        Assert.Contains("nosuid", roOptions);
        Assert.Contains("nodev", roOptions);
        Assert.Contains("rw", MountEntry(result.Stdout, "/rw")[3].Split(','));
    }

    [Fact]
    public void BindMount_OfAFile_AndWithASourceRelativeToTheBundle()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "cat /etc/greeting /data/inside"], c =>
        {
            AddMount(c, "/etc/greeting", "bind", "greeting.txt", "bind", "ro");
            AddMount(c, "/data", "bind", "data", "rbind");
        });
        File.WriteAllText(Path.Combine(bundle.Dir, "greeting.txt"), "hello file\n");
        Directory.CreateDirectory(Path.Combine(bundle.Dir, "data"));
        File.WriteAllText(Path.Combine(bundle.Dir, "data", "inside"), "relative dir\n");

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("hello file\nrelative dir\n", result.Stdout);
    }

    [Theory]
    [InlineData("rslave", true)]
    [InlineData("rprivate", false)]
    public void BindMountPropagation_DecidesWhetherLaterHostMountsAppearInside(string propagation, bool expectVisible)
    {
        var source = HostDir("prop");
        // A shared mount point on the host, so that propagation has something to follow.
        Commands.RunOk("mount", "--bind", source, source);
        Commands.RunOk("mount", "--make-shared", source);
        Directory.CreateDirectory(Path.Combine(source, "later"));
        var bundle = _csrt.Bundle(["sleep", "1000"], c => AddMount(c, "/shared", "bind", source, "rbind", propagation));
        _csrt.RunDetached(bundle);

        Commands.RunOk("mount", "-t", "tmpfs", "-o", "size=1m", "later", Path.Combine(source, "later"));
        File.WriteAllText(Path.Combine(source, "later", "mounted-after-start"), "x");

        var result = _csrt.Exec(bundle.Id, "sh", "-c", "ls /shared/later");
        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(expectVisible, result.Stdout.Contains("mounted-after-start", StringComparison.Ordinal));
    }

    [Fact]
    public void MountsInsideTheContainer_NeverPropagateToTheHost()
    {
        var source = HostDir("noleak");
        Commands.RunOk("mount", "--bind", source, source);
        Commands.RunOk("mount", "--make-shared", source);
        var bundle = _csrt.Bundle(["sh", "-c", "mkdir -p /shared/inner && mount -t tmpfs inner /shared/inner && echo mounted"], c =>
        {
            AddMount(c, "/shared", "bind", source, "rbind");
            c["process"]!["capabilities"]!["bounding"]!.AsArray().Add((JsonNode)"CAP_SYS_ADMIN");
            c["process"]!["capabilities"]!["effective"]!.AsArray().Add((JsonNode)"CAP_SYS_ADMIN");
            c["process"]!["capabilities"]!["permitted"]!.AsArray().Add((JsonNode)"CAP_SYS_ADMIN");
        });

        var result = _csrt.RunForeground(bundle);

        Assert.Equal("mounted\n", result.Stdout);
        Assert.Equal([source], HostState.MountsUnder(source));
    }

    [Fact]
    public void Tmpfs_WithTmpcopyup_StartsWithTheImagesFiles()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "grep -c root /etc/passwd; echo new > /etc/new-file && echo wrote; grep ' /etc ' /proc/mounts"],
            c => AddMount(c, "/etc", "tmpfs", "tmpfs", "tmpcopyup", "mode=755", "size=1m"));

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var lines = Lines(result.Stdout);
        Assert.Equal("1", lines[0]);
        Assert.Equal("wrote", lines[1]);
        Assert.Equal("tmpfs", MountEntry(result.Stdout, "/etc")[2]);
        Assert.False(File.Exists(Path.Combine(bundle.UpperDir, "etc", "new-file")), "the write went to the rootfs, not the tmpfs");
    }

    [Theory]
    [InlineData(128, true)]
    [InlineData(129, false)]
    public void Tmpfs_WithTmpcopyup_CopiesTrees128DirectoriesDeep_AndRefusesDeeperOnesNamingTheMount(int depth, bool copied)
    {
        var bundle = _csrt.Bundle(["sh", "-c", "find /deep -type d | wc -l; grep ' /deep ' /proc/mounts"],
            c => AddMount(c, "/deep", "tmpfs", "tmpfs", "tmpcopyup", "size=1m"));
        var dir = Path.Combine(bundle.RootfsDir, "deep");
        for (var i = 0; i < depth; i++)
            dir = Path.Combine(dir, "d");
        Directory.CreateDirectory(dir);

        var result = _csrt.RunForeground(bundle);

        if (copied)
        {
            Assert.True(result.Succeeded, result.ToString());
            Assert.Equal((depth + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), Lines(result.Stdout)[0]);
            Assert.Equal("tmpfs", MountEntry(result.Stdout, "/deep")[2]);
        }
        else
        {
            Assert.False(result.Succeeded, result.ToString());
            Assert.Contains("mounting tmpfs tmpfs on /deep: tmpcopyup(d): ELOOP", result.Stderr, StringComparison.Ordinal);
            Assert.Contains("more than 128 levels of directories", result.Stderr, StringComparison.Ordinal);
            _csrt.AssertNothingLeft(bundle);
        }
    }

    [Fact]
    public void Dev_HasRuncsDefaultDevicesAndSymlinks()
    {
        const string script = "cd /dev && for f in * .[a-z]*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; if [ -L \"$f\" ]; then echo \"$f -> $(readlink $f)\"; elif [ -c \"$f\" ]; then echo \"$f c $(stat -c '%t:%T %a' $f)\"; elif [ -d \"$f\" ]; then echo \"$f d\"; else echo \"$f other\"; fi; done";
        var bundle = _csrt.Bundle(["sh", "-c", script]);
        var reference = _runc.Bundle(["sh", "-c", script]);

        var ours = _csrt.RunForeground(bundle);
        var runcs = _runc.RunForeground(reference);

        Assert.True(ours.Succeeded, ours.ToString());
        Assert.True(runcs.Succeeded, runcs.ToString());
        Assert.Equal(Lines(runcs.Stdout), Lines(ours.Stdout));
        Assert.Contains("null c 1:3 666", ours.Stdout, StringComparison.Ordinal);
        Assert.Contains("ptmx -> pts/ptmx", ours.Stdout, StringComparison.Ordinal);
        Assert.Contains("fd -> /proc/self/fd", ours.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void DevPtsShmAndMqueue_AreMountedWithTheirOptions()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "cat /proc/mounts; echo x > /dev/shm/f && echo shm-writable"]);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var pts = MountEntry(result.Stdout, "/dev/pts");
        Assert.Equal("devpts", pts[2]);
        Assert.Contains("ptmxmode=666", pts[3].Split(','));
        Assert.Contains("gid=5", pts[3].Split(','));
        Assert.Equal("tmpfs", MountEntry(result.Stdout, "/dev/shm")[2]);
        Assert.Contains("noexec", MountEntry(result.Stdout, "/dev/shm")[3].Split(','));
        Assert.Equal("mqueue", MountEntry(result.Stdout, "/dev/mqueue")[2]);
        Assert.Equal("tmpfs", MountEntry(result.Stdout, "/dev")[2]);
        Assert.Contains("shm-writable", result.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RootReadonly_DecidesWhetherTheRootIsWritable(bool readonlyRoot)
    {
        var bundle = _csrt.Bundle(["sh", "-c", "touch /written 2>&1; grep ' / ' /proc/mounts"], readonlyRoot: readonlyRoot);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(readonlyRoot, result.Stdout.Contains("Read-only file system", StringComparison.Ordinal));
        Assert.Equal(readonlyRoot ? "ro" : "rw", MountEntry(result.Stdout, "/")[3].Split(',')[0]);
        Assert.Equal(!readonlyRoot, File.Exists(Path.Combine(bundle.UpperDir, "written")));
    }

    [Fact]
    public void MaskedPaths_HideFilesAndDirectories()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo \"passwd=[$(cat /etc/passwd)]\"; echo \"usr=[$(ls /usr)]\"; echo \"timer=[$(cat /proc/timer_list)]\"; ls /sys/firmware | wc -l"],
            c =>
            {
                c["linux"]!["maskedPaths"]!.AsArray().Add((JsonNode)"/etc/passwd");
                c["linux"]!["maskedPaths"]!.AsArray().Add((JsonNode)"/usr");
                c["linux"]!["maskedPaths"]!.AsArray().Add((JsonNode)"/does/not/exist");
            });

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(["passwd=[]", "usr=[]", "timer=[]", "0"], Lines(result.Stdout));
    }

    [Fact]
    public void ReadonlyPaths_RefuseWrites_OnAWritableRoot()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo 1 > /proc/sys/kernel/domainname 2>&1; touch /tmp/x 2>&1; touch /etc/x && echo etc-writable"],
            c => c["linux"]!["readonlyPaths"]!.AsArray().Add((JsonNode)"/tmp"), readonlyRoot: false);

        var result = _csrt.RunForeground(bundle);

        var lines = Lines(result.Stdout + result.Stderr);
        Assert.Equal(2, lines.Count(l => l.Contains("Read-only file system", StringComparison.Ordinal)));
        Assert.Contains("etc-writable", lines);
    }

    [Fact]
    public void ImageSymlinkToAHostDirectory_IsFollowedInsideTheRootfs_NeverOnTheHost()
    {
        var victim = HostDir("victim");
        File.WriteAllText(Path.Combine(victim, "precious"), "host\n");
        var bundle = _csrt.Bundle(["cut", "-d", " ", "-f2", "/proc/mounts"], c =>
        {
            AddMount(c, "/etc/x", "tmpfs", "tmpfs", "size=1m");
            AddMount(c, "/etc/file", "bind", "/etc/hostname", "bind", "ro");
        }, readonlyRoot: false);
        // The image replaces /etc by a symlink to the host directory.
        Directory.Delete(Path.Combine(bundle.RootfsDir, "etc"), recursive: true);
        File.CreateSymbolicLink(Path.Combine(bundle.RootfsDir, "etc"), victim);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(["precious"], Directory.GetFileSystemEntries(victim).Select(Path.GetFileName));
        Assert.Empty(HostState.MountsUnder(victim));
        // Resolved inside: <rootfs><victim>/x exists in the container's own tree.
        Assert.True(Directory.Exists(Path.Combine(bundle.UpperDir, victim.TrimStart('/'), "x")), "the mount point was not created inside the rootfs");
        Assert.Contains(victim + "/x", Lines(result.Stdout));
        _csrt.AssertNothingLeft(bundle);
    }

    [Fact]
    public void MountDestinationClimbingWithDotDot_StaysInsideTheRootfs()
    {
        var victim = HostDir("climb");
        var climb = "/mnt/../../../../../../.." + victim + "/escaped";
        var bundle = _csrt.Bundle(["sh", "-c", "grep escaped /proc/mounts | cut -d' ' -f2"], c => AddMount(c, climb, "tmpfs", "tmpfs", "size=1m"));

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(victim + "/escaped\n", result.Stdout);
        Assert.Empty(Directory.GetFileSystemEntries(victim));
        Assert.Empty(HostState.MountsUnder(victim));
    }

    [Fact]
    public void ImageSymlinkToAHostFile_AsABindMountTarget_IsCreatedInsideTheRootfs()
    {
        var victimDir = HostDir("victim-file");
        var victim = Path.Combine(victimDir, "host-file");
        File.WriteAllText(victim, "host secret\n");
        var bundle = _csrt.Bundle(["cat", "/etc/hostname"], c => AddMount(c, "/etc/hostname", "bind", "hostname.txt", "bind", "ro"), readonlyRoot: false);
        File.WriteAllText(Path.Combine(bundle.Dir, "hostname.txt"), "from bundle\n");
        File.CreateSymbolicLink(Path.Combine(bundle.RootfsDir, "etc", "hostname"), victim);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("from bundle\n", result.Stdout);
        Assert.Equal("host secret\n", File.ReadAllText(victim));
        Assert.Empty(HostState.MountsUnder(victimDir));
    }

    [Fact]
    public void NoPivot_RunsTheContainerWithItsRootfsAsRoot()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "cat /etc/passwd | head -1; ls /"]);

        var result = _csrt.RunForeground(bundle, null, "--no-pivot");

        Assert.True(result.Succeeded, result.ToString());
        Assert.StartsWith("root:x:0:0:", result.Stdout);
        Assert.DoesNotContain("work", Lines(result.Stdout));
    }
}
