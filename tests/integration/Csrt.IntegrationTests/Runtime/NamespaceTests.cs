using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Xunit;

namespace Csrt.IntegrationTests.Runtime;

/// <summary>linux.namespaces: created, joined by path, user namespaces with id mappings, time and cgroup namespaces.</summary>
public sealed class NamespaceTests : IDisposable
{
    private readonly RuntimeRoot _csrt = RuntimeRoot.Csrt("ns");

    public void Dispose() => _csrt.Dispose();

    private static void AddNamespace(JsonObject config, string type, string? path = null)
    {
        var ns = new JsonObject { ["type"] = type };
        if (path is not null)
            ns["path"] = path;
        config["linux"]!["namespaces"]!.AsArray().Add((JsonNode)ns);
    }

    [Fact]
    public void PidNamespace_MakesTheProcessPid1_AndHidesTheHostsProcesses()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "echo $$; ls /proc | grep -c '^[0-9]'"]);

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var lines = result.Stdout.Split('\n');
        Assert.Equal("1", lines[0]);
        Assert.True(int.Parse(lines[1]) <= 3, $"the container sees {lines[1]} processes; expected only its own");
    }

    [Fact]
    public void UtsNamespace_SetsHostnameAndDomainname()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"], c => c["domainname"] = "example.test", hostname: "box-1");

        var result = _csrt.RunForeground(bundle);

        Assert.Equal("box-1\nexample.test\n", result.Stdout);
        Assert.NotEqual("box-1", Environment.MachineName);
    }

    [Fact]
    public void NetworkNamespace_GivenByPath_IsJoined()
    {
        var netns = TestBundle.NewId("netns");
        Commands.RunOk("ip", "netns", "add", netns);
        try
        {
            var path = $"/var/run/netns/{netns}";
            var bundle = _csrt.Bundle(["readlink", "/proc/self/ns/net"], c =>
            {
                var namespaces = c["linux"]!["namespaces"]!.AsArray();
                foreach (var ns in namespaces)
                {
                    if (ns!["type"]!.GetValue<string>() == "network")
                        ns["path"] = path;
                }
            });

            var result = _csrt.RunForeground(bundle);

            Assert.True(result.Succeeded, result.ToString());
            Assert.Equal($"net:[{Inode(path)}]\n", result.Stdout);
        }
        finally
        {
            Commands.Run("ip", "netns", "delete", netns);
        }
    }

    [Fact]
    public void EveryNamespaceType_IsCreatedNew_AndJoinedByAnotherContainerThroughItsPath()
    {
        var types = new[] { ("pid", "pid"), ("ipc", "ipc"), ("uts", "uts"), ("network", "net"), ("mount", "mnt"), ("cgroup", "cgroup") };
        var first = _csrt.Bundle(["sleep", "1000"], c => AddNamespace(c, "cgroup"));
        _csrt.RunDetached(first);
        var pid = _csrt.Pid(first.Id);
        string Link(int p, string name) => new FileInfo($"/proc/{p}/ns/{name}").LinkTarget!;
        foreach (var (_, name) in types)
            Assert.NotEqual(Link(Environment.ProcessId, name), Link(pid, name));

        // The second container joins all but the mount namespace (it has its own rootfs).
        var joined = types.Where(t => t.Item1 != "mount").ToArray();
        var second = _csrt.Bundle(["sh", "-c", string.Join("; ", joined.Select(t => $"readlink /proc/self/ns/{t.Item2}"))], c =>
        {
            var namespaces = c["linux"]!["namespaces"]!.AsArray();
            namespaces.Clear();
            AddNamespace(c, "mount");
            foreach (var (type, name) in joined)
                AddNamespace(c, type, $"/proc/{pid}/ns/{name}");
        });

        var result = _csrt.RunForeground(second);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(string.Concat(joined.Select(t => Link(pid, t.Item2) + "\n")), result.Stdout);
    }

    [Fact]
    public void NetworkNamespace_Absent_SharesTheHostsNetwork()
    {
        var bundle = _csrt.Bundle(["readlink", "/proc/self/ns/net"], namespaces: ["pid", "ipc", "uts", "mount"]);

        var result = _csrt.RunForeground(bundle);

        Assert.Equal(new FileInfo("/proc/self/ns/net").LinkTarget + "\n", result.Stdout);
    }

    [Fact]
    public void UserNamespace_MapsContainerRootToAHostRange()
    {
        var bundle = _csrt.Bundle(["sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/made-by-root; sleep 1000"], c =>
        {
            c["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 200000, ["size"] = 65536 });
            c["linux"]!["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 200000, ["size"] = 65536 });
        }, namespaces: ["pid", "network", "ipc", "uts", "mount", "user"], readonlyRoot: false);

        _csrt.RunDetached(bundle);
        var marker = Path.Combine(bundle.UpperDir, "tmp", "made-by-root");
        var deadline = DateTime.UtcNow + RuntimeRoot.Timeout;
        while (!File.Exists(marker) && DateTime.UtcNow < deadline)
            Thread.Sleep(20);

        var output = RuntimeRoot.Output(bundle).Split('\n', StringSplitOptions.TrimEntries);
        Assert.Equal("0", output[0]);
        Assert.Equal("0", output[1]);
        Assert.Equal("0 200000 65536", string.Join(' ', output[2].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal("0 200000 65536", string.Join(' ', output[3].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        var status = File.ReadAllLines($"/proc/{_csrt.Pid(bundle.Id)}/status");
        Assert.Equal("200000", status.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1]);
        Assert.Equal("200000", status.Single(l => l.StartsWith("Gid:", StringComparison.Ordinal)).Split('\t')[1]);
        var stat = Csrt.Linux.Files.Stat(marker);
        Assert.Equal(200000u, stat.Uid);
        Assert.Equal(200000u, stat.Gid);
    }

    [Fact]
    public void UserNamespace_ExecJoinsIt()
    {
        var bundle = _csrt.Bundle(["sleep", "1000"], c =>
        {
            c["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 300000, ["size"] = 65536 });
            c["linux"]!["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 300000, ["size"] = 65536 });
        }, namespaces: ["pid", "network", "ipc", "uts", "mount", "user"]);
        _csrt.RunDetached(bundle);

        var result = _csrt.Exec(bundle.Id, "sh", "-c", "id -u; cat /proc/self/uid_map");

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(["0", "0 300000 65536"], result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries))));
    }

    [Fact]
    public void TimeNamespace_AppliesTheBoottimeOffset()
    {
        var bundle = _csrt.Bundle(["cat", "/proc/uptime"], c =>
        {
            AddNamespace(c, "time");
            c["linux"]!["timeOffsets"] = new JsonObject { ["boottime"] = new JsonObject { ["secs"] = 10_000_000, ["nanosecs"] = 0 } };
        });

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        var uptime = double.Parse(result.Stdout.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(uptime >= 10_000_000, $"uptime in the container is {uptime} s; expected the 10,000,000 s offset on top");
    }

    [Fact]
    public void CgroupNamespace_MakesTheContainersCgroupItsRoot()
    {
        var bundle = _csrt.Bundle(["cat", "/proc/self/cgroup"], c => AddNamespace(c, "cgroup"));

        var result = _csrt.RunForeground(bundle);

        Assert.True(result.Succeeded, result.ToString());
        foreach (var line in result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.EndsWith(":/", line);
    }

    [Fact]
    public void ContainersJoiningAPidNamespace_OrMakingAUserNamespace_RunInTheirOwnCgroupInTheCgroup2AndV1Hierarchies()
    {
        var first = _csrt.Bundle(["sleep", "1000"]);
        _csrt.RunDetached(first);
        var firstPid = _csrt.Pid(first.Id);
        // A second clone makes the final process (pid namespace joined); the parent writes id maps (user namespace).
        var joiner = _csrt.Bundle(["sleep", "1000"], c =>
        {
            foreach (var ns in c["linux"]!["namespaces"]!.AsArray())
            {
                if (ns!["type"]!.GetValue<string>() == "pid")
                    ns["path"] = $"/proc/{firstPid}/ns/pid";
            }
        });
        var mapped = _csrt.Bundle(["sleep", "1000"], c =>
        {
            c["linux"]!["uidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 400000, ["size"] = 65536 });
            c["linux"]!["gidMappings"] = new JsonArray(new JsonObject { ["containerID"] = 0, ["hostID"] = 400000, ["size"] = 65536 });
        }, namespaces: ["pid", "network", "ipc", "uts", "mount", "user"]);

        foreach (var bundle in new[] { joiner, mapped })
        {
            _csrt.RunDetached(bundle);
            var lines = File.ReadAllLines($"/proc/{_csrt.Pid(bundle.Id)}/cgroup");
            Assert.EndsWith("/" + bundle.Id, lines.Single(l => l.StartsWith("0::", StringComparison.Ordinal)));
            Assert.EndsWith("/" + bundle.Id, lines.Single(l => l.Contains(":memory:", StringComparison.Ordinal)));
        }
    }

    private static ulong Inode(string path) => Csrt.Linux.Files.Stat(path).Inode;
}
