using System.Text;
using Csrt.Linux;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;
using Csrt.Runtime.Tests.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Processes;

/// <summary>config.json compiled into the init's plan: mounts by kind, devices, process, hooks.</summary>
public sealed class InitPlanBuilderTests : IDisposable
{
    private readonly TempDir _bundle = new();

    public InitPlanBuilderTests() => Directory.CreateDirectory(_bundle.File("rootfs"));

    public void Dispose() => _bundle.Dispose();

    private static readonly CgroupMountLayout V1Layout = new(false,
        [new CgroupMountSource { Name = "memory", HostPath = "/sys/fs/cgroup/memory/c1", Options = "memory" }], "/sys/fs/cgroup/unified/c1");

    private InitPlan Build(string mounts = "[]", string linuxExtra = "", string processExtra = "", string extra = "", CgroupMountLayout? layout = null,
        string namespaces = """[{ "type": "mount" }, { "type": "pid" }, { "type": "uts" }]""")
    {
        var json = $$"""
            {
              "ociVersion": "1.0.2",
              "process": { "args": ["sh"], "cwd": "/", "user": { "uid": 0, "gid": 0 } {{processExtra}} },
              "root": { "path": "rootfs", "readonly": true },
              "hostname": "h",
              "mounts": {{mounts}},
              "linux": { "namespaces": {{namespaces}} {{linuxExtra}} }
              {{extra}}
            }
            """;
        var spec = SpecLoader.Parse(Encoding.UTF8.GetBytes(json), "config.json");
        return InitPlanBuilder.Build(spec, NamespacePlan.For(spec.Linux), new InitPlanBuilder.Options
        {
            ContainerId = "c1",
            Bundle = _bundle.Path,
            CgroupLayout = layout ?? V1Layout,
        });
    }

    [Fact]
    public void TheRootfs_IsResolvedAgainstTheBundle()
    {
        var plan = Build();

        Assert.Equal(_bundle.File("rootfs"), plan.Rootfs);
        Assert.True(plan.RootfsReadonly);
        Assert.Equal((ulong)(MountFlags.MS_SLAVE | MountFlags.MS_REC), plan.RootPropagation);
        Assert.Equal(0UL, plan.NewRootPropagation);
        Assert.True(plan.OwnMountNamespace);
        Assert.Equal("h", plan.Hostname);
    }

    [Theory]
    [InlineData("shared", MountFlags.MS_SHARED)]
    [InlineData("rslave", MountFlags.MS_SLAVE | MountFlags.MS_REC)]
    [InlineData("private", MountFlags.MS_PRIVATE)]
    [InlineData("unbindable", MountFlags.MS_UNBINDABLE)]
    public void ASetRootfsPropagation_IsGivenToTheNewRootToo(string value, MountFlags flags)
    {
        var plan = Build(linuxExtra: $$""", "rootfsPropagation": "{{value}}" """);

        Assert.Equal((ulong)flags, plan.RootPropagation);
        Assert.Equal((ulong)flags, plan.NewRootPropagation);
    }

    [Fact]
    public void WithoutAMountNamespace_ThePlanSharesTheRuntimes()
    {
        var plan = Build(namespaces: """[{ "type": "pid" }, { "type": "uts" }]""");

        Assert.False(plan.OwnMountNamespace);
    }

    [Fact]
    public void AJoinedMountNamespace_IsTheContainersOwn()
    {
        var plan = Build(namespaces: """[{ "type": "mount", "path": "/proc/1/ns/mnt" }, { "type": "pid" }, { "type": "uts" }]""");

        Assert.True(plan.OwnMountNamespace);
    }

    [Fact]
    public void Mounts_GetTheirKind_FlagsAndData()
    {
        var plan = Build("""
            [
              { "destination": "/proc", "type": "proc", "source": "proc" },
              { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
              { "destination": "/data", "type": "bind", "source": "relative/data", "options": ["rbind", "ro", "rslave"] },
              { "destination": "/abs", "type": "none", "source": "/srv/x", "options": ["bind"] },
              { "destination": "sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"] },
              { "destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"] }
            ]
            """);

        Assert.Equal(MountKinds.Normal, plan.Mounts[0].Kind);
        Assert.Equal("proc", plan.Mounts[0].Type);
        Assert.Equal((ulong)(MountFlags.MS_NOSUID | MountFlags.MS_STRICTATIME), plan.Mounts[1].Flags);
        Assert.Equal("mode=755,size=65536k", plan.Mounts[1].Data);
        var bind = plan.Mounts[2];
        Assert.Equal(MountKinds.Bind, bind.Kind);
        Assert.Equal(Path.Combine(_bundle.Path, "relative", "data"), bind.Source);
        Assert.Equal((ulong)(MountFlags.MS_BIND | MountFlags.MS_REC | MountFlags.MS_RDONLY), bind.Flags);
        Assert.Equal([(ulong)(MountFlags.MS_SLAVE | MountFlags.MS_REC)], bind.Propagation);
        Assert.Equal(MountKinds.Bind, plan.Mounts[3].Kind);
        Assert.Equal("/srv/x", plan.Mounts[3].Source);
        var cgroup = plan.Mounts[4];
        Assert.Equal(MountKinds.CgroupV1, cgroup.Kind);
        Assert.Equal("/sys/fs/cgroup", cgroup.Destination);
        Assert.Equal("memory", Assert.Single(cgroup.CgroupSources!).Name);
        Assert.True(plan.Mounts[5].CopyUp);
    }

    [Fact]
    public void ACgroupMount_OnAUnifiedHost_IsACgroup2Bind()
    {
        var plan = Build("""[{ "destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup" }]""",
            layout: new CgroupMountLayout(true, [], "/sys/fs/cgroup/c1"));

        Assert.Equal(MountKinds.CgroupV2, plan.Mounts[0].Kind);
        Assert.Equal("/sys/fs/cgroup/c1", plan.Mounts[0].Source);
    }

    [Fact]
    public void TmpcopyupOnAnythingButTmpfs_IsRefused()
    {
        var e = Assert.Throws<SpecValidationException>(() => Build("""[{ "destination": "/x", "type": "bind", "source": "/srv", "options": ["rbind", "tmpcopyup"] }]"""));

        Assert.Equal("$.mounts[0].options", e.JsonPath);
    }

    [Theory]
    [InlineData("rshared", 2)]
    [InlineData("shared", 2)]
    [InlineData("rslave", 2)]
    [InlineData("slave", 2)]
    public void ARecursiveReadOnlyMount_ThatIsSharedOrSlave_IsRefusedNamingTheOption(string propagation, int index)
    {
        var e = Assert.Throws<SpecValidationException>(() =>
            Build($$"""[{ "destination": "/x", "type": "bind", "source": "/srv", "options": ["rbind", "rro", "{{propagation}}"] }]"""));

        Assert.Equal($"$.mounts[0].options[{index}]", e.JsonPath);
        Assert.Contains("private", e.Message, StringComparison.Ordinal);
        Assert.Contains(propagation, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rprivate")]
    [InlineData("private")]
    [InlineData(null)]
    public void ARecursiveReadOnlyMount_ThatIsPrivateOrInherits_IsAMountSetattrOfRdonly(string? propagation)
    {
        var options = propagation is null ? "\"rbind\", \"rro\"" : $"\"rbind\", \"{propagation}\", \"rro\"";
        var plan = Build($$"""[{ "destination": "/x", "type": "bind", "source": "/srv", "options": [{{options}}] }]""");

        Assert.Equal(0x1UL /* MOUNT_ATTR_RDONLY */, plan.Mounts[0].SetAttributes);
        Assert.Equal((ulong)(MountFlags.MS_BIND | MountFlags.MS_REC), plan.Mounts[0].Flags);
    }

    private const string UserNamespaces = """[{ "type": "mount" }, { "type": "uts" }, { "type": "user" }]""";
    private const string Mappings = """, "uidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }], "gidMappings": [{ "containerID": 0, "hostID": 100000, "size": 65536 }]""";

    private List<(int Step, Csrt.Runtime.Rootfs.IdMapRequest Request)> IdMapRequests(string mounts, string namespaces, string linuxExtra = "")
    {
        var json = $$"""
            { "ociVersion": "1.2.1", "process": { "args": ["sh"], "cwd": "/", "user": { "uid": 0, "gid": 0 } },
              "root": { "path": "rootfs" }, "mounts": {{mounts}}, "linux": { "namespaces": {{namespaces}} {{linuxExtra}} } }
            """;
        var spec = SpecLoader.Parse(Encoding.UTF8.GetBytes(json), "config.json");
        return InitPlanBuilder.IdMapRequests(spec, NamespacePlan.For(spec.Linux), _bundle.Path);
    }

    [Theory]
    [InlineData("idmap", false)]
    [InlineData("ridmap", true)]
    public void IdMapOptions_OnABind_AreAnIdMapRequestOfTheContainersNamespace_NotFilesystemData(string option, bool recursive)
    {
        var mounts = $$"""[{ "destination": "/x", "type": "bind", "source": "/srv", "options": ["rbind", "{{option}}"] }]""";

        var plan = Build(mounts, linuxExtra: Mappings, namespaces: UserNamespaces);
        var requests = IdMapRequests(mounts, UserNamespaces, Mappings);

        Assert.Equal("", plan.Mounts[0].Data);
        Assert.Equal(-1, plan.Mounts[0].MountFd);
        var (step, request) = Assert.Single(requests);
        Assert.Equal(0, step);
        Assert.Equal(("/srv", "/x", true, recursive), (request.Source, request.Destination, request.RecursiveBind, request.RecursiveIdMap));
        Assert.True(request.UsesContainerNamespace);
    }

    [Fact]
    public void MountMappings_WithoutAnOption_AreAnIdMapRequestWithThoseMappings_EvenWithoutAUserNamespace()
    {
        var mounts = """
            [{ "destination": "/x", "type": "bind", "source": "vol", "options": ["bind"],
               "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 10 }], "gidMappings": [{ "containerID": 0, "hostID": 2000, "size": 10 }] },
             { "destination": "/y", "type": "bind", "source": "/srv", "options": ["rbind"] }]
            """;

        var request = Assert.Single(IdMapRequests(mounts, """[{ "type": "mount" }]""")).Request;

        Assert.Equal(Path.Combine(_bundle.Path, "vol"), request.Source);
        Assert.False(request.RecursiveBind);
        Assert.False(request.UsesContainerNamespace);
        Assert.Equal((0u, 1000u, 10u), (request.Uids![0].ContainerId, request.Uids[0].HostId, request.Uids[0].Size));
        Assert.Equal(2000u, request.Gids![0].HostId);
    }

    [Theory]
    [InlineData("""[{ "destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"] }]""", "$.mounts[0].type", "only bind mounts")]
    [InlineData("""[{ "destination": "/x", "type": "bind", "source": "/srv", "options": ["rbind"], "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }] }]""", "$.mounts[0].gidMappings", "both uidMappings and gidMappings")]
    [InlineData("""[{ "destination": "/x", "type": "bind", "source": "/srv", "options": ["rbind", "idmap"] }]""", "$.mounts[0].uidMappings", "has none")]
    public void AnIdMappedMountThatCannotBeMade_IsRefusedNamingTheField(string mounts, string jsonPath, string words)
    {
        var e = Assert.Throws<SpecValidationException>(() => Build(mounts));

        Assert.Equal(jsonPath, e.JsonPath);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDefaultDevices_AreAdded_UnlessTheSpecListsThem()
    {
        var plan = Build(linuxExtra: """, "devices": [{ "path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 432 }, { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229 }]""");

        Assert.True(plan.SetupDev);
        Assert.Equal(["/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/null", "/dev/fuse"], plan.Devices.Select(d => d.Path));
        Assert.Equal(432u, plan.Devices.Single(d => d.Path == "/dev/null").FileMode);
        Assert.Equal(FileModes.AllReadWrite, plan.Devices.Single(d => d.Path == "/dev/fuse").FileMode);
        var tty = plan.Devices.Single(d => d.Path == "/dev/tty");
        Assert.Equal(('c', 5L, 0L), (tty.Type, tty.Major, tty.Minor));
    }

    [Fact]
    public void ABindMountedDev_GetsNoDefaultDevices()
    {
        var plan = Build("""[{ "destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"] }]""");

        Assert.False(plan.SetupDev);
        Assert.Empty(plan.Devices);
    }

    [Fact]
    public void TheProcess_CarriesIdsUmaskCapabilitiesAndRlimits()
    {
        var plan = Build(processExtra: """
            , "env": ["A=1"], "noNewPrivileges": true, "oomScoreAdj": 10,
            "capabilities": { "bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"] },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "soft": 10, "hard": 20 }]
            """.Replace("\n", " ", StringComparison.Ordinal));

        var p = plan.Process;
        Assert.Equal(["sh"], p.Args);
        Assert.Equal(["A=1"], p.Env);
        Assert.True(p.NoNewPrivileges);
        Assert.True(p.SetCapabilities);
        Assert.Equal((1UL << 5) | 1UL, p.CapBounding);
        Assert.Equal(1UL << 5, p.CapEffective);
        Assert.Equal(0UL, p.CapAmbient);
        Assert.Equal(10, plan.OomScoreAdj);
        var rlimit = Assert.Single(plan.Rlimits);
        Assert.Equal(((int)ResourceLimit.RLIMIT_NOFILE, 10UL, 20UL), (rlimit.Resource, rlimit.Soft, rlimit.Hard));
    }

    [Fact]
    public void NoCapabilities_MeansEverySetEmpty_AsRuncDoes()
    {
        var p = Build().Process;

        Assert.True(p.SetCapabilities);
        Assert.Equal(0UL, p.CapBounding | p.CapEffective | p.CapPermitted | p.CapInheritable | p.CapAmbient);
    }

    [Fact]
    public void HookArgs_DefaultToThePath()
    {
        var plan = Build(extra: """, "hooks": { "createContainer": [{ "path": "/bin/hook" }], "startContainer": [{ "path": "/bin/s", "args": ["s", "x"], "timeout": 3 }] }""");

        Assert.Equal(["/bin/hook"], Assert.Single(plan.CreateContainerHooks).Args);
        var start = Assert.Single(plan.StartContainerHooks);
        Assert.Equal(["s", "x"], start.Args);
        Assert.Equal(3, start.TimeoutSeconds);
    }

    [Fact]
    public void AMissingRootfs_IsRefusedNamingIt()
    {
        Directory.Delete(_bundle.File("rootfs"));

        var e = Assert.Throws<SpecValidationException>(() => Build());

        Assert.Equal("$.root.path", e.JsonPath);
        Assert.Contains(_bundle.File("rootfs"), e.Message, StringComparison.Ordinal);
    }
}
