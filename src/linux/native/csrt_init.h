/*
 * csrt_init.h — the container init in C: the decoded InitPlan and the steps that execute it.
 *
 * The runtime (C#) builds the plan from config.json (InitPlanBuilder) and sends it on the sync
 * socket in InitPlanCodec's binary form. The runtime binary re-executed as `<binary> init` never
 * starts .NET: its constructor (csrt_start in csrt_spawn.c) calls csrt_init_main, which decodes
 * the plan (csrt_plan.c), builds the container (csrt_rootfs.c and csrt_init.c), reports Ready,
 * waits on exec.fifo after dropping its read-only pages (csrt_release.c) and execs the user
 * process (csrt_exec_final). No parsing of the OCI spec and no policy here: every decision is in
 * the plan; a failing step reports its stage, step index, call, path and errno, and the runtime
 * words the message (InitFailure in SyncChannel.cs).
 *
 * Strings are NUL-terminated UTF-8, NULL where the plan carries null. Lists are an array and a
 * count; a null list has count -1 and array NULL. String lists are also NULL-terminated.
 */
#ifndef CSRT_INIT_H
#define CSRT_INIT_H

#include <stdint.h>
#include <stddef.h>

/* ---- the plan (field for field InitPlan.cs, in InitPlanCodec's order) ---- */

struct csrt_strings {
    char **items;        /* NULL-terminated; NULL when count == -1 */
    int32_t count;
};

struct csrt_cgroup_source {
    char *name;          /* directory under the cgroup mount, e.g. "cpu,cpuacct" */
    char *host_path;
    char *options;       /* "" for cgroup2 */
    struct csrt_strings aliases;
};

struct csrt_mount_step {
    char *kind;          /* "normal", "bind", "cgroup-v1", "cgroup-v2" (MountKinds) */
    char *source;
    char *destination;
    char *type;
    uint64_t flags;
    uint64_t cleared_flags;
    uint64_t *propagation;
    int32_t propagation_count;
    uint64_t set_attributes;
    uint64_t clear_attributes;
    char *data;
    int32_t copy_up;
    struct csrt_cgroup_source *cgroup_sources;
    int32_t cgroup_source_count;   /* -1: null */
    int32_t mount_fd;              /* -1 or the detached id-mapped mount to attach */
};

struct csrt_device_node {
    char *path;
    uint32_t type;       /* 'c', 'b', 'p' */
    int64_t major;
    int64_t minor;
    uint32_t file_mode;
    uint32_t uid;
    uint32_t gid;
};

struct csrt_rlimit_step {
    int32_t resource;
    char *name;
    uint64_t soft;
    uint64_t hard;
};

struct csrt_hook_step {
    char *path;
    struct csrt_strings args;
    struct csrt_strings env;
    int32_t has_timeout;
    int32_t timeout_seconds;
};

struct csrt_process_plan {
    struct csrt_strings args;
    struct csrt_strings env;
    char *cwd;
    uint32_t uid;
    uint32_t gid;
    uint32_t *additional_gids;
    int32_t additional_gid_count;  /* -1: null */
    int32_t has_umask;
    int32_t umask;
    int32_t set_capabilities;
    uint64_t cap_bounding;
    uint64_t cap_effective;
    uint64_t cap_permitted;
    uint64_t cap_inheritable;
    uint64_t cap_ambient;
    int32_t no_new_privileges;
    uint8_t *seccomp;              /* struct sock_filter[], NULL: none */
    int32_t seccomp_length;        /* bytes; -1: null */
    uint32_t seccomp_flags;
    int32_t has_personality;
    int32_t personality;
    int32_t terminal;
    uint16_t console_height;
    uint16_t console_width;
};

struct csrt_init_plan {
    char *container_id;
    char *bundle;
    char *rootfs;
    char *rootfs_parent_mount;     /* NEW InitPlan.RootfsParentMount (after Rootfs): the mount point
                                    * holding the rootfs, made private before the bind (C# reads
                                    * mountinfo; the init's namespace is a copy of the runtime's) */
    int32_t rootfs_readonly;
    uint64_t root_propagation;
    uint64_t new_root_propagation;
    int32_t no_pivot;
    int32_t no_new_keyring;
    int32_t own_mount_namespace;
    int32_t in_user_namespace;
    int32_t new_cgroup_namespace;
    int32_t new_network_namespace;
    struct csrt_mount_step *mounts;
    int32_t mount_count;
    int32_t setup_dev;
    struct csrt_device_node *devices;
    int32_t device_count;
    char *hostname;
    char *domainname;
    char **sysctl_keys;            /* sysctl_count entries each; NULL when null */
    char **sysctl_values;
    int32_t sysctl_count;          /* -1: null */
    struct csrt_strings masked_paths;
    struct csrt_strings readonly_paths;
    struct csrt_rlimit_step *rlimits;
    int32_t rlimit_count;
    int32_t has_oom_score_adj;
    int32_t oom_score_adj;
    struct csrt_process_plan process;
    struct csrt_hook_step *create_container_hooks;
    int32_t create_container_hook_count;
    struct csrt_hook_step *start_container_hooks;
    int32_t start_container_hook_count;
    char *hook_state;
    int32_t preserve_fds;
    int32_t console_socket_fd;
    int32_t exec_fifo_fd;
};

/* Decodes InitPlanCodec's form (csrt_plan.c). Allocates with malloc (the init is a fresh process:
 * what it allocates lives until execve). Returns 0, or -EINVAL for a truncated or malformed plan
 * or one longer than its fields. */
int32_t csrt_plan_decode(const uint8_t *data, size_t length, struct csrt_init_plan *plan);

/* Test entry (csrt_plan_dump.c, in the shared library only): decodes data and writes a canonical
 * text form of the plan into buf. Returns its length, -EINVAL (decode), or -ENOSPC. */
int32_t csrt_plan_dump(const uint8_t *data, size_t length, char *buf, size_t size);

/* ---- failures ---- */

/* Which step failed; the runtime words the message from it (InitFailureReport in C#). */
enum csrt_init_stage {
    CSRT_INIT_PROTOCOL = 1,    /* sync socket, plan decode */
    CSRT_INIT_ROOT = 2,        /* propagation of "/", the rootfs bind, pivot_root / chroot, read-only root */
    CSRT_INIT_MOUNT = 3,       /* index: plan.mounts[index] */
    CSRT_INIT_DEVICE = 4,      /* index: plan.devices[index]; -1: the /dev symlinks and ptmx */
    CSRT_INIT_MASK = 5,        /* index: plan.masked_paths[index] */
    CSRT_INIT_READONLY = 6,    /* index: plan.readonly_paths[index] */
    CSRT_INIT_SYSCTL = 7,      /* index: the sysctl entry */
    CSRT_INIT_HOSTNAME = 8,
    CSRT_INIT_DOMAINNAME = 9,
    CSRT_INIT_CONSOLE = 10,
    CSRT_INIT_RLIMIT = 11,     /* index: plan.rlimits[index] */
    CSRT_INIT_OOM_SCORE = 12,
    CSRT_INIT_KEYRING = 13,
    CSRT_INIT_HOOK = 14,       /* index: plan.create_container_hooks[index]; status/detail: exit and output */
    CSRT_INIT_LOOKUP = 15,     /* process.args[0] not found (ENOENT), a directory (EISDIR), not executable (EACCES) */
    CSRT_INIT_CGROUPNS = 16,
    CSRT_INIT_CWD = 17,        /* making process.cwd */
};

/* Hook outcomes in csrt_init_failure.status (CSRT_INIT_HOOK): >= 0 a wait status, or these. */
#define CSRT_HOOK_TIMED_OUT (-2)

/* Filled by the step that failed. The init sends it as the payload of SyncMessageType.InitFailure:
 * int32 stage, int32 index, int32 err, int32 status, then call, path and detail, each
 * NUL-terminated (little-endian, the host's order: both ends are the same binary). */
struct csrt_init_failure {
    int32_t stage;
    int32_t index;
    int32_t err;               /* errno, 0 when none */
    int32_t status;            /* hooks: wait status or CSRT_HOOK_TIMED_OUT; else -1 */
    char call[32];             /* the C name of the call, e.g. "mount" */
    char path[4096];           /* the path or object it worked on, "" for none */
    char detail[4096];         /* hook output, or "" */
};

/* Records a failure; returns -1 so a step can `return csrt_fail(...)`. */
int32_t csrt_fail(struct csrt_init_failure *f, int32_t stage, int32_t index, const char *call,
                  const char *path, int32_t err);

/* ---- steps (each returns 0, or -1 with *f filled) ---- */

/* csrt_rootfs.c, in runc's order. */
int32_t csrt_rootfs_prepare(const struct csrt_init_plan *plan, struct csrt_init_failure *f);
int32_t csrt_rootfs_mounts(const struct csrt_init_plan *plan, struct csrt_init_failure *f);
int32_t csrt_rootfs_devices(const struct csrt_init_plan *plan, struct csrt_init_failure *f);
int32_t csrt_rootfs_make_cwd(const struct csrt_init_plan *plan, struct csrt_init_failure *f);
int32_t csrt_rootfs_switch(const struct csrt_init_plan *plan, struct csrt_init_failure *f);
int32_t csrt_rootfs_sysctls(const struct csrt_init_plan *plan, struct csrt_init_failure *f);
int32_t csrt_rootfs_finish(const struct csrt_init_plan *plan, struct csrt_init_failure *f);

/* csrt_release.c: csrt_release (csrt_spawn.h) over every non-writable PT_LOAD segment of every
 * loaded object: the init, which never ran .NET, drops its view of all its read-only pages before
 * it blocks on exec.fifo. Returns the bytes released. */
int64_t csrt_release_readonly_segments(void);

/* csrt_init.c: the whole init; never returns (execve of the user process, or _exit). Called by
 * csrt_start for argv[1] == "init" (this reference is what links csrt_init.o and everything it
 * uses into the executables from the static library). */
__attribute__((noreturn)) void csrt_init_main(int argc, char **argv, char **envp);

#endif
