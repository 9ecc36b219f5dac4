using Csrt.Runtime.Spec;

namespace Csrt.Runtime.Functions;

/// <summary>
/// The default seccomp profile of containerd's CRI (contrib/seccomp/seccomp_default.go, as of
/// containerd 1.6.20), as data,
/// for a process without capabilities (a function has none, so none of the profile's
/// capability-gated rules apply): the allow list, personality() with the listed domains only,
/// clone() without namespace flags, clone3 failing with ENOSYS so libcs fall back to clone, and
/// EPERM for everything else. ptrace is allowed as containerd allows it on kernels from 4.8, which
/// csrt always runs on (openat2 needs 5.6).
/// </summary>
public static class DefaultSeccompProfile
{
    private const ulong NamespaceCloneFlags =
        0x00020000 /* CLONE_NEWNS */ | 0x04000000 /* CLONE_NEWUTS */ | 0x08000000 /* CLONE_NEWIPC */ |
        0x10000000 /* CLONE_NEWUSER */ | 0x20000000 /* CLONE_NEWPID */ | 0x40000000 /* CLONE_NEWNET */ |
        0x02000000 /* CLONE_NEWCGROUP */;

    private const uint ENOSYS = 38;

    /// <summary>The allow list every architecture shares.</summary>
    private static readonly string[] Allowed =
    [
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset", "chdir", "chmod",
        "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
        "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
        "connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
        "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
        "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
        "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl",
        "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
        "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
        "futex_time64", "futex_waitv", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
        "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
        "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
        "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid",
        "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32", "getxattr",
        "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
        "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
        "io_setup", "io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32",
        "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek",
        "lsetxattr", "lstat", "lstat64", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore",
        "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
        "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
        "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
        "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
        "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev",
        "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
        "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
        "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
        "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
        "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
        "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
        "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl",
        "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
        "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
        "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid",
        "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
        "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat",
        "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
        "sigreturn", "socket", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64",
        "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time",
        "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
        "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
        "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink",
        "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid",
        "waitpid", "write", "writev",
        // kernel ≥ 4.8
        "ptrace",
    ];

    /// <summary>The personality(2) domains allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query.</summary>
    private static readonly ulong[] Personalities = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

    /// <summary>Per architecture: the libseccomp architectures and the extra allowed calls.</summary>
    private static readonly Dictionary<System.Runtime.InteropServices.Architecture, (string[] Arches, string[] Extra)> ByArchitecture = new()
    {
        [System.Runtime.InteropServices.Architecture.X64] = (["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], ["arch_prctl", "modify_ldt"]),
        [System.Runtime.InteropServices.Architecture.Arm64] = (["SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"],
            ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"]),
        [System.Runtime.InteropServices.Architecture.S390x] = (["SCMP_ARCH_S390", "SCMP_ARCH_S390X"],
            ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"]),
        [System.Runtime.InteropServices.Architecture.Ppc64le] = ([], ["sync_file_range2", "swapcontext"]),
        [System.Runtime.InteropServices.Architecture.RiscV64] = (["SCMP_ARCH_RISCV64"], ["riscv_flush_icache"]),
    };

    /// <summary>The profile for this machine's architecture, as a fresh spec object.</summary>
    public static LinuxSeccomp Create()
    {
        var arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture;
        var (arches, extra) = ByArchitecture.TryGetValue(arch, out var a) ? a : ([], []);
        var syscalls = new List<LinuxSyscall> { new() { Names = [.. Allowed], Action = "SCMP_ACT_ALLOW" } };
        foreach (var p in Personalities)
            syscalls.Add(new() { Names = ["personality"], Action = "SCMP_ACT_ALLOW", Args = [new() { Index = 0, Value = p, Op = "SCMP_CMP_EQ" }] });
        if (extra.Length > 0)
            syscalls.Add(new() { Names = [.. extra], Action = "SCMP_ACT_ALLOW" });
        // s390 passes the flags in the second argument of clone.
        var cloneFlagsArg = arch == System.Runtime.InteropServices.Architecture.S390x ? 1u : 0u;
        syscalls.Add(new()
        {
            Names = ["clone"], Action = "SCMP_ACT_ALLOW",
            Args = [new() { Index = cloneFlagsArg, Value = NamespaceCloneFlags, ValueTwo = 0, Op = "SCMP_CMP_MASKED_EQ" }],
        });
        syscalls.Add(new() { Names = ["clone3"], Action = "SCMP_ACT_ERRNO", ErrnoRet = ENOSYS });
        return new LinuxSeccomp { DefaultAction = "SCMP_ACT_ERRNO", Architectures = [.. arches], Syscalls = syscalls };
    }
}
