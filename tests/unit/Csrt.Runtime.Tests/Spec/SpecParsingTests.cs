using System.Text;
using System.Text.Json.Nodes;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

public class SpecParsingTests
{
    [Fact]
    public void Runc_spec_output_parses_with_every_field()
    {
        var spec = SpecLoader.Parse(TestFiles.Read("runc-spec.json"), "config.json");

        Assert.Equal("1.0.2-dev", spec.OciVersion);
        Assert.True(spec.Process!.Terminal);
        Assert.Equal(["sh"], spec.Process.Args!);
        Assert.Equal("/", spec.Process.Cwd);
        Assert.Equal(0u, spec.Process.User.Uid);
        Assert.Equal(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"], spec.Process.Capabilities!.Ambient!);
        Assert.Null(spec.Process.Capabilities.Inheritable);
        Assert.Equal(1024ul, Assert.Single(spec.Process.Rlimits!).Hard);
        Assert.True(spec.Process.NoNewPrivileges);
        Assert.Equal("rootfs", spec.Root!.Path);
        Assert.True(spec.Root.Readonly);
        Assert.Equal("runc", spec.Hostname);
        Assert.Equal(7, spec.Mounts!.Count);
        Assert.Equal(["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"], spec.Mounts[2].Options!);
        Assert.Null(spec.Mounts[0].Options);
        var rule = Assert.Single(spec.Linux!.Resources!.Devices!);
        Assert.False(rule.Allow);
        Assert.Null(rule.Major);
        Assert.Equal("rwm", rule.Access);
        Assert.Equal(["pid", "network", "ipc", "uts", "mount"], spec.Linux.Namespaces!.Select(n => n.Type));
        Assert.Equal(10, spec.Linux.MaskedPaths!.Count);
        Assert.Equal(5, spec.Linux.ReadonlyPaths!.Count);
    }

    [Fact]
    public void Runc_rootless_spec_parses_with_user_namespace_mappings()
    {
        var spec = SpecLoader.Parse(TestFiles.Read("runc-spec-rootless.json"), "config.json");

        var uid = Assert.Single(spec.Linux!.UidMappings!);
        Assert.Equal((0u, 1u), (uid.ContainerId, uid.Size));
        Assert.Single(spec.Linux.GidMappings!);
        Assert.Contains(spec.Linux.Namespaces!, n => n.Type == "user");
        Assert.DoesNotContain(spec.Linux.Namespaces!, n => n.Type == "network");
    }

    [Fact]
    public void Containerd_cri_config_parses_with_joined_namespaces_seccomp_profile_and_cgroups_path()
    {
        var spec = SpecLoader.Parse(TestFiles.Read("containerd-cri-config.json"), "config.json");

        Assert.Equal(["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"], spec.Process!.Args!);
        Assert.Equal((101u, 101u), (spec.Process.User.Uid, spec.Process.User.Gid));
        Assert.Equal([101u], spec.Process.User.AdditionalGids!);
        Assert.Equal(968, spec.Process.OomScoreAdj);
        Assert.Equal("cri-containerd.apparmor.d", spec.Process.ApparmorProfile);
        Assert.Equal(14, spec.Process.Capabilities!.Bounding!.Count);
        Assert.Equal(12, spec.Mounts!.Count);
        Assert.Equal("/var/run/secrets/kubernetes.io/serviceaccount", spec.Mounts[^1].Destination);
        Assert.Equal("container", spec.Annotations!["io.kubernetes.cri.container-type"]);

        var linux = spec.Linux!;
        Assert.StartsWith("/kubepods/burstable/pod", linux.CgroupsPath);
        Assert.Equal("/proc/4242/ns/net", linux.Namespaces!.Single(n => n.Type == "network").Path);
        Assert.Null(linux.Namespaces!.Single(n => n.Type == "pid").Path);
        Assert.Equal(268435456L, linux.Resources!.Memory!.Limit);
        Assert.Equal(50000L, linux.Resources.Cpu!.Quota);
        Assert.Equal(13, linux.Resources.Devices!.Count);
        Assert.Equal(136L, linux.Resources.Devices[10].Major);
        Assert.Null(linux.Resources.Devices[10].Minor);

        var seccomp = linux.Seccomp!;
        Assert.Equal("SCMP_ACT_ERRNO", seccomp.DefaultAction);
        var calls = seccomp.Syscalls!;
        Assert.True(calls.Sum(s => s.Names.Count) > 300, "the RuntimeDefault profile lists hundreds of syscalls");
        var clone = calls.Single(s => s.Names.Contains("clone"));
        Assert.Equal(("SCMP_CMP_MASKED_EQ", 2114060288ul), (clone.Args![0].Op, clone.Args[0].Value));
        Assert.Equal(38u, calls.Single(s => s.Names.Contains("clone3")).ErrnoRet);
        Assert.Equal(4294967295ul, calls.Last(s => s.Names.Contains("personality")).Args![0].Value);
    }

    [Fact]
    public void Containerd_cri_config_round_trips_without_losing_or_adding_fields()
    {
        var original = TestFiles.Read("containerd-cri-config.json");
        var spec = SpecLoader.Parse(original, "config.json");

        var written = SpecJson.Serialize(spec);

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(original), JsonNode.Parse(written)),
            "re-serialized config differs:\n" + Encoding.UTF8.GetString(written));
    }

    [Fact]
    public void Runc_spec_output_round_trips_byte_for_byte_with_tab_indentation()
    {
        var original = TestFiles.Read("runc-spec.json");

        var written = SpecJson.Serialize(SpecLoader.Parse(original, "config.json"), indented: true);

        Assert.Equal(Encoding.UTF8.GetString(original), Encoding.UTF8.GetString(written));
    }

    [Fact]
    public void Unknown_fields_at_every_level_are_ignored()
    {
        var json = """
        {
          "ociVersion": "1.2.0",
          "futureTopLevel": {"nested": [1, 2, {"deep": true}]},
          "windows": {"layerFolders": ["C:\\layers"]},
          "vm": {"kernel": {"path": "/boot/vmlinuz"}},
          "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0, "sid": "S-1-5"}, "futureKnob": 3},
          "root": {"path": "rootfs", "idmap": "yes"},
          "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "flags": 12}],
          "linux": {"namespaces": [{"type": "mount", "flags": null}], "futureLinux": "x",
                    "resources": {"memory": {"limit": 1, "futureMemory": 2}, "futureController": {}},
                    "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "futureSeccomp": 1}}
        }
        """u8;

        var spec = SpecLoader.Parse(json, "config.json");

        Assert.Equal(["sh"], spec.Process!.Args!);
        Assert.Equal(1L, spec.Linux!.Resources!.Memory!.Limit);
        Assert.Equal("/proc", spec.Mounts![0].Destination);
    }

    [Fact]
    public void Property_names_match_case_insensitively_as_runcs_go_decoder_does()
    {
        var json = """{"OciVersion": "1.0.0", "Root": {"Path": "rootfs"}, "Process": {"Args": ["sh"], "CWD": "/"}}"""u8;

        var spec = SpecLoader.Parse(json, "config.json");

        Assert.Equal("rootfs", spec.Root!.Path);
        Assert.Equal("/", spec.Process!.Cwd);
    }

    [Fact]
    public void A_utf8_byte_order_mark_is_skipped()
    {
        var json = Encoding.UTF8.GetPreamble().Concat("""{"ociVersion":"1.0.0","root":{"path":"r"},"process":{"args":["sh"],"cwd":"/"}}"""u8.ToArray()).ToArray();

        Assert.Equal("r", SpecLoader.Parse(json, "config.json").Root!.Path);
    }

    [Fact]
    public void Load_reads_the_file_and_validates_it()
    {
        using var dir = new TempDir();
        var path = dir.File("config.json");
        File.WriteAllBytes(path, TestFiles.Read("runc-spec.json"));

        Assert.Equal("runc", SpecLoader.Load(path).Hostname);
    }

    [Fact]
    public void LoadProcess_reads_a_pipe_to_its_end()
    {
        using var dir = new TempDir();
        var path = dir.File("process.fifo");
        Csrt.Linux.Files.MakeFifo(path, Csrt.Linux.FileModes.UserReadWrite);
        var writer = Task.Run(() => File.WriteAllText(path, """{"args": ["true"], "cwd": "/"}"""));

        var process = SpecLoader.LoadProcess(path);

        Assert.True(writer.Wait(TimeSpan.FromSeconds(30)), "the writer never finished");
        Assert.Equal(["true"], process.Args!);
    }

    [Fact]
    public void An_empty_config_file_is_read_as_empty()
    {
        using var dir = new TempDir();
        var path = dir.File("config.json");
        File.WriteAllBytes(path, []);

        var e = Assert.Throws<SpecValidationException>(() => SpecLoader.Load(path));

        Assert.Equal($"{path}: the file is empty; expected a JSON object (the OCI runtime configuration)", e.Message);
    }

    [Fact]
    public void Exec_process_json_parses_and_validates_on_its_own()
    {
        var json = """
        {"terminal": false, "user": {"uid": 1000, "gid": 1000, "umask": 18}, "args": ["/bin/ls", "-l"],
         "env": ["PATH=/bin"], "cwd": "/tmp", "capabilities": {"bounding": ["CAP_KILL"]},
         "execCPUAffinity": {"initial": "0-1", "final": "1"}, "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4}}
        """u8;

        var process = SpecLoader.ParseProcess(json, "process.json");

        Assert.Equal(["/bin/ls", "-l"], process.Args!);
        Assert.Equal(18u, process.User.Umask);
        Assert.Equal("1", process.ExecCpuAffinity!.Final);
    }

    [Fact]
    public void Update_resources_json_parses_as_linux_resources()
    {
        var r = SpecLoader.ParseResources("""{"memory": {"limit": 1048576, "swap": -1}, "pids": {"limit": 10}, "unified": {"memory.high": "max"}}"""u8, "resources.json");

        Assert.Equal((1048576L, -1L, 10L), (r.Memory!.Limit!.Value, r.Memory.Swap!.Value, r.Pids!.Limit!.Value));
        Assert.Equal("max", r.Unified!["memory.high"]);
    }

    [Fact]
    public void Serialization_leaves_out_unset_optional_fields()
    {
        var spec = new RuntimeSpec { OciVersion = "1.2.0", Root = new Root { Path = "r" } };

        Assert.Equal("""{"ociVersion":"1.2.0","root":{"path":"r"}}""", Encoding.UTF8.GetString(SpecJson.Serialize(spec)));
    }
}
