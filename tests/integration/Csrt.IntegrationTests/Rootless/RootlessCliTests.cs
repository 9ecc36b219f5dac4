using System.Text.Json.Nodes;
using Csrt.IntegrationTests.Fixtures;
using Csrt.Linux;
using Xunit;

namespace Csrt.IntegrationTests.Rootless;

/// <summary>
/// The csrt CLI run by a real unprivileged user (<see cref="UnprivilegedUser"/>), each command
/// next to runc run by the same user as the reference: the default state root, the user
/// namespace mapping the caller to root, multi-range maps through newuidmap/newgidmap, and
/// runc's cgroup rules (used when writable, skipped with a warning, refused with resources).
/// </summary>
[Collection(RootlessCollection.Name)]
public sealed class RootlessCliTests
{
    private const string Runc = "/usr/sbin/runc";
    private readonly UnprivilegedUser _user;

    public RootlessCliTests(UnprivilegedUser user) => _user = user;

    private IEnumerable<string> Runtimes => new[] { _user.Csrt, Runc };

    [Fact]
    public void SpecRootless_AsAnUnprivilegedUser_IsRuncsFieldByField()
    {
        JsonObject Spec(string runtime)
        {
            var dir = Path.Combine(_user.WorkDir, "spec-" + Path.GetFileName(runtime));
            Directory.CreateDirectory(dir);
            _user.Chown(dir);
            _user.Run(runtime, ["spec", "--rootless"], dir).EnsureSuccess();
            return JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        }
        var ours = Spec(_user.Csrt);
        var runcs = Spec(Runc);

        // Identity fields differ by design: the spec version each runtime implements and its name.
        foreach (var own in new[] { "ociVersion", "hostname" })
        {
            ours.Remove(own);
            runcs.Remove(own);
        }
        Assert.Equal(runcs.Select(p => p.Key).Order(StringComparer.Ordinal), ours.Select(p => p.Key).Order(StringComparer.Ordinal));
        foreach (var (key, value) in runcs)
            Assert.True(JsonNode.DeepEquals(value, ours[key]), $"{key}: runc {value?.ToJsonString()}, csrt {ours[key]?.ToJsonString()}");
        Assert.Contains($"\"hostID\":{_user.Uid}", ours["linux"]!["uidMappings"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryLifecycleCommand_AsAnUnprivilegedUser_WorksAsRuncs()
    {
        foreach (var runtime in Runtimes)
        {
            var id = TestBundle.NewId("rl");
            var bundle = _user.MakeBundle(runtime, ["sleep", "300"]);
            try
            {
                // The container holds the caller's stdio: csrt's warnings are read from its --log.
                var log = Path.Combine(bundle, "log.json");
                _user.Run(runtime, ["--log", log, "--log-format", "json", "create", "--bundle", bundle, id]).EnsureSuccess();
                Assert.Contains("\"created\"", _user.Run(runtime, ["state", id]).EnsureSuccess().Stdout, StringComparison.Ordinal);
                Assert.Contains(id, _user.Run(runtime, ["list", "-q"]).EnsureSuccess().Stdout, StringComparison.Ordinal);
                if (runtime == _user.Csrt)
                {
                    Assert.True(Directory.Exists(Path.Combine(_user.CsrtStateRoot, id)), $"no state under {_user.CsrtStateRoot}");
                    Assert.Contains("not writable by uid", File.ReadAllText(log), StringComparison.Ordinal);
                }
                _user.Run(runtime, ["start", id]).EnsureSuccess();
                Assert.Contains("\"running\"", _user.Run(runtime, ["state", id]).EnsureSuccess().Stdout, StringComparison.Ordinal);

                var exec = _user.Run(runtime, ["exec", id, "sh", "-c", "id -u; cat /proc/self/uid_map"]).EnsureSuccess().Stdout;
                var lines = exec.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal("0", lines[0]);
                Assert.Equal(new[] { "0", _user.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), "1" },
                    lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));

                _user.Run(runtime, ["kill", id, "KILL"]).EnsureSuccess();
                WaitForStatus(runtime, id, "stopped");
                _user.Run(runtime, ["delete", id]).EnsureSuccess();
                Assert.DoesNotContain(id, _user.Run(runtime, ["list", "-q"]).EnsureSuccess().Stdout, StringComparison.Ordinal);
            }
            finally
            {
                _user.Run(runtime, ["delete", "--force", id]);
            }
        }
        Assert.DoesNotContain(Directory.GetDirectories(_user.CsrtStateRoot), d => Path.GetFileName(d).StartsWith("rl-", StringComparison.Ordinal));
    }

    [Fact]
    public void Ps_WithoutACgroup_ListsTheContainersPidNamespace()
    {
        var id = TestBundle.NewId("rl");
        var bundle = _user.MakeBundle(_user.Csrt, ["sleep", "300"]);
        try
        {
            _user.Run(_user.Csrt, ["run", "--detach", "--bundle", bundle, id]).EnsureSuccess();
            _user.Run(_user.Csrt, ["exec", "--detach", id, "sleep", "301"]).EnsureSuccess();

            var ps = _user.Run(_user.Csrt, ["ps", id]).EnsureSuccess().Stdout;

            Assert.Contains("sleep 300", ps, StringComparison.Ordinal);
            Assert.Contains("sleep 301", ps, StringComparison.Ordinal);
            Assert.Equal(3, ps.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }
        finally
        {
            _user.Run(_user.Csrt, ["delete", "--force", id]);
        }
    }

    [Fact]
    public void Pause_WithoutAWritableCgroup_IsRefusedAsByRunc()
    {
        foreach (var runtime in Runtimes)
        {
            var id = TestBundle.NewId("rl");
            var bundle = _user.MakeBundle(runtime, ["sleep", "300"]);
            try
            {
                _user.Run(runtime, ["run", "--detach", "--bundle", bundle, id]).EnsureSuccess();

                var pause = _user.Run(runtime, ["pause", id]);

                Assert.NotEqual(0, pause.ExitCode);
                if (runtime == _user.Csrt)
                    Assert.Contains("has no freezer cgroup", pause.Stderr, StringComparison.Ordinal);
                Assert.Contains("\"running\"", _user.Run(runtime, ["state", id]).EnsureSuccess().Stdout, StringComparison.Ordinal);
            }
            finally
            {
                _user.Run(runtime, ["delete", "--force", id]);
            }
        }
    }

    [Fact]
    public void Resources_WithoutAWritableCgroup_AreRefusedNamingTheCgroup_AndLeaveNothing()
    {
        foreach (var runtime in Runtimes)
        {
            var id = TestBundle.NewId("rl");
            var bundle = _user.MakeBundle(runtime, ["true"], c =>
                c["linux"]!["resources"] = new JsonObject { ["memory"] = new JsonObject { ["limit"] = 64L << 20 } });
            try
            {
                var create = _user.Run(runtime, ["create", "--bundle", bundle, id]);

                Assert.NotEqual(0, create.ExitCode);
                Assert.DoesNotContain(id, _user.Run(runtime, ["list", "-q"]).Stdout, StringComparison.Ordinal);
                if (runtime == _user.Csrt)
                {
                    Assert.Contains("linux.resources.memory is set, but the container's cgroup /sys/fs/cgroup/", create.Stderr, StringComparison.Ordinal);
                    Assert.Contains("is not writable by uid", create.Stderr, StringComparison.Ordinal);
                    Assert.False(Directory.Exists(Path.Combine(_user.CsrtStateRoot, id)));
                }
            }
            finally
            {
                _user.Run(runtime, ["delete", "--force", id]);
            }
        }
    }

    [Fact]
    public void MultiRangeMappings_GoThroughNewuidmapAndNewgidmap_AsRuncs()
    {
        var outputs = new List<string>();
        foreach (var runtime in Runtimes)
        {
            var id = TestBundle.NewId("rl");
            var bundle = _user.MakeBundle(runtime, ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f && stat -c %u:%g /tmp/f"], c =>
            {
                c["process"]!["user"] = new JsonObject { ["uid"] = 1000, ["gid"] = 1000 };
                c["linux"]!["uidMappings"]!.AsArray().Add((JsonNode)new JsonObject { ["containerID"] = 1, ["hostID"] = _user.SubUids.Start, ["size"] = _user.SubUids.Count });
                c["linux"]!["gidMappings"]!.AsArray().Add((JsonNode)new JsonObject { ["containerID"] = 1, ["hostID"] = _user.SubGids.Start, ["size"] = _user.SubGids.Count });
            });
            try
            {
                outputs.Add(_user.Run(runtime, ["run", "--bundle", bundle, id]).EnsureSuccess().Stdout);
                // On the host the file belongs to the subordinate ids that container ids 1000 map to.
                var owner = Files.Stat(Path.Combine(bundle, "rootfs/tmp/f"));
                Assert.Equal((_user.SubUids.Start + 999, _user.SubGids.Start + 999), (owner.Uid, owner.Gid));
            }
            finally
            {
                _user.Run(runtime, ["delete", "--force", id]);
            }
        }
        Assert.Equal(outputs[1], outputs[0]);
        Assert.Contains($"{_user.SubUids.Start}", outputs[0], StringComparison.Ordinal);
        Assert.EndsWith("1000:1000\n", outputs[0], StringComparison.Ordinal);
    }

    [Fact]
    public void InADelegatedCgroup_LimitsPauseResumeAndUpdate_WorkAsRuncs()
    {
        using var delegated = new DelegatedCgroup(_user);
        foreach (var runtime in Runtimes)
        {
            var id = TestBundle.NewId("rl");
            var bundle = _user.MakeBundle(runtime, ["sleep", "300"], c =>
                c["linux"]!["resources"] = new JsonObject { ["memory"] = new JsonObject { ["limit"] = 64L << 20 }, ["pids"] = new JsonObject { ["limit"] = 50 } });
            try
            {
                delegated.Run(runtime, ["run", "--detach", "--bundle", bundle, id]).EnsureSuccess();
                var memory = Path.Combine(delegated.Directory("memory"), id);
                Assert.Equal("67108864", File.ReadAllText(Path.Combine(memory, "memory.limit_in_bytes")).Trim());
                Assert.Equal("50", File.ReadAllText(Path.Combine(delegated.Directory("pids"), id, "pids.max")).Trim());

                delegated.Run(runtime, ["pause", id]).EnsureSuccess();
                Assert.Contains("\"paused\"", delegated.Run(runtime, ["state", id]).EnsureSuccess().Stdout, StringComparison.Ordinal);
                delegated.Run(runtime, ["resume", id]).EnsureSuccess();
                Assert.Contains("\"running\"", delegated.Run(runtime, ["state", id]).EnsureSuccess().Stdout, StringComparison.Ordinal);
                delegated.Run(runtime, ["update", "--memory", "100000000", id]).EnsureSuccess();
                Assert.Equal("99999744", File.ReadAllText(Path.Combine(memory, "memory.limit_in_bytes")).Trim());

                delegated.Run(runtime, ["delete", "--force", id]).EnsureSuccess();
                Assert.False(System.IO.Directory.Exists(memory), $"{memory} left behind");
            }
            finally
            {
                delegated.Run(runtime, ["delete", "--force", id]);
            }
        }
    }

    private void WaitForStatus(string runtime, string id, string status)
    {
        var deadline = DateTime.UtcNow + UnprivilegedUser.Timeout;
        while (!_user.Run(runtime, ["state", id]).Stdout.Contains($"\"{status}\"", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{runtime}: container {id} did not become {status}");
            Thread.Sleep(50);
        }
    }
}
