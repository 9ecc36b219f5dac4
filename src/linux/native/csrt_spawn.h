/*
 * csrt_spawn.h — the contract between C# (Csrt.Linux.Spawn) and the post-clone child path.
 *
 * Every struct here has a twin in src/linux/Csrt.Linux/Native/SpawnStructs.cs; the unit test
 * NativeLayoutTests compiles a probe against this header and compares sizes and offsets.
 * All fields are fixed-width so the layout is the same under any compiler flags.
 */
#ifndef CSRT_SPAWN_H
#define CSRT_SPAWN_H

#include <stdint.h>

#define CSRT_MAX_FDS 256
#define CSRT_MAX_JOINS 16

/* Where the child failed; sent with errno down the error pipe. */
enum csrt_stage {
    CSRT_STAGE_NONE = 0,
    CSRT_STAGE_SETNS = 1,
    CSRT_STAGE_SYNC = 2,
    CSRT_STAGE_UNSHARE = 3,
    CSRT_STAGE_CLONE_PARENT = 4,
    CSRT_STAGE_FDS = 5,
    CSRT_STAGE_SETSID = 6,
    CSRT_STAGE_CTTY = 7,
    CSRT_STAGE_BOUNDING = 8,
    CSRT_STAGE_GROUPS = 9,
    CSRT_STAGE_GID = 10,
    CSRT_STAGE_UID = 11,
    CSRT_STAGE_CAPS = 12,
    CSRT_STAGE_AMBIENT = 13,
    CSRT_STAGE_NO_NEW_PRIVS = 14,
    CSRT_STAGE_SECCOMP = 15,
    CSRT_STAGE_CWD = 16,
    CSRT_STAGE_EXEC = 17,
    CSRT_STAGE_PERSONALITY = 18,
    CSRT_STAGE_CLONE = 19,
    CSRT_STAGE_CGROUP = 20,
    CSRT_STAGE_DUMPABLE = 21,
    CSRT_STAGE_PDEATHSIG = 22,
};

/* The real uid a child gets right before it execs the runtime's init when the request asks for
 * nondumpable_exec: with a real uid other than the effective one (0) the kernel makes the new
 * image non-dumpable at execve, so no process of the container can open the init's /proc files
 * (its fds) before the init's first instruction. No validated config can use it (uids end at
 * 2147483647), and the runtime's constructor (csrt_spawn.c) puts the real uid back to 0. */
#define CSRT_INIT_EXEC_RUID 4294967294U

/* The report written to the error pipe when a step fails: stage, then errno. */
struct csrt_child_error {
    int32_t stage;
    int32_t err;
};

/* One entry of the child's fd table: dup2(src, dst). src == dst clears CLOEXEC. */
struct csrt_fd_map {
    int32_t src;
    int32_t dst;
};

/*
 * The per-thread finishing sequence before execve of a user process (csrt_exec_final).
 * Used by the container init (after mounts and pivot_root) and by exec (in the child).
 */
struct csrt_exec_plan {
    const char *path;            /* executable; without '/' it is searched in PATH from envp */
    char *const *argv;
    char *const *envp;
    const char *cwd;             /* NULL: keep */
    const uint32_t *groups;      /* supplementary groups, used when set_ids */
    uint64_t cap_bounding;       /* capability sets as bit masks, used when set_caps */
    uint64_t cap_effective;
    uint64_t cap_permitted;
    uint64_t cap_inheritable;
    uint64_t cap_ambient;
    const void *seccomp_filter;  /* struct sock_filter[], NULL: none */
    uint32_t seccomp_len;        /* number of instructions */
    uint32_t seccomp_flags;      /* SECCOMP_FILTER_FLAG_* */
    uint32_t uid;
    uint32_t gid;
    int32_t ngroups;
    int32_t set_ids;             /* 1: setgroups/setresgid/setresuid */
    int32_t set_caps;            /* 1: apply the five capability sets */
    int32_t no_new_privs;
    int32_t umask;               /* -1: keep */
    int32_t personality;         /* -1: keep */
    int32_t last_cap;            /* highest capability number the kernel knows */
    int32_t err_fd;              /* -1, or where csrt_child_error goes on failure */
};

/*
 * What csrt_spawn does between clone() and execve. C# fills it in native memory before the call;
 * the child reads it (its copy of the parent's memory) and allocates nothing.
 */
struct csrt_spawn_request {
    uint64_t clone_flags;        /* CLONE_NEW* given to the first clone (SIGCHLD is added) */
    uint64_t unshare_flags;      /* CLONE_NEW* created after the joins and the sync wait */
    const int32_t *join_fds;     /* namespace fds for setns, in order (user first, mnt last) */
    const int32_t *join_types;   /* CLONE_NEW* of each, 0 = any */
    const struct csrt_fd_map *fds;
    const char *exec_path;       /* execve path, used when exec_fd < 0 and plan == NULL */
    char *const *argv;
    char *const *envp;
    const struct csrt_exec_plan *plan;  /* non-NULL: run csrt_exec_final instead of a plain execve */
    int32_t join_count;
    int32_t fd_count;
    int32_t sync_fd;             /* -1, or a socket: after unshare write one byte, then read one (parent wrote id maps) */
    int32_t sync_peer_fd;        /* the parent's end of the sync pipe: closed first, so a dead parent means EOF */
    int32_t second_clone;        /* 1: clone(CLONE_PARENT) again so the process lands in the pid ns */
    int32_t pid_fd;              /* with second_clone: the intermediate writes the final pid here */
    int32_t err_fd;              /* CLOEXEC pipe for csrt_child_error */
    int32_t exec_fd;             /* >= 0: execveat(exec_fd, "", AT_EMPTY_PATH) */
    int32_t setsid;              /* 1: new session */
    int32_t ctty_fd;             /* >= 0 (a dst in fds): TIOCSCTTY on it after setsid */
    int32_t cgroup_fd;           /* >= 0: clone3 with CLONE_INTO_CGROUP (cgroup v2) */
    int32_t parent_death_signal; /* 0: none */
    int32_t become_root;         /* 1: setresgid/setresuid(0) after the sync (user namespaces) */
    int32_t cgroup_task_count;   /* entries of cgroup_task_fds */
    const int32_t *cgroup_task_fds; /* cgroup v1 "tasks" files open for writing: the child writes
                                     * "0" to each first thing, joining those cgroups itself */
    int32_t nondumpable_exec;    /* 1: execveat(exec_fd) with real uid CSRT_INIT_EXEC_RUID (no user
                                  * namespace; the runtime's init, whose constructor restores it),
                                  * unless the soft RLIMIT_STACK is above 8 MiB */
    int32_t dumpable_at_sync;    /* 1: dumpable while waiting at the sync point, so an unprivileged
                                  * parent (rootless) can open its /proc files to write the id maps */
};

/* Returns the child's pid (the intermediate's when second_clone), or -errno. */
int32_t csrt_spawn(const struct csrt_spawn_request *req);

/* Only returns on failure: -errno, with the stage in *stage. */
int32_t csrt_exec_final(const struct csrt_exec_plan *plan, int32_t *stage);

/* A range of this process's address space. */
struct csrt_range {
    uint64_t start;
    uint64_t length;
};

/* madvise(MADV_DONTNEED) over the whole pages of each range that lie in a non-writable PT_LOAD
 * segment of a loaded ELF object (dl_iterate_phdr: the headers in this process's memory; the vDSO
 * excluded), so that a wrong range (a faked /proc file) can never drop a page of the heap, a stack
 * or a data segment. Advice only: failures are ignored. Returns the bytes released. */
int64_t csrt_release(const struct csrt_range *ranges, int32_t count);

#endif
