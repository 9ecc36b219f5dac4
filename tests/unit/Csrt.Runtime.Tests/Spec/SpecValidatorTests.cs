using System.Text;
using Csrt.Runtime.Spec;
using Xunit;

namespace Csrt.Runtime.Tests.Spec;

/// <summary>Semantic rules: each broken rule is refused with the JSON path of the offending value.</summary>
public class SpecValidatorTests
{
    /// <summary>`csrt spec` output: valid, with namespaces pid, network, ipc, uts, mount.</summary>
    private static RuntimeSpec Base() => DefaultSpec.Create(rootless: false);

    private static void Add(RuntimeSpec s, string type, string? path = null) =>
        s.Linux!.Namespaces!.Add(new LinuxNamespace { Type = type, Path = path });

    private static void Remove(RuntimeSpec s, string type) => s.Linux!.Namespaces!.RemoveAll(n => n.Type == type);

    private static LinuxSeccomp Seccomp(RuntimeSpec s, string action = "SCMP_ACT_ALLOW", params LinuxSyscall[] calls) =>
        s.Linux!.Seccomp = new LinuxSeccomp { DefaultAction = action, Syscalls = [.. calls] };

    private static LinuxSyscall Call(string action, params string[] names) => new() { Names = [.. names], Action = action };

    private static void UserNs(RuntimeSpec s, LinuxIdMapping uidMapping)
    {
        Add(s, "user");
        s.Linux!.UidMappings = [uidMapping];
        s.Linux.GidMappings = [new LinuxIdMapping { Size = 1 }];
    }

    /// <summary>case name → (break the spec, expected JSON path, expected text in the message).</summary>
    private static readonly Dictionary<string, (Action<RuntimeSpec> Break, string Path, string Message)> Cases = new()
    {
        ["ociVersion missing"] = (s => s.OciVersion = "", "$.ociVersion", "required field is missing or empty"),
        ["ociVersion of another major"] = (s => s.OciVersion = "2.0.0", "$.ociVersion", "expected a 1.x.y version (this runtime implements 1.2.0), got \"2.0.0\""),
        ["ociVersion not semver"] = (s => s.OciVersion = "1.0", "$.ociVersion", "expected a SemVer 2.0.0 version such as \"1.2.0\", got \"1.0\""),
        ["root missing"] = (s => s.Root = null, "$.root", "required field is missing or empty; expected an object with the root filesystem path"),
        ["root path empty"] = (s => s.Root!.Path = "", "$.root.path", "required field is missing"),
        ["process missing"] = (s => s.Process = null, "$.process", "required field is missing"),
        ["args empty"] = (s => s.Process!.Args = [], "$.process.args", "expected a non-empty array (the command to run), got []"),
        ["args missing"] = (s => s.Process!.Args = null, "$.process.args", "expected a non-empty array (the command to run), got nothing"),
        ["program name empty"] = (s => s.Process!.Args = ["", "x"], "$.process.args[0]", "expected the program to run, got \"\""),
        ["cwd missing"] = (s => s.Process!.Cwd = "", "$.process.cwd", "required field is missing or empty; expected an absolute path in the container"),
        ["cwd relative"] = (s => s.Process!.Cwd = "tmp", "$.process.cwd", "expected an absolute path, got \"tmp\""),
        ["env without ="] = (s => s.Process!.Env!.Add("FOO"), "$.process.env[2]", "expected NAME=VALUE, got \"FOO\""),
        ["env with empty name"] = (s => s.Process!.Env!.Add("=x"), "$.process.env[2]", "expected NAME=VALUE with a non-empty NAME"),
        ["env with NUL"] = (s => s.Process!.Env!.Add("A=b\0c"), "$.process.env[2]", "without NUL bytes"),
        ["capability that cannot be one"] = (s => s.Process!.Capabilities!.Effective!.Add("chown"), "$.process.capabilities.effective[3]", "expected a capability name such as \"CAP_CHOWN\", got \"chown\""),
        ["capability in lower case"] = (s => s.Process!.Capabilities!.Bounding!.Insert(0, "CAP_chown"), "$.process.capabilities.bounding[0]", "got \"CAP_chown\""),
        ["rlimit type unknown"] = (s => s.Process!.Rlimits![0].Type = "RLIMIT_FOO", "$.process.rlimits[0].type", "expected one of RLIMIT_CPU, RLIMIT_FSIZE"),
        ["rlimit type missing"] = (s => s.Process!.Rlimits![0].Type = "", "$.process.rlimits[0].type", "required field is missing"),
        ["rlimit soft above hard"] = (s => s.Process!.Rlimits![0].Soft = 2048, "$.process.rlimits[0].soft", "soft limit 2048 is above hard limit 1024 for RLIMIT_NOFILE; expected soft <= hard"),
        ["rlimit given twice"] = (s => s.Process!.Rlimits!.Add(new PosixRlimit { Type = "RLIMIT_NOFILE", Hard = 1, Soft = 1 }), "$.process.rlimits[1].type", "rlimit RLIMIT_NOFILE is given more than once"),
        ["oomScoreAdj out of range"] = (s => s.Process!.OomScoreAdj = 1001, "$.process.oomScoreAdj", "expected an integer from -1000 to 1000, got 1001"),
        ["scheduler policy unknown"] = (s => s.Process!.Scheduler = new Scheduler { Policy = "SCHED_FAST" }, "$.process.scheduler.policy", "expected a scheduling policy: one of SCHED_OTHER"),
        ["scheduler nice out of range"] = (s => s.Process!.Scheduler = new Scheduler { Policy = "SCHED_OTHER", Nice = 20 }, "$.process.scheduler.nice", "expected an integer from -20 to 19, got 20"),
        ["scheduler priority without realtime policy"] = (s => s.Process!.Scheduler = new Scheduler { Policy = "SCHED_OTHER", Priority = 5 }, "$.process.scheduler.priority", "priority can only be set for SCHED_FIFO or SCHED_RR, not SCHED_OTHER"),
        ["scheduler deadline fields without SCHED_DEADLINE"] = (s => s.Process!.Scheduler = new Scheduler { Policy = "SCHED_RR", Runtime = 5 }, "$.process.scheduler", "runtime, deadline and period can only be set for SCHED_DEADLINE"),
        ["ioPriority class unknown"] = (s => s.Process!.IoPriority = new IoPriority { Class = "IOPRIO_CLASS_FAST" }, "$.process.ioPriority.class", "got \"IOPRIO_CLASS_FAST\""),
        ["ioPriority level out of range"] = (s => s.Process!.IoPriority = new IoPriority { Class = "IOPRIO_CLASS_BE", Priority = 8 }, "$.process.ioPriority.priority", "expected an integer from 0 (highest) to 7 (lowest), got 8"),
        ["execCPUAffinity malformed"] = (s => s.Process!.ExecCpuAffinity = new ExecCpuAffinity { Initial = "3-1" }, "$.process.execCPUAffinity.initial", "expected a CPU list such as \"0-3,7\", got \"3-1\""),
        ["hostname without uts namespace"] = (s => Remove(s, "uts"), "$.hostname", "setting hostname needs a uts namespace"),
        ["domainname without uts namespace"] = (s => { s.Hostname = null; s.Domainname = "example.org"; Remove(s, "uts"); }, "$.domainname", "setting domainname needs a uts namespace"),
        ["hostname longer than HOST_NAME_MAX"] = (s => s.Hostname = new string('h', 65), "$.hostname", "expected at most 64 bytes"),
        ["mount destination missing"] = (s => s.Mounts![3].Destination = "", "$.mounts[3].destination", "required field is missing"),
        ["idmapped mount with an empty range"] = (s => s.Mounts![0].UidMappings = [new LinuxIdMapping { Size = 0 }], "$.mounts[0].uidMappings[0].size", "expected a size greater than zero, got 0"),
        ["hook path relative"] = (s => s.Hooks = new LifecycleHooks { Poststop = [new Hook { Path = "/bin/true" }, new Hook { Path = "bin/true" }] }, "$.hooks.poststop[1].path", "expected an absolute path, got \"bin/true\""),
        ["hook path missing"] = (s => s.Hooks = new LifecycleHooks { CreateRuntime = [new Hook()] }, "$.hooks.createRuntime[0].path", "required field is missing"),
        ["hook timeout zero"] = (s => s.Hooks = new LifecycleHooks { Prestart = [new Hook { Path = "/bin/true", Timeout = 0 }] }, "$.hooks.prestart[0].timeout", "expected a number of seconds greater than zero, got 0"),
        ["annotation key empty"] = (s => s.Annotations = new() { [""] = "x" }, "$.annotations['']", "an annotation key is empty"),
        ["namespace type unknown"] = (s => Add(s, "foo"), "$.linux.namespaces[5].type", "expected one of cgroup, ipc, mount, network, pid, time, user, uts, got \"foo\""),
        ["namespace type missing"] = (s => Add(s, ""), "$.linux.namespaces[5].type", "required field is missing"),
        ["namespace listed twice"] = (s => Add(s, "pid", "/proc/1/ns/pid"), "$.linux.namespaces[5].type", "namespace \"pid\" is listed more than once"),
        ["namespace path relative"] = (s => s.Linux!.Namespaces![1].Path = "netns/a", "$.linux.namespaces[1].path", "expected an absolute path, got \"netns/a\""),
        ["uid mappings without user namespace"] = (s => s.Linux!.UidMappings = [new LinuxIdMapping { Size = 1 }], "$.linux.uidMappings", "uid/gid mappings need a user namespace"),
        ["new user namespace without gid mappings"] = (s => { Add(s, "user"); s.Linux!.UidMappings = [new LinuxIdMapping { HostId = 1000, Size = 1 }]; }, "$.linux.gidMappings", "a new user namespace needs both uidMappings and gidMappings"),
        ["mapping container id of (uid_t)-1"] = (s => UserNs(s, new LinuxIdMapping { ContainerId = 4294967295, HostId = 0, Size = 1 }), "$.linux.uidMappings[0].containerID", "uids and gids must be in range 0-2147483647, got 4294967295"),
        ["mapping host id past 2147483647"] = (s => UserNs(s, new LinuxIdMapping { ContainerId = 0, HostId = 2147483648, Size = 1 }), "$.linux.uidMappings[0].hostID", "uids and gids must be in range 0-2147483647, got 2147483648"),
        ["mapping range ending past 2147483647"] = (s => UserNs(s, new LinuxIdMapping { ContainerId = 0, HostId = 2147483000, Size = 65536 }), "$.linux.uidMappings[0].size", "the range 0..65535 -> 2147483000..2147548535 goes past 2147483647"),
        ["mapping container range ending past 2147483647"] = (s => UserNs(s, new LinuxIdMapping { ContainerId = 0, HostId = 0, Size = 4294967295 }), "$.linux.uidMappings[0].size", "goes past 2147483647, the largest uid or gid"),
        ["idmapped mount to (uid_t)-1"] = (s => s.Mounts![0].GidMappings = [new LinuxIdMapping { ContainerId = 0, HostId = 4294967295, Size = 1 }], "$.mounts[0].gidMappings[0].hostID", "uids and gids must be in range 0-2147483647"),
        ["uid of (uid_t)-1"] = (s => s.Process!.User.Uid = 4294967295, "$.process.user.uid", "uids and gids must be in range 0-2147483647, got 4294967295"),
        ["gid past 2147483647"] = (s => s.Process!.User.Gid = 2147483648, "$.process.user.gid", "uids and gids must be in range 0-2147483647, got 2147483648"),
        ["additional gid of (gid_t)-1"] = (s => s.Process!.User.AdditionalGids = [10, 4294967295], "$.process.user.additionalGids[1]", "got 4294967295"),
        ["gid= mount option of (gid_t)-1"] = (s => s.Mounts![2].Options![5] = "gid=4294967295", "$.mounts[2].options[5]", "uids and gids must be in range 0-2147483647, got 4294967295"),
        ["uid= mount option past 32 bits"] = (s => s.Mounts![1].Options!.Add("uid=99999999999"), "$.mounts[1].options[4]", "got 99999999999"),
        ["NUL in an argument"] = (s => s.Process!.Args = ["sh", "-c\0rm"], "$.process.args[1]", "expected a string without NUL bytes (a C string ends at the first), got \"-c\\u0000rm\""),
        ["NUL in cwd"] = (s => s.Process!.Cwd = "/tm\0p", "$.process.cwd", "without NUL bytes"),
        ["NUL in root path"] = (s => s.Root!.Path = "rootfs\0x", "$.root.path", "without NUL bytes"),
        ["NUL in hostname"] = (s => s.Hostname = "a\0b", "$.hostname", "without NUL bytes"),
        ["NUL in a mount destination"] = (s => s.Mounts![3].Destination = "/dev/shm\0/x", "$.mounts[3].destination", "without NUL bytes"),
        ["NUL in a mount source"] = (s => s.Mounts![3].Source = "shm\0", "$.mounts[3].source", "without NUL bytes"),
        ["NUL in a mount type"] = (s => s.Mounts![3].Type = "tmpfs\0", "$.mounts[3].type", "without NUL bytes"),
        ["NUL in a mount option"] = (s => s.Mounts![3].Options![3] = "mode=1777\0,exec", "$.mounts[3].options[3]", "without NUL bytes"),
        ["NUL in a hook path"] = (s => s.Hooks = new LifecycleHooks { Poststart = [new Hook { Path = "/bin/true\0x" }] }, "$.hooks.poststart[0].path", "without NUL bytes"),
        ["NUL in a hook argument"] = (s => s.Hooks = new LifecycleHooks { Prestart = [new Hook { Path = "/bin/sh", Args = ["sh", "-c", "a\0b"] }] }, "$.hooks.prestart[0].args[2]", "without NUL bytes"),
        ["NUL in a hook environment entry"] = (s => s.Hooks = new LifecycleHooks { Prestart = [new Hook { Path = "/bin/sh", Env = ["A=\0"] }] }, "$.hooks.prestart[0].env[0]", "without NUL bytes"),
        ["NUL in a namespace path"] = (s => s.Linux!.Namespaces![1].Path = "/proc/1/ns/net\0", "$.linux.namespaces[1].path", "without NUL bytes"),
        ["NUL in a sysctl name"] = (s => s.Linux!.Sysctl = new() { ["net.ipv4.ip_forward\0"] = "1" }, "$.linux.sysctl", "expected a sysctl name without NUL bytes"),
        ["NUL in a sysctl value"] = (s => s.Linux!.Sysctl = new() { ["net.ipv4.ip_forward"] = "1\0" }, "$.linux.sysctl['net.ipv4.ip_forward']", "without NUL bytes"),
        ["NUL in a device path"] = (s => s.Linux!.Devices = [new LinuxDevice { Type = "p", Path = "/dev/fifo\0" }], "$.linux.devices[0].path", "without NUL bytes"),
        ["NUL in a masked path"] = (s => s.Linux!.MaskedPaths![0] = "/proc/acpi\0", "$.linux.maskedPaths[0]", "without NUL bytes"),
        ["NUL in a read-only path"] = (s => s.Linux!.ReadonlyPaths![1] = "/proc/fs\0", "$.linux.readonlyPaths[1]", "without NUL bytes"),
        ["NUL in the cgroups path"] = (s => s.Linux!.CgroupsPath = "/a\0b", "$.linux.cgroupsPath", "without NUL bytes"),
        ["NUL in a seccomp syscall name"] = (s => Seccomp(s, "SCMP_ACT_ALLOW", Call("SCMP_ACT_ERRNO", "mount", "read\0x")), "$.linux.seccomp.syscalls[0].names[1]", "without NUL bytes"),
        ["NUL in a seccomp listener path"] = (s => Seccomp(s).ListenerPath = "/run/a.sock\0", "$.linux.seccomp.listenerPath", "without NUL bytes"),
        ["NUL in a cpuset"] = (s => s.Linux!.Resources!.Cpu = new LinuxCpu { Cpus = "0\01" }, "$.linux.resources.cpu.cpus", "without NUL bytes"),
        ["NUL in a hugepage size"] = (s => s.Linux!.Resources!.HugepageLimits = [new LinuxHugepageLimit { PageSize = "2MB\0" }], "$.linux.resources.hugepageLimits[0].pageSize", "without NUL bytes"),
        ["NUL in a unified cgroup file name"] = (s => s.Linux!.Resources!.Unified = new() { ["memory.high\0"] = "1" }, "$.linux.resources.unified", "expected a cgroup file name without NUL bytes"),
        ["NUL in a unified cgroup value"] = (s => s.Linux!.Resources!.Unified = new() { ["memory.high"] = "1\0" }, "$.linux.resources.unified['memory.high']", "without NUL bytes"),
        ["time offsets without time namespace"] = (s => s.Linux!.TimeOffsets = new() { ["monotonic"] = new LinuxTimeOffset { Secs = 5 } }, "$.linux.timeOffsets", "time offsets need a time namespace"),
        ["time offsets for a joined time namespace"] = (s => { Add(s, "time", "/proc/1/ns/time"); s.Linux!.TimeOffsets = new() { ["boottime"] = new LinuxTimeOffset() }; }, "$.linux.timeOffsets", "cannot be set on an existing time namespace"),
        ["time offset for an unknown clock"] = (s => { Add(s, "time"); s.Linux!.TimeOffsets = new() { ["realtime"] = new LinuxTimeOffset() }; }, "$.linux.timeOffsets.realtime", "unknown clock \"realtime\"; expected monotonic or boottime"),
        ["time offset nanoseconds of a whole second"] = (s => { Add(s, "time"); s.Linux!.TimeOffsets = new() { ["monotonic"] = new LinuxTimeOffset { Nanosecs = 1_000_000_000 } }; }, "$.linux.timeOffsets.monotonic.nanosecs", "expected less than 1000000000"),
        ["ipc sysctl without ipc namespace"] = (s => { Remove(s, "ipc"); s.Linux!.Sysctl = new() { ["kernel.shmmax"] = "1" }; }, "$.linux.sysctl['kernel.shmmax']", "sysctl \"kernel.shmmax\" is not allowed in the host's ipc namespace"),
        ["mqueue sysctl without ipc namespace"] = (s => { Remove(s, "ipc"); s.Linux!.Sysctl = new() { ["fs.mqueue.msg_max"] = "1" }; }, "$.linux.sysctl['fs.mqueue.msg_max']", "not allowed in the host's ipc namespace"),
        ["net sysctl without network namespace"] = (s => { Remove(s, "network"); s.Linux!.Sysctl = new() { ["net.ipv4.ip_forward"] = "1" }; }, "$.linux.sysctl['net.ipv4.ip_forward']", "sysctl \"net.ipv4.ip_forward\" is not allowed in the host's network namespace"),
        ["slashed net sysctl without network namespace"] = (s => { Remove(s, "network"); s.Linux!.Sysctl = new() { ["net/ipv4/conf/eno2.100/rp_filter"] = "1" }; }, "$.linux.sysctl['net/ipv4/conf/eno2.100/rp_filter']", "sysctl \"net.ipv4.conf.eno2/100.rp_filter\""),
        ["kernel.hostname sysctl"] = (s => s.Linux!.Sysctl = new() { ["kernel.hostname"] = "x" }, "$.linux.sysctl['kernel.hostname']", "conflicts with the \"hostname\" field"),
        ["kernel.domainname sysctl without uts namespace"] = (s => { s.Hostname = null; Remove(s, "uts"); s.Linux!.Sysctl = new() { ["kernel.domainname"] = "x" }; }, "$.linux.sysctl['kernel.domainname']", "is not in a separate kernel namespace"),
        ["sysctl that is not namespaced"] = (s => s.Linux!.Sysctl = new() { ["vm.swappiness"] = "10" }, "$.linux.sysctl['vm.swappiness']", "sysctl \"vm.swappiness\" is not in a separate kernel namespace, so setting it would change the host"),
        ["device type unknown"] = (s => s.Linux!.Devices = [new LinuxDevice { Type = "x", Path = "/dev/x", Major = 1, Minor = 1 }], "$.linux.devices[0].type", "expected c (char), b (block), u (unbuffered char) or p (FIFO), got \"x\""),
        ["char device without major"] = (s => s.Linux!.Devices = [new LinuxDevice { Type = "c", Path = "/dev/fuse", Minor = 229 }], "$.linux.devices[0].major", "required field is missing or empty; expected the major number (required for type c)"),
        ["block device without minor"] = (s => s.Linux!.Devices = [new LinuxDevice { Type = "b", Path = "/dev/sda", Major = 8 }], "$.linux.devices[0].minor", "the minor number (required for type b)"),
        ["device number negative"] = (s => s.Linux!.Devices = [new LinuxDevice { Type = "c", Path = "/dev/x", Major = -1, Minor = 0 }], "$.linux.devices[0].major", "got -1"),
        ["device path relative"] = (s => s.Linux!.Devices = [new LinuxDevice { Type = "p", Path = "dev/fifo" }], "$.linux.devices[0].path", "expected an absolute path, got \"dev/fifo\""),
        ["device cgroup rule of unknown type"] = (s => s.Linux!.Resources!.Devices![0].Type = "p", "$.linux.resources.devices[0].type", "expected a (all), b (block) or c (char), got \"p\""),
        ["device cgroup rule with unknown access"] = (s => s.Linux!.Resources!.Devices![0].Access = "rwx", "$.linux.resources.devices[0].access", "expected a combination of r, w and m, got \"rwx\""),
        ["seccomp default action missing"] = (s => Seccomp(s, ""), "$.linux.seccomp.defaultAction", "required field is missing"),
        ["seccomp default action unknown"] = (s => Seccomp(s, "SCMP_ACT_PANIC"), "$.linux.seccomp.defaultAction", "expected a seccomp action: one of SCMP_ACT_ALLOW"),
        ["seccomp notify as default"] = (s => Seccomp(s, "SCMP_ACT_NOTIFY").ListenerPath = "/run/agent.sock", "$.linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action"),
        ["seccomp default errno for an action without errno"] = (s => Seccomp(s).DefaultErrnoRet = 1, "$.linux.seccomp.defaultErrnoRet", "the default action SCMP_ACT_ALLOW does not return an errno"),
        ["seccomp architecture unknown"] = (s => Seccomp(s).Architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"], "$.linux.seccomp.architectures[1]", "got \"SCMP_ARCH_Z80\""),
        ["seccomp flag unknown"] = (s => Seccomp(s).Flags = ["SECCOMP_FILTER_FLAG_FAST"], "$.linux.seccomp.flags[0]", "expected a seccomp filter flag"),
        ["seccomp listener metadata without listener path"] = (s => Seccomp(s).ListenerMetadata = "x", "$.linux.seccomp.listenerMetadata", "listenerMetadata is set but listenerPath is not"),
        ["seccomp rule without names"] = (s => Seccomp(s, "SCMP_ACT_ALLOW", Call("SCMP_ACT_ERRNO")), "$.linux.seccomp.syscalls[0].names", "expected at least one syscall name, got []"),
        ["seccomp rule action unknown"] = (s => Seccomp(s, "SCMP_ACT_ALLOW", Call("SCMP_ACT_ERRNO", "mount"), Call("ERRNO", "umount2")), "$.linux.seccomp.syscalls[1].action", "got \"ERRNO\""),
        ["seccomp rule errno for an action without errno"] = (s => Seccomp(s, "SCMP_ACT_ERRNO", new LinuxSyscall { Names = ["read"], Action = "SCMP_ACT_ALLOW", ErrnoRet = 1 }), "$.linux.seccomp.syscalls[0].errnoRet", "errnoRet is set but the action SCMP_ACT_ALLOW does not return an errno"),
        ["seccomp notify without listener path"] = (s => Seccomp(s, "SCMP_ACT_ALLOW", Call("SCMP_ACT_NOTIFY", "mknod")), "$.linux.seccomp.listenerPath", "$.linux.seccomp.syscalls[0] uses SCMP_ACT_NOTIFY but listenerPath is not set"),
        ["seccomp notify on write"] = (s => Seccomp(s, "SCMP_ACT_ALLOW", Call("SCMP_ACT_NOTIFY", "write")).ListenerPath = "/run/a.sock", "$.linux.seccomp.syscalls[0].names", "SCMP_ACT_NOTIFY cannot be used for write"),
        ["seccomp argument index past 5"] = (s => Seccomp(s, "SCMP_ACT_ALLOW", new LinuxSyscall { Names = ["ioctl"], Action = "SCMP_ACT_ERRNO", Args = [new LinuxSeccompArg { Index = 6, Op = "SCMP_CMP_EQ" }] }), "$.linux.seccomp.syscalls[0].args[0].index", "expected a syscall argument index from 0 to 5, got 6"),
        ["seccomp operator unknown"] = (s => Seccomp(s, "SCMP_ACT_ALLOW", new LinuxSyscall { Names = ["ioctl"], Action = "SCMP_ACT_ERRNO", Args = [new LinuxSeccompArg { Op = "SCMP_CMP_ABOUT" }] }), "$.linux.seccomp.syscalls[0].args[0].op", "expected a comparison operator: one of SCMP_CMP_EQ"),
        ["rootfs propagation unknown"] = (s => s.Linux!.RootfsPropagation = "bogus", "$.linux.rootfsPropagation", "expected a mount propagation: one of private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable, got \"bogus\""),
        ["masked path relative"] = (s => s.Linux!.MaskedPaths!.Add("proc/kmsg"), "$.linux.maskedPaths[10]", "expected an absolute path, got \"proc/kmsg\""),
        ["intelRdt closID with a slash"] = (s => s.Linux!.IntelRdt = new LinuxIntelRdt { ClosId = "../x" }, "$.linux.intelRdt.closID", "got \"../x\""),
        ["personality domain unknown"] = (s => s.Linux!.Personality = new LinuxPersonality { Domain = "LINUX64" }, "$.linux.personality.domain", "expected an execution domain: one of LINUX, LINUX32, got \"LINUX64\""),
        ["personality domain missing"] = (s => s.Linux!.Personality = new LinuxPersonality(), "$.linux.personality.domain", "required field is missing"),
        ["memory policy mode unknown"] = (s => s.Linux!.MemoryPolicy = new LinuxMemoryPolicy { Mode = "MPOL_FAST" }, "$.linux.memoryPolicy.mode", "got \"MPOL_FAST\""),
        ["memory policy nodes malformed"] = (s => s.Linux!.MemoryPolicy = new LinuxMemoryPolicy { Mode = "MPOL_BIND", Nodes = "0,,1" }, "$.linux.memoryPolicy.nodes", "expected a NUMA node list such as \"0-1,3\", got \"0,,1\""),
        ["memory policy nodes with MPOL_LOCAL"] = (s => s.Linux!.MemoryPolicy = new LinuxMemoryPolicy { Mode = "MPOL_LOCAL", Nodes = "0" }, "$.linux.memoryPolicy.nodes", "MPOL_LOCAL takes no nodes"),
        ["memory policy static and relative nodes"] = (s => s.Linux!.MemoryPolicy = new LinuxMemoryPolicy { Mode = "MPOL_BIND", Nodes = "0", Flags = ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"] }, "$.linux.memoryPolicy.flags", "exclude each other"),
        ["net devices without network namespace"] = (s => { Remove(s, "network"); s.Linux!.NetDevices = new() { ["eth1"] = new LinuxNetDevice() }; }, "$.linux.netDevices", "network devices can only be moved into a private network namespace"),
        ["net device renamed to an invalid name"] = (s => s.Linux!.NetDevices = new() { ["eth1"] = new LinuxNetDevice { Name = "a/b" } }, "$.linux.netDevices.eth1.name", "got \"a/b\""),
        ["net device host name too long"] = (s => s.Linux!.NetDevices = new() { ["abcdefghijklmnop"] = new LinuxNetDevice() }, "$.linux.netDevices.abcdefghijklmnop", "is not a valid interface name"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Each_semantic_rule_is_refused_with_the_json_path_of_the_offending_value(string rule)
    {
        var (breakIt, path, message) = Cases[rule];
        var spec = Base();
        SpecValidator.Validate(spec); // the base is valid, so the failure below is the rule's
        breakIt(spec);

        var e = Assert.Throws<SpecValidationException>(() => SpecValidator.Validate(spec, "config.json"));

        Assert.Equal(path, e.JsonPath);
        Assert.StartsWith($"config.json: {path}: ", e.Message);
        Assert.Contains(message, e.Message);
        Assert.NotNull(e.Expected);
    }

    [Fact]
    public void The_same_rules_apply_when_the_config_comes_from_json()
    {
        var json = Encoding.UTF8.GetString(SpecJson.Serialize(Base())).Replace("\"cwd\":\"/\"", "\"cwd\":\"work\"");

        var e = Assert.Throws<SpecValidationException>(() => SpecLoader.Parse(Encoding.UTF8.GetBytes(json), "/b/config.json"));

        Assert.Equal("/b/config.json: $.process.cwd: expected an absolute path, got \"work\"", e.Message);
    }

    [Fact]
    public void Ids_up_to_2147483647_are_valid_everywhere()
    {
        var spec = Base();
        spec.Process!.User = new User { Uid = 2147483647, Gid = 2147483647, AdditionalGids = [0, 2147483647] };
        spec.Mounts![1].Options!.Add("uid=2147483647");
        spec.Mounts[1].Options!.Add("gid=0");
        spec.Mounts[1].Options!.Add("uid=nobody"); // not a number: the filesystem's to judge
        UserNs(spec, new LinuxIdMapping { ContainerId = 2147418112, HostId = 2147418112, Size = 65536 });

        SpecValidator.Validate(spec);
    }

    [Fact]
    public void A_NUL_escaped_in_the_json_is_refused_naming_its_path_not_truncated()
    {
        var json = Encoding.UTF8.GetString(SpecJson.Serialize(Base())).Replace("\"args\":[\"sh\"]", "\"args\":[\"sh\",\"/tm\\u0000p\"]");
        Assert.Contains("\\u0000", json);

        var e = Assert.Throws<SpecValidationException>(() => SpecLoader.Parse(Encoding.UTF8.GetBytes(json), "/b/config.json"));
        Assert.Equal("/b/config.json: $.process.args[1]: expected a string without NUL bytes (a C string ends at the first), got \"/tm\\u0000p\"", e.Message);

        e = Assert.Throws<SpecValidationException>(() => SpecLoader.ParseProcess("{\"args\": [\"ls\"], \"cwd\": \"/tm\\u0000p\"}"u8, "process.json"));
        Assert.Equal("process.json: $.cwd: expected a string without NUL bytes (a C string ends at the first), got \"/tm\\u0000p\"", e.Message);
    }

    [Fact]
    public void A_resources_document_with_a_NUL_in_a_cgroup_file_name_is_refused()
    {
        var e = Assert.Throws<SpecValidationException>(() =>
            SpecLoader.ParseResources("{\"unified\": {\"memory.max\\u0000x\": \"max\"}}"u8, "resources.json"));

        Assert.Equal("resources.json: $.unified: expected a cgroup file name without NUL bytes, got \"memory.max\\u0000x\"", e.Message);
    }

    [Fact]
    public void An_exec_process_with_uid_of_minus_one_is_refused_naming_its_path()
    {
        var e = Assert.Throws<SpecValidationException>(() =>
            SpecLoader.ParseProcess("{\"args\": [\"id\"], \"cwd\": \"/\", \"user\": {\"uid\": 4294967295, \"gid\": 0}}"u8, "process.json"));

        Assert.Equal("process.json: $.user.uid: uids and gids must be in range 0-2147483647, got 4294967295", e.Message);
    }

    // The versions containerd writes: 1.0.2-dev (1.6), 1.1.0 (1.7), 1.2.1 (2.1), 1.3.0 (2.3).
    [Theory]
    [InlineData("1.0.2-dev")]
    [InlineData("1.1.0")]
    [InlineData("1.2.1")]
    [InlineData("1.3.0")]
    [InlineData("1.3.1+dev")]
    public void Every_ociVersion_containerd_writes_up_to_1_3_is_accepted(string version)
    {
        var spec = Base();
        spec.OciVersion = version;

        SpecValidator.Validate(spec);
    }

    [Fact]
    public void A_config_without_process_is_accepted_when_the_command_does_not_run_it()
    {
        var spec = Base();
        spec.Process = null;

        SpecValidator.Validate(spec, options: new SpecValidationOptions { RequireProcess = false });
    }

    [Fact]
    public void Exec_process_must_have_args_and_an_absolute_cwd()
    {
        var e = Assert.Throws<SpecValidationException>(() => SpecLoader.ParseProcess("""{"cwd": "/"}"""u8, "process.json"));
        Assert.Equal("process.json: $.args: expected a non-empty array (the command to run), got nothing", e.Message);

        e = Assert.Throws<SpecValidationException>(() => SpecLoader.ParseProcess("""{"args": ["ls"], "cwd": "."}"""u8, "process.json"));
        Assert.Equal("process.json: $.cwd: expected an absolute path, got \".\"", e.Message);
    }

    [Fact]
    public void Masked_and_read_only_paths_are_accepted_without_a_mount_namespace_as_crun_does()
    {
        var spec = Base();
        Remove(spec, "mount");
        Assert.NotEmpty(spec.Linux!.MaskedPaths!);
        Assert.NotEmpty(spec.Linux!.ReadonlyPaths!);

        SpecValidator.Validate(spec);
    }

    [Fact]
    public void Namespaced_sysctls_are_accepted_in_their_namespaces()
    {
        var spec = Base();
        spec.Linux!.Sysctl = new()
        {
            ["kernel.shmmax"] = "1", ["kernel.msgmnb"] = "1", ["kernel.sem"] = "1 2 3 4", ["fs.mqueue.queues_max"] = "1",
            ["net.ipv4.ip_forward"] = "1", ["net/ipv4/conf/eno2.100/rp_filter"] = "0", ["kernel.domainname"] = "example.org",
        };

        SpecValidator.Validate(spec);
    }

    [Fact]
    public void Net_sysctls_are_refused_in_a_joined_namespace_that_is_the_hosts()
    {
        var spec = Base();
        spec.Linux!.Namespaces!.Single(n => n.Type == "network").Path = "/proc/1/ns/net";
        spec.Linux.Sysctl = new() { ["net.core.somaxconn"] = "1024" };

        SpecValidator.Validate(spec, options: new SpecValidationOptions { IsHostNetworkNamespace = _ => false });
        var e = Assert.Throws<SpecValidationException>(() =>
            SpecValidator.Validate(spec, options: new SpecValidationOptions { IsHostNetworkNamespace = p => p == "/proc/1/ns/net" }));
        Assert.Contains("not allowed in the host's network namespace", e.Message);
    }

    [Fact]
    public void Unknown_but_well_formed_capabilities_are_ignored_with_a_warning_as_runc_does()
    {
        var spec = Base();
        spec.Process!.Capabilities!.Bounding!.Add("CAP_FUTURE_THING");
        var warnings = new List<string>();

        SpecValidator.Validate(spec, options: new SpecValidationOptions { Warn = warnings.Add });

        Assert.Equal("config.json: $.process.capabilities.bounding[3]: unknown capability \"CAP_FUTURE_THING\" ignored (this runtime knows CAP_CHOWN to CAP_CHECKPOINT_RESTORE)",
            Assert.Single(warnings));
    }

    [Fact]
    public void Every_capability_up_to_checkpoint_restore_is_known()
    {
        var spec = Base();
        spec.Process!.Capabilities!.Permitted = [.. KnownCapabilities.All];
        var warnings = new List<string>();

        SpecValidator.Validate(spec, options: new SpecValidationOptions { Warn = warnings.Add });

        Assert.Empty(warnings);
        Assert.True(KnownCapabilities.TryGetNumber("CAP_CHECKPOINT_RESTORE", out var n));
        Assert.Equal(40, n);
    }

    [Fact]
    public void Relative_mount_destinations_warn_and_become_absolute_as_in_runc_1_1()
    {
        var json = Encoding.UTF8.GetString(SpecJson.Serialize(Base())).Replace("\"destination\":\"/dev/mqueue\"", "\"destination\":\"dev/mqueue\"");
        var warnings = new List<string>();

        var spec = SpecLoader.Parse(Encoding.UTF8.GetBytes(json), "config.json", new SpecValidationOptions { Warn = warnings.Add });

        Assert.Equal("/dev/mqueue", spec.Mounts![4].Destination);
        Assert.Equal("config.json: $.mounts[4].destination: relative mount destination \"dev/mqueue\" is deprecated; using it as relative to /", Assert.Single(warnings));
    }

    [Fact]
    public void Personality_flags_are_refused_naming_the_path()
    {
        var spec = Base();
        spec.Linux!.Personality = new LinuxPersonality { Domain = "LINUX32", Flags = ["SHORT_INODE"] };

        var e = Assert.Throws<SpecValidationException>(() => SpecValidator.Validate(spec, "config.json"));

        Assert.Equal("$.linux.personality.flags", e.JsonPath);
    }

    [Fact]
    public void Settings_csrt_does_not_apply_are_each_named_in_a_warning()
    {
        var spec = Base();
        spec.Process!.ApparmorProfile = "cri-containerd.apparmor.d";
        spec.Process.SelinuxLabel = "system_u:system_r:container_t:s0";
        spec.Process.IoPriority = new IoPriority { Class = "IOPRIO_CLASS_BE", Priority = 4 };
        spec.Linux!.MountLabel = "system_u:object_r:container_file_t:s0";
        var warnings = new List<string>();

        SpecValidator.Validate(spec, options: new SpecValidationOptions { Warn = warnings.Add });

        Assert.Equal(
            ["$.process.apparmorProfile", "$.process.selinuxLabel", "$.process.ioPriority", "$.linux.mountLabel"],
            warnings.Select(w => w.Split(": ")[1]).ToArray());
        Assert.All(warnings, w => Assert.EndsWith("are not supported by csrt: ignored", w, StringComparison.Ordinal));
    }

    [Fact]
    public void A_joined_user_namespace_needs_no_mappings_and_a_new_one_with_both_is_valid()
    {
        var joined = Base();
        joined.Linux!.Namespaces!.Add(new LinuxNamespace { Type = "user", Path = "/proc/42/ns/user" });
        SpecValidator.Validate(joined);

        var rootless = DefaultSpec.Create(rootless: true, 1000, 1000);
        SpecValidator.Validate(rootless);
    }

    [Fact]
    public void Seccomp_with_notify_listener_errno_actions_and_masked_compare_is_valid()
    {
        var spec = Base();
        spec.Linux!.Seccomp = new LinuxSeccomp
        {
            DefaultAction = "SCMP_ACT_ERRNO", DefaultErrnoRet = 1, Architectures = ["SCMP_ARCH_X86_64"],
            Flags = ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"], ListenerPath = "/run/agent.sock", ListenerMetadata = "m",
            Syscalls =
            [
                new LinuxSyscall { Names = ["mknod"], Action = "SCMP_ACT_NOTIFY" },
                new LinuxSyscall { Names = ["clone3"], Action = "SCMP_ACT_ERRNO", ErrnoRet = 38 },
                new LinuxSyscall { Names = ["clone"], Action = "SCMP_ACT_ALLOW", Args = [new LinuxSeccompArg { Index = 0, Value = 2114060288, Op = "SCMP_CMP_MASKED_EQ" }] },
            ],
        };

        SpecValidator.Validate(spec);
    }

    [Fact]
    public void Fifo_devices_need_no_numbers()
    {
        var spec = Base();
        spec.Linux!.Devices = [new LinuxDevice { Type = "p", Path = "/dev/myfifo" }, new LinuxDevice { Type = "u", Path = "/dev/x", Major = 1, Minor = 3, FileMode = 438 }];

        SpecValidator.Validate(spec);
    }
}
