using System.Text;
using Csrt.Runtime.Hooks;
using Csrt.Runtime.NamespaceSetup;
using Csrt.Runtime.Processes;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Processes;

/// <summary>The C init reports a failure as struct csrt_init_failure; the runtime words it as it
/// worded the C# init's errors. These tests build the payload as csrt_init.c's send_failure does.</summary>
public class InitFailureReportTests
{
    private static byte[] Payload(InitStage stage, int index, int errno, int status, string call, string path, string detail = "")
    {
        var head = new byte[16];
        BitConverter.GetBytes((int)stage).CopyTo(head, 0);
        BitConverter.GetBytes(index).CopyTo(head, 4);
        BitConverter.GetBytes(errno).CopyTo(head, 8);
        BitConverter.GetBytes(status).CopyTo(head, 12);
        return [.. head, .. Encoding.UTF8.GetBytes(call), 0, .. Encoding.UTF8.GetBytes(path), 0, .. Encoding.UTF8.GetBytes(detail), 0];
    }

    private static string Message(InitPlan plan, InitStage stage, int index, int errno, int status, string call, string path, string detail = "") =>
        InitFailureReport.Parse(Payload(stage, index, errno, status, call, path, detail)).ToException(plan).Message;

    private static InitPlan Plan()
    {
        var plan = new InitPlan();
        plan.Mounts.Add(new MountStep { Destination = "/proc", Type = "proc", Source = "proc" });
        plan.Mounts.Add(new MountStep { Kind = MountKinds.Bind, Destination = "/data", Source = "/srv/ü" });
        plan.Devices.Add(new DeviceNode { Path = "/dev/fuse", Type = 'c' });
        plan.MaskedPaths.Add("/proc/kcore");
        plan.ReadonlyPaths.Add("/proc/sys");
        plan.Rlimits.Add(new RlimitStep { Resource = 7, Name = "RLIMIT_NOFILE", Soft = 10, Hard = 20 });
        plan.Process.Args = new List<string> { "no-such-program" };
        plan.CreateContainerHooks.Add(new HookStep { Path = "/bin/hook", TimeoutSeconds = 3 });
        return plan;
    }

    [Fact]
    public void A_mount_failure_names_the_mount_the_call_the_path_and_the_errno()
    {
        var m = Message(Plan(), InitStage.Mount, 1, 2, -1, "mount", "/srv/ü → /proc/self/fd/7", "type none, flags MS_BIND");
        Assert.Equal("mounting bind /srv/ü on /data: mount(/srv/ü → /proc/self/fd/7): ENOENT (No such file or directory): type none, flags MS_BIND", m);
    }

    [Fact]
    public void Device_mask_readonly_and_rlimit_failures_keep_the_wording_of_the_CSharp_init()
    {
        Assert.Equal("creating device /dev/fuse: mknodat(fuse): EPERM (Operation not permitted)",
            Message(Plan(), InitStage.Device, 0, 1, -1, "mknodat", "fuse"));
        Assert.Equal("masking /proc/kcore: mount(/dev/null → /proc/kcore): EACCES (Permission denied)",
            Message(Plan(), InitStage.Mask, 0, 13, -1, "mount", "/dev/null → /proc/kcore"));
        Assert.StartsWith("making /proc/sys read-only: mount(/proc/sys): EPERM",
            Message(Plan(), InitStage.Readonly, 0, 1, -1, "mount", "/proc/sys"));
        Assert.Equal("process.rlimits RLIMIT_NOFILE (soft 10, hard 20): prlimit(RLIMIT_NOFILE): EPERM (Operation not permitted): soft 10, hard 20 (raising a hard limit needs CAP_SYS_RESOURCE)",
            Message(Plan(), InitStage.Rlimit, 0, 1, -1, "prlimit", "RLIMIT_NOFILE"));
    }

    [Fact]
    public void A_missing_program_fails_with_the_lookup_message()
    {
        Assert.Equal("exec: \"no-such-program\": executable file not found in $PATH (/bin:/usr/bin)",
            Message(Plan(), InitStage.Lookup, -1, 2, -1, "$PATH", "/bin:/usr/bin"));
        var plan = Plan();
        plan.Process.Args[0] = "/etc";
        Assert.Equal("exec: \"/etc\": is a directory", Message(plan, InitStage.Lookup, -1, 21, -1, "stat", "/etc"));
    }

    [Fact]
    public void Hook_failures_say_how_the_hook_ended_and_show_its_output()
    {
        var e = InitFailureReport.Parse(Payload(InitStage.Hook, 0, 0, 3 << 8, "", "/bin/hook", " bad things\n")).ToException(Plan());
        Assert.IsType<HookFailedException>(e);
        Assert.Equal("createContainer hook /bin/hook failed: exit status 3, output: bad things", e.Message);
        Assert.Equal("createContainer hook /bin/hook failed: killed by SIGKILL",
            Message(Plan(), InitStage.Hook, 0, 0, 9, "", "/bin/hook"));
        Assert.Equal("createContainer hook /bin/hook timed out after 3 s",
            Message(Plan(), InitStage.Hook, 0, 0, InitFailureReport.HookTimedOut, "", "/bin/hook"));
        Assert.Equal("createContainer hook /bin/hook: execve(/bin/hook): ENOENT (No such file or directory)",
            Message(Plan(), InitStage.Hook, 0, 2, -1, "execve", "/bin/hook"));
    }

    [Fact]
    public void A_report_without_its_texts_is_a_protocol_error()
    {
        Assert.Throws<IOException>(() => InitFailureReport.Parse(new byte[15]));
        Assert.Throws<IOException>(() => InitFailureReport.Parse(Payload(InitStage.Root, -1, 1, -1, "mount", "/")[..^1]));
    }

    [Theory]
    [InlineData(null, "/proc/self/mountinfo")]
    [InlineData("/proc/4321/ns/mnt", "/proc/4321/mountinfo")]
    [InlineData("/run/mntns/pod", "/proc/self/mountinfo")]
    [InlineData("/proc/self/../1/ns/mnt", "/proc/self/mountinfo")]
    public void The_rootfs_parent_mount_is_looked_up_in_the_mount_namespace_the_init_starts_in(string? joined, string expected)
    {
        var linux = new LinuxConfig { Namespaces = new List<LinuxNamespace> { new() { Type = "mount", Path = joined }, new() { Type = "pid" } } };
        Assert.Equal(expected, InitPlanBuilder.MountinfoSeenByInit(NamespacePlan.For(linux)));
    }

    [Fact]
    public void The_rootfs_parent_mount_is_the_longest_mount_point_prefixing_the_rootfs()
    {
        var mountinfo = System.Text.Encoding.UTF8.GetBytes(
            "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n" +
            "30 22 0:5 / /run rw - tmpfs tmpfs rw\n" +
            "31 30 0:6 / /run/containers rw - tmpfs tmpfs rw\n" +
            "32 30 0:7 / /run/cont rw - tmpfs tmpfs rw\n" +
            "33 22 0:8 / /a\\040b rw - tmpfs tmpfs rw\n");
        Assert.Equal("/run/containers", InitPlanBuilder.ParentMountOf("/run/containers/x/rootfs", mountinfo));
        Assert.Equal("/run", InitPlanBuilder.ParentMountOf("/run/contX/rootfs", mountinfo));
        Assert.Equal("/a b", InitPlanBuilder.ParentMountOf("/a b/rootfs", mountinfo));
        Assert.Equal("/", InitPlanBuilder.ParentMountOf("/srv/rootfs", mountinfo));
        Assert.Null(InitPlanBuilder.ParentMountOf("/srv/rootfs", ReadOnlySpan<byte>.Empty));
    }
}
