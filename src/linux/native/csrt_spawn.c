/*
 * csrt_spawn.c — the post-clone child path, and the start-up that runs the container init.
 *
 * Why C: a .NET process is multi-threaded from its first instruction, and a cloned child of it
 * must not run managed code (it can inherit a pending GC suspension that no thread will finish,
 * and then hangs). Like dotnet/runtime's pal_process.c and
 * runc's nsexec.c, the child here runs only async-signal-safe syscalls on memory the parent
 * prepared, and allocates nothing. The child either execs the runtime binary again as the
 * container init (which runs in C, csrt_init.c, and never starts .NET) or finishes an exec into
 * a running container with csrt_exec_final.
 *
 * Stages of csrt_spawn (runc names them 0:PARENT, 1:CHILD, 2:INIT):
 *   parent   block every signal, clone (or clone3 into a cgroup v2), restore the mask.
 *   child    become non-dumpable; reset signal handlers; setns into the given namespaces (user
 *            first, mnt last); unshare the new ones; wait for the parent (it writes uid/gid
 *            maps, time offsets); become root of a user namespace; clone again with
 *            CLONE_PARENT when the process must land in a pid or time namespace that only
 *            affects children.
 *   final    close every fd but the ones it needs, arrange the fd table, session and
 *            controlling tty, then execve.
 * Any failure writes {stage, errno} to the CLOEXEC error pipe and _exit(127)s.
 */
#define _GNU_SOURCE
#include "csrt_spawn.h"
#include "csrt_init.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <link.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
/* The kernel's _STK_LIM: a set-id exec lowers a larger soft RLIMIT_STACK to this. */
#define STACK_LIMIT_KEPT_BY_SETID_EXEC (8UL * 1024 * 1024)
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

/* The kernel's sigaction layout, used through the raw syscall so that signals glibc reserves
 * for itself (32, 33) are reset too. */
struct kernel_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

struct clone3_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
        set_tid, set_tid_size, cgroup;
};

static void report(int fd, int stage, int err)
{
    struct csrt_child_error e = { stage, err };
    if (fd >= 0) {
        ssize_t n;
        do {
            n = write(fd, &e, sizeof e);
        } while (n < 0 && errno == EINTR);
    }
}

static __attribute__((noreturn)) void fail(int fd, int stage, int err)
{
    report(fd, stage, err);
    _exit(127);
}

static int set_mask(uint64_t mask)
{
    return (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof mask);
}

/* all_handlers: also reset installed handlers (only safe when this is the only thread). In a
 * multi-threaded init only ignored signals are reset: execve resets handlers by itself, but an
 * ignored signal (.NET ignores SIGPIPE) would stay ignored in the user process. */
static void reset_signals(int all_handlers)
{
    for (int sig = 1; sig <= 64; sig++) {
        struct kernel_sigaction old;
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(uint64_t)) < 0)
            continue;
        if (old.handler == SIG_DFL || (!all_handlers && old.handler != SIG_IGN))
            continue;
        struct kernel_sigaction dfl = { SIG_DFL, 0, NULL, 0 };
        syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(uint64_t));
    }
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* close_range(lo, hi), or one close at a time up to a generous bound on kernels before 5.9. */
static void close_fds(unsigned lo, unsigned hi)
{
    if (syscall(SYS_close_range, lo, hi, 0) == 0)
        return;
    for (unsigned fd = lo; fd <= hi && fd < 65536; fd++)
        close((int)fd);
}

/* Closes every fd but the n in keep (any order, duplicates and negatives allowed). */
static void close_all_but(int *keep, int n)
{
    for (int i = 1; i < n; i++) /* insertion sort: no allocation, at most CSRT_MAX_FDS + 2 */
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned lo = 0;
    for (int i = 0; i < n; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < lo)
            continue;
        if ((unsigned)keep[i] > lo)
            close_fds(lo, (unsigned)keep[i] - 1);
        lo = (unsigned)keep[i] + 1;
    }
    close_fds(lo, ~0U);
}

/*
 * Apply the fd table. First every fd the child does not need is closed (not merely marked
 * CLOEXEC: the parent's descriptors have no business in the container, even until execve), so
 * the copies made next land just above the targets whatever numbers the parent's fds had: a
 * parent holding more fds than the child's RLIMIT_NOFILE (set by the parent before this) must
 * not make F_DUPFD fail. Then every src is copied above every dst (so no dup2 clobbers a src
 * still needed) and dup2'd into place, and everything but the targets, err_fd and exec_fd is
 * closed. *err_fd is only replaced once its copy exists: a failure can always be reported.
 */
static int setup_fds(const struct csrt_fd_map *fds, int count, int *err_fd, int *exec_fd)
{
    int keep[CSRT_MAX_FDS + 2];
    int tmp[CSRT_MAX_FDS];
    int max_dst = -1, n = 0;
    if (count > CSRT_MAX_FDS)
        return -E2BIG;
    for (int i = 0; i < count; i++) {
        keep[n++] = fds[i].src;
        if (fds[i].dst > max_dst)
            max_dst = fds[i].dst;
    }
    keep[n++] = *err_fd;
    keep[n++] = *exec_fd;
    close_all_but(keep, n);

    int floor = max_dst + 1;
    if (*err_fd >= 0) {
        int fd = fcntl(*err_fd, F_DUPFD_CLOEXEC, floor);
        if (fd < 0)
            return -errno;
        *err_fd = fd;
    }
    if (*exec_fd >= 0) {
        int fd = fcntl(*exec_fd, F_DUPFD_CLOEXEC, floor);
        if (fd < 0)
            return -errno;
        *exec_fd = fd;
    }
    for (int i = 0; i < count; i++) {
        tmp[i] = fcntl(fds[i].src, F_DUPFD_CLOEXEC, floor);
        if (tmp[i] < 0)
            return -errno;
    }
    for (int i = 0; i < count; i++) {
        int r;
        do {
            r = dup2(tmp[i], fds[i].dst);
        } while (r < 0 && errno == EINTR);
        if (r < 0)
            return -errno;
    }
    n = 0;
    for (int i = 0; i < count; i++)
        keep[n++] = fds[i].dst;
    keep[n++] = *err_fd;
    keep[n++] = *exec_fd;
    close_all_but(keep, n);
    return 0;
}

static int apply_seccomp(const struct csrt_exec_plan *p)
{
    struct sock_fprog prog = { (unsigned short)p->seccomp_len, (struct sock_filter *)p->seccomp_filter };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) < 0)
        return -errno;
    return 0;
}

/* execvpe without allocation: PATH comes from the process's own environment, as runc does. */
static int exec_search(const char *file, char *const *argv, char *const *envp)
{
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return -errno;
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) {
            path = *e + 5;
            break;
        }
    size_t flen = strlen(file);
    int seen_eacces = 0, last = ENOENT;
    char buf[4096];
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        if (dlen + flen + 2 <= sizeof buf) {
            if (dlen == 0) {
                memcpy(buf, file, flen + 1); /* empty entry = current directory */
            } else {
                memcpy(buf, p, dlen);
                buf[dlen] = '/';
                memcpy(buf + dlen + 1, file, flen + 1);
            }
            execve(buf, argv, envp);
            last = errno;
            if (last == EACCES)
                seen_eacces = 1;
            else if (last != ENOENT && last != ENOTDIR && last != ESTALE && last != ENODEV && last != ETIMEDOUT)
                return -last; /* found but not executable: stop, as execvp does */
        }
        if (*end == '\0')
            break;
        p = end;
    }
    return -(seen_eacces ? EACCES : last);
}

int32_t csrt_exec_final(const struct csrt_exec_plan *p, int32_t *stage)
{
#define STEP(s, expr)                                                                                  \
    do {                                                                                               \
        if ((expr) < 0) {                                                                              \
            *stage = (s);                                                                              \
            return -errno;                                                                             \
        }                                                                                              \
    } while (0)
    int r;
    if (p->personality >= 0)
        STEP(CSRT_STAGE_PERSONALITY, personality((unsigned long)p->personality));
    if (p->umask >= 0)
        umask((mode_t)p->umask);
    /* Without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes in while we still have it
     * (runc does the same); with no_new_privs it goes last, filtering as little of our own
     * set-up as possible. */
    if (p->seccomp_filter && !p->no_new_privs && (r = apply_seccomp(p)) < 0) {
        *stage = CSRT_STAGE_SECCOMP;
        return r;
    }
    if (p->set_caps) {
        STEP(CSRT_STAGE_CAPS, prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
        for (int cap = 0; cap <= p->last_cap && cap < 64; cap++)
            if (!(p->cap_bounding & (1ULL << cap)))
                STEP(CSRT_STAGE_BOUNDING, prctl(PR_CAPBSET_DROP, cap, 0, 0, 0));
    }
    if (p->set_ids) {
        /* Raw syscalls: per thread, unlike glibc's wrappers which signal every thread. */
        if (p->ngroups >= 0)
            STEP(CSRT_STAGE_GROUPS, syscall(SYS_setgroups, (size_t)p->ngroups, p->groups));
        STEP(CSRT_STAGE_GID, syscall(SYS_setresgid, p->gid, p->gid, p->gid));
        STEP(CSRT_STAGE_UID, syscall(SYS_setresuid, p->uid, p->uid, p->uid));
    }
    if (p->set_caps) {
        struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct data[2];
        data[0].effective = (uint32_t)p->cap_effective;
        data[1].effective = (uint32_t)(p->cap_effective >> 32);
        data[0].permitted = (uint32_t)p->cap_permitted;
        data[1].permitted = (uint32_t)(p->cap_permitted >> 32);
        data[0].inheritable = (uint32_t)p->cap_inheritable;
        data[1].inheritable = (uint32_t)(p->cap_inheritable >> 32);
        STEP(CSRT_STAGE_CAPS, prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0));
        STEP(CSRT_STAGE_CAPS, syscall(SYS_capset, &hdr, data));
        STEP(CSRT_STAGE_AMBIENT, prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
        /* The kernel only raises an ambient capability that is also permitted and inheritable;
         * runc ignores the others (its default spec asks for ambient caps it does not make
         * inheritable), and so do we. */
        for (int cap = 0; cap <= p->last_cap && cap < 64; cap++)
            if (p->cap_ambient & (1ULL << cap) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 &&
                errno != EPERM && errno != EINVAL) {
                *stage = CSRT_STAGE_AMBIENT;
                return -errno;
            }
    }
    if (p->cwd) {
        char where[4096];
        STEP(CSRT_STAGE_CWD, chdir(p->cwd));
        /* A cwd reached through a leaked fd of the host (/proc/self/fd/N) lies outside our root;
         * the kernel then reports it as "(unreachable)/…". Refuse it (CVE-2024-21626). */
        long n = syscall(SYS_getcwd, where, sizeof where);
        if (n < 0 || where[0] != '/') {
            *stage = CSRT_STAGE_CWD;
            return n < 0 ? -errno : -ENOENT;
        }
    }
    if (p->no_new_privs)
        STEP(CSRT_STAGE_NO_NEW_PRIVS, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    if (p->seccomp_filter && p->no_new_privs && (r = apply_seccomp(p)) < 0) {
        *stage = CSRT_STAGE_SECCOMP;
        return r;
    }
    reset_signals(0);
    set_mask(0);
    r = exec_search(p->path, p->argv, p->envp);
    *stage = CSRT_STAGE_EXEC;
    return r;
#undef STEP
}

static __attribute__((noreturn)) void child(const struct csrt_spawn_request *req)
{
    int err_fd = req->err_fd;
    int exec_fd = req->exec_fd;

    /* First of all: until the user program's execve (which resets it) no process may open this
     * one's /proc files, above all its fds, which are the runtime's (CVE-2016-9962). The cgroup
     * joins and setns below put it within reach of the container's processes. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        fail(err_fd, CSRT_STAGE_DUMPABLE, errno);

    /* Every signal is blocked (the parent did it before clone); drop the .NET handlers so none
     * can ever run in this copy of the process. */
    reset_signals(1);
    if (req->sync_peer_fd >= 0)
        close(req->sync_peer_fd);
    if (req->parent_death_signal > 0 && prctl(PR_SET_PDEATHSIG, req->parent_death_signal, 0, 0, 0) < 0)
        fail(err_fd, CSRT_STAGE_PDEATHSIG, errno);

    /* Join the container's cgroup v1 hierarchies as this (still single) thread: "0" in "tasks"
     * moves the writer alone and takes none of the global lock that moving a process by pid
     * (cgroup.procs) takes, whose writer waits for an RCU grace period. */
    for (int i = 0; i < req->cgroup_task_count; i++) {
        ssize_t n;
        do {
            n = write(req->cgroup_task_fds[i], "0", 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1)
            fail(err_fd, CSRT_STAGE_CGROUP, n < 0 ? errno : EIO);
    }

    for (int i = 0; i < req->join_count; i++)
        if (setns(req->join_fds[i], req->join_types[i]) < 0)
            fail(err_fd, CSRT_STAGE_SETNS, errno);

    if (req->unshare_flags && unshare((int)req->unshare_flags) < 0)
        fail(err_fd, CSRT_STAGE_UNSHARE, errno);

    if (req->sync_fd >= 0) {
        /* Tell the parent the new namespaces exist (it can only write uid/gid maps and time
         * offsets after the unshare), then wait until it has. A parent that does not need to
         * know may have released us and closed its end already: EPIPE here is fine, its byte
         * is still there to read; a dead parent shows as EOF below. */
        char c = 'u';
        ssize_t n;
        if (req->dumpable_at_sync && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
            fail(err_fd, CSRT_STAGE_DUMPABLE, errno);
        do {
            n = send(req->sync_fd, &c, 1, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        n = read_full(req->sync_fd, &c, 1);
        if (n != 1)
            fail(err_fd, CSRT_STAGE_SYNC, n == 0 ? EPIPE : errno);
        close(req->sync_fd);
        if (req->dumpable_at_sync && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
            fail(err_fd, CSRT_STAGE_DUMPABLE, errno);
    }

    if (req->become_root) {
        if (syscall(SYS_setresgid, 0, 0, 0) < 0)
            fail(err_fd, CSRT_STAGE_GID, errno);
        if (syscall(SYS_setresuid, 0, 0, 0) < 0)
            fail(err_fd, CSRT_STAGE_UID, errno);
    }

    if (req->second_clone) {
        /* setns/unshare of pid and time namespaces only affect children. CLONE_PARENT makes the
         * new process a child of our parent (the runtime), which can then wait for it. */
        pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0);
        if (pid < 0)
            fail(err_fd, CSRT_STAGE_CLONE_PARENT, errno);
        if (pid > 0) {
            int32_t v = pid;
            ssize_t n;
            do {
                n = write(req->pid_fd, &v, sizeof v);
            } while (n < 0 && errno == EINTR);
            _exit(n == sizeof v ? 0 : 127);
        }
    }

    int r = setup_fds(req->fds, req->fd_count, &err_fd, &exec_fd);
    if (r < 0)
        fail(err_fd, CSRT_STAGE_FDS, -r);
    if (req->setsid && setsid() < 0)
        fail(err_fd, CSRT_STAGE_SETSID, errno);
    if (req->ctty_fd >= 0 && ioctl(req->ctty_fd, TIOCSCTTY, 0) < 0)
        fail(err_fd, CSRT_STAGE_CTTY, errno);

    if (req->plan) {
        struct csrt_exec_plan plan = *req->plan;
        int32_t stage = CSRT_STAGE_EXEC;
        plan.err_fd = err_fd;
        r = csrt_exec_final(&plan, &stage);
        fail(err_fd, stage, -r);
    }
    reset_signals(1);
    set_mask(0);
    if (exec_fd >= 0) {
        /* execve makes a process dumpable again unless its real and effective ids differ: run
         * the init's first instructions (the loader, before csrt_start below) that way too. Such
         * an exec also lowers a soft RLIMIT_STACK above the kernel's _STK_LIM (8 MiB) to it for
         * good, which the container's process would inherit: with such a limit, csrt_start alone
         * makes the init non-dumpable. */
        struct rlimit stack;
        if (req->nondumpable_exec && getrlimit(RLIMIT_STACK, &stack) == 0 && stack.rlim_cur <= STACK_LIMIT_KEPT_BY_SETID_EXEC &&
            syscall(SYS_setresuid, CSRT_INIT_EXEC_RUID, 0, 0) < 0)
            fail(err_fd, CSRT_STAGE_UID, errno);
        syscall(SYS_execveat, exec_fd, "", req->argv, req->envp, AT_EMPTY_PATH);
    } else
        execve(req->exec_path, req->argv, req->envp);
    fail(err_fd, CSRT_STAGE_EXEC, errno);
}

int32_t csrt_spawn(const struct csrt_spawn_request *req)
{
    uint64_t all = ~0ULL, old = 0;
    long pid;
    int err = 0;

    if (req->join_count > CSRT_MAX_JOINS || req->fd_count > CSRT_MAX_FDS)
        return -E2BIG;
    /* Blocked from before clone until the child has reset every handler, so no .NET signal
     * handler can run in the child. Raw syscall: glibc would keep its own two signals open. */
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all);
    if (req->cgroup_fd >= 0) {
        struct clone3_args args;
        memset(&args, 0, sizeof args);
        args.flags = req->clone_flags | CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t)req->cgroup_fd;
        pid = syscall(SYS_clone3, &args, sizeof args);
    } else {
        pid = syscall(SYS_clone, (unsigned long)(req->clone_flags | SIGCHLD), NULL, NULL, NULL, 0);
    }
    if (pid == 0)
        child(req);
    if (pid < 0)
        err = errno;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
    return pid < 0 ? -err : (int32_t)pid;
}

/*
 * Start-up of both runtime executables, before the .NET runtime (glibc passes argc, argv and envp
 * to constructors). A container init (`<binary> init`, inside the container's namespaces) turns
 * non-dumpable at once, as every child of csrt_spawn was until its execve: the init holds the
 * sync socket, exec.fifo and the console socket. When csrt_spawn exec'd it with the real uid
 * CSRT_INIT_EXEC_RUID (non-dumpable from the kernel's side already), the real uid becomes 0 again.
 * Then the init runs in C (csrt_init_main, which never returns): the .NET runtime never starts in
 * the container.
 */
static __attribute__((noreturn)) void die_at_start(const char *msg, size_t len)
{
    ssize_t n = write(2, msg, len);
    (void)n;
    _exit(127);
}

__attribute__((constructor(101))) static void csrt_start(int argc, char **argv, char **envp)
{
    static const char dumpable[] = "csrt init: prctl(PR_SET_DUMPABLE, 0) failed\n";
    static const char uid[] = "csrt init: setresuid(0, 0, 0) after a non-dumpable exec failed\n";
    (void)envp;
    if (argc < 2 || !argv[1] || strcmp(argv[1], "init") != 0)
        return;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        die_at_start(dumpable, sizeof dumpable - 1);
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) == 0 && r == CSRT_INIT_EXEC_RUID && e == 0 && s == 0 &&
        syscall(SYS_setresuid, 0, 0, 0) < 0)
        die_at_start(uid, sizeof uid - 1);
    csrt_init_main(argc, argv, envp);
}
