/*
 * csrt_init.c — the container init: the runtime binary exec'd as `<binary> init` in the
 * container's namespaces, run by csrt_start (csrt_spawn.c) before the .NET runtime could start,
 * and never returning to it. It reads the InitPlan the runtime built from config.json, executes it
 * in runc's order, reports Ready, waits on exec.fifo and execs the user process:
 *
 *   plan      receive the Config message, decode it (csrt_plan.c)
 *   build     cgroup namespace, rootfs and mounts, devices, cwd (csrt_rootfs.c), hostname and
 *             domainname, HooksPlease/HooksDone (the runtime runs prestart and createRuntime
 *             hooks, and sends HOME when the process has none), createContainer hooks,
 *             pivot_root, console, sysctls, masked and read-only paths, rlimits, oom_score_adj,
 *             session keyring, the lookup of process.args[0]
 *   ready     Ready, then block opening exec.fifo after dropping the read-only pages
 *             (csrt_release.c); startContainer hooks; csrt_exec_final
 *
 * No decision is taken here: every one is in the plan. A failure before Ready goes to the
 * runtime as a struct csrt_init_failure (stage, index, call, path, errno), which the runtime words
 * as it words its own errors (InitFailure in SyncChannel.cs); after Ready nobody waits for a
 * report, so the init writes "csrt init: <message>" to the container's stderr and exits 127.
 */
#define _GNU_SOURCE
#include "csrt_init.h"
#include "csrt_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* The sync protocol's message types (SyncMessageType in SyncChannel.cs). */
enum {
    MSG_CONFIG = 1,
    MSG_PROBE = 2,
    MSG_PROBE_REPORT = 3,
    MSG_HOOKS_PLEASE = 4,
    MSG_HOOKS_DONE = 5,
    MSG_READY = 6,
    MSG_INIT_FAILURE = 8,
};

#define SYNC_FD_VARIABLE "_CSRT_SYNC_FD="

/* send_failure's layout is the struct's, read by InitFailureReport.Parse: four int32, then the texts. */
_Static_assert(offsetof(struct csrt_init_failure, call) == 16, "csrt_init_failure: four int32 before call");
#define MAX_MESSAGE (1 << 20)
#define HOOK_OUTPUT_MAX (16 * 1024)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = 0;
}

int32_t csrt_fail(struct csrt_init_failure *f, int32_t stage, int32_t index, const char *call,
                  const char *path, int32_t err)
{
    f->stage = stage;
    f->index = index;
    f->err = err;
    f->status = -1;
    copy_text(f->call, sizeof f->call, call);
    copy_text(f->path, sizeof f->path, path);
    f->detail[0] = 0;
    return -1;
}

/* ---- small helpers ---- */

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static int close_keep_errno(int fd)
{
    int e = errno;
    if (fd >= 0)
        close(fd);
    errno = e;
    return -1;
}

/* "call(path): ENAME (text)" as SyscallException words it, for the messages the init prints itself. */
static void describe(char *buf, size_t size, const char *call, const char *path, int err)
{
    const char *name = strerrorname_np(err);
    if (path && *path)
        snprintf(buf, size, "%s(%s): %s (%s)", call, path, name ? name : "?", strerror(err));
    else
        snprintf(buf, size, "%s: %s (%s)", call, name ? name : "?", strerror(err));
}

static __attribute__((noreturn)) void die_after_ready(const char *message)
{
    char line[8192];
    int n = snprintf(line, sizeof line, "csrt init: %s\n", message);
    write_all(2, line, n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    _exit(127);
}

/* ---- the sync socket ---- */

static int sync_send(int fd, uint8_t type, const void *payload, size_t len)
{
    struct iovec iov[2] = { { &type, 1 }, { (void *)payload, len } };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
    ssize_t n;
    do
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)(len + 1) ? 0 : -1;
}

/* The next message: its type, and its payload (malloc'd, NUL-terminated) in *payload. */
static int sync_receive(int fd, uint8_t *type, uint8_t **payload, size_t *len)
{
    char dummy;
    ssize_t n;
    do
        n = recv(fd, &dummy, 0, MSG_PEEK | MSG_TRUNC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if (n == 0 || n > MAX_MESSAGE) {
        errno = n == 0 ? EPIPE : EMSGSIZE;
        return -1;
    }
    uint8_t *buf = malloc((size_t)n + 1);
    if (!buf)
        return -1;
    ssize_t got;
    do
        got = recv(fd, buf, (size_t)n, 0);
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        free(buf);
        errno = got == 0 ? EPIPE : errno;
        return -1;
    }
    buf[got] = 0;
    *type = buf[0];
    *len = (size_t)got - 1;
    memmove(buf, buf + 1, (size_t)got); /* payload first, still NUL-terminated */
    *payload = buf;
    return 0;
}

/* The failure as InitFailure's payload: four int32, then call, path and detail, each NUL-terminated. */
static void send_failure(int fd, const struct csrt_init_failure *f)
{
    static char buf[16 + sizeof f->call + sizeof f->path + sizeof f->detail];
    int32_t head[4] = { f->stage, f->index, f->err, f->status };
    size_t at = sizeof head;
    memcpy(buf, head, sizeof head);
    for (const char *s = f->call;; s = s == f->call ? f->path : f->detail) {
        size_t n = strlen(s) + 1;
        memcpy(buf + at, s, n);
        at += n;
        if (s == f->detail)
            break;
    }
    if (sync_send(fd, MSG_INIT_FAILURE, buf, at) < 0) {
        /* The runtime is gone: stderr is all that is left. */
        char line[8192];
        describe(line, sizeof line, f->call, f->path, f->err);
        die_after_ready(line);
    }
}

/* ---- Probe (the child path's tests: an init spawned alone, with no container to build) ---- */

static __attribute__((noreturn)) void probe(int sync, const uint8_t *hostname, size_t len)
{
    struct csrt_init_failure f;
    char report[4 + HOST_NAME_MAX + 1];
    if (len > 0 && sethostname((const char *)hostname, len) < 0) {
        csrt_fail(&f, CSRT_INIT_HOSTNAME, -1, "sethostname", (const char *)hostname, errno);
        send_failure(sync, &f);
        _exit(1);
    }
    int32_t pid = getpid();
    memcpy(report, &pid, 4);
    if (gethostname(report + 4, HOST_NAME_MAX + 1) < 0)
        report[4] = 0;
    report[sizeof report - 1] = 0;
    sync_send(sync, MSG_PROBE_REPORT, report, 4 + strlen(report + 4));
    _exit(0);
}

/* ---- hooks ---- */

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* fork + execve of one createContainer or startContainer hook: the state JSON on its stdin, its
 * stdout and stderr collected (capped), bounded by its timeout, after which it is killed. Fills
 * *f (stage CSRT_INIT_HOOK): err for a hook that could not be started, else status (a wait status
 * or CSRT_HOOK_TIMED_OUT) and detail (the output). */
static int run_hook(const struct csrt_hook_step *h, int32_t index, const char *state, struct csrt_init_failure *f)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, report[2] = { -1, -1 };
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
        csrt_fail(f, CSRT_INIT_HOOK, index, "pipe2", h->path, errno);
        goto failed_early;
    }
    char *fallback[] = { h->path, NULL };
    char *const *argv = h->args.count > 0 ? h->args.items : fallback;
    pid_t pid = fork();
    if (pid < 0) {
        csrt_fail(f, CSRT_INIT_HOOK, index, "fork", h->path, errno);
        goto failed_early;
    }
    if (pid == 0) {
        /* Only stdio reaches the hook: the sync socket, exec.fifo and the rest stay here. */
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0)
            goto failed;
        if (report[1] != 3 && dup3(report[1], 3, O_CLOEXEC) < 0)
            goto failed;
        syscall(SYS_close_range, 4, ~0U, 0);
        signal(SIGPIPE, SIG_DFL);
        execve(h->path, argv, h->env.items);
    failed:;
        int e = errno;
        write_all(3, &e, sizeof e);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(report[1]);
    int exec_errno = 0;
    ssize_t n;
    do
        n = read(report[0], &exec_errno, sizeof exec_errno);
    while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == sizeof exec_errno) {
        close(in[1]);
        close(out[0]);
        waitpid(pid, NULL, 0);
        return csrt_fail(f, CSRT_INIT_HOOK, index, "execve", h->path, exec_errno);
    }

    /* A hook that never reads its stdin must not block us: the write end is non-blocking and
     * written between reads of the output. */
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    size_t state_len = strlen(state), written = 0;
    if (state_len == 0) {
        close(in[1]);
        in[1] = -1;
    }
    static char output[HOOK_OUTPUT_MAX + 1];
    size_t got = 0;
    int64_t deadline = h->has_timeout && h->timeout_seconds > 0 ? now_ms() + (int64_t)h->timeout_seconds * 1000 : -1;
    int timed_out = 0;
    for (;;) {
        struct pollfd p[2] = { { out[0], POLLIN, 0 }, { in[1], POLLOUT, 0 } };
        int wait = deadline < 0 ? -1 : (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0);
        int r = poll(p, in[1] >= 0 ? 2 : 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            timed_out = 1;
            break;
        }
        if (in[1] >= 0 && p[1].revents) {
            n = write(in[1], state + written, state_len - written);
            if (n > 0)
                written += (size_t)n;
            if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == state_len) {
                close(in[1]);
                in[1] = -1;
            }
        }
        if (p[0].revents) {
            char chunk[4096];
            n = read(out[0], chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; /* EOF: every copy of the write end is closed */
            size_t take = (size_t)n < HOOK_OUTPUT_MAX - got ? (size_t)n : HOOK_OUTPUT_MAX - got;
            memcpy(output + got, chunk, take);
            got += take;
        }
    }
    if (in[1] >= 0)
        close(in[1]);
    close(out[0]);
    signal(SIGPIPE, SIG_DFL);
    output[got] = 0;
    int status = 0;
    while (!timed_out) {
        pid_t w = waitpid(pid, &status, deadline < 0 ? 0 : WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            status = 0;
            break;
        }
        if (w == 0) {
            if (now_ms() >= deadline)
                timed_out = 1;
            else {
                struct timespec ms = { 0, 1000000 };
                nanosleep(&ms, NULL);
            }
        }
    }
    if (timed_out) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        status = CSRT_HOOK_TIMED_OUT;
    }
    if (status == 0)
        return 0;
    csrt_fail(f, CSRT_INIT_HOOK, index, "", h->path, 0);
    f->status = status;
    copy_text(f->detail, sizeof f->detail, output);
    return -1;
failed_early:
    for (int i = 0; i < 2; i++) {
        close_keep_errno(in[i]);
        close_keep_errno(out[i]);
        close_keep_errno(report[i]);
    }
    return -1;
}

/* The output as HookRunner shows it: trimmed of white space. */
static const char *trimmed(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

/* HookRunner's message for a hook that failed after Ready (startContainer). */
static void hook_message(char *buf, size_t size, const char *stage, const struct csrt_hook_step *h, struct csrt_init_failure *f)
{
    const char *out = trimmed(f->detail);
    const char *sep = *out ? ", output: " : "";
    if (f->err) {
        char what[4600];
        describe(what, sizeof what, f->call, f->path, f->err);
        snprintf(buf, size, "%s hook %s: %s", stage, h->path, what);
    } else if (f->status == CSRT_HOOK_TIMED_OUT) {
        snprintf(buf, size, "%s hook %s timed out after %d s%s%s", stage, h->path, h->timeout_seconds, sep, out);
    } else if (WIFSIGNALED(f->status)) {
        const char *sig = sigabbrev_np(WTERMSIG(f->status));
        snprintf(buf, size, "%s hook %s failed: killed by SIG%s%s%s", stage, h->path, sig ? sig : "?", sep, out);
    } else {
        snprintf(buf, size, "%s hook %s failed: exit status %d%s%s", stage, h->path, WEXITSTATUS(f->status), sep, out);
    }
}

/* ---- the console ---- */

/* A pty of the container's devpts: the master goes to the console socket, the peer becomes
 * /dev/console and, at exec, the process's stdio and controlling terminal. Returns the peer. */
static int setup_console(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    char name[128];
    if (plan->console_socket_fd < 0)
        return csrt_fail(f, CSRT_INIT_CONSOLE, -1, "", "", 0);
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return csrt_fail(f, CSRT_INIT_CONSOLE, -1, "open", "/dev/ptmx", errno);
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) {
        csrt_fail(f, CSRT_INIT_CONSOLE, -1, "unlockpt", "/dev/ptmx", errno);
        return close_keep_errno(master);
    }
    int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (peer < 0) {
        csrt_fail(f, CSRT_INIT_CONSOLE, -1, "ioctl(TIOCGPTPEER)", "/dev/ptmx", errno);
        return close_keep_errno(master);
    }
    int r = ptsname_r(master, name, sizeof name);
    if (r != 0) {
        csrt_fail(f, CSRT_INIT_CONSOLE, -1, "ptsname_r", "/dev/ptmx", r);
        goto failed;
    }
    if (plan->process.console_height > 0 || plan->process.console_width > 0) {
        struct winsize ws = { .ws_row = plan->process.console_height, .ws_col = plan->process.console_width };
        if (ioctl(peer, TIOCSWINSZ, &ws) < 0) {
            csrt_fail(f, CSRT_INIT_CONSOLE, -1, "ioctl(TIOCSWINSZ)", name, errno);
            goto failed;
        }
    }
    struct stat st;
    if (stat("/dev/console", &st) < 0) {
        int fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            csrt_fail(f, CSRT_INIT_CONSOLE, -1, "open", "/dev/console", errno);
            goto failed;
        }
        close(fd);
    }
    if (mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0) {
        csrt_fail(f, CSRT_INIT_CONSOLE, -1, "mount", "/dev/console", errno);
        goto failed;
    }
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = { name, strlen(name) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &master, sizeof master);
    ssize_t n;
    do
        n = sendmsg(plan->console_socket_fd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        csrt_fail(f, CSRT_INIT_CONSOLE, -1, "sendmsg", "the console socket", errno);
        goto failed;
    }
    close(master);
    return peer;
failed:
    close(master);
    return close_keep_errno(peer);
}

/* ---- process settings ---- */

static int apply_rlimits(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    for (int32_t i = 0; i < plan->rlimit_count; i++) {
        const struct csrt_rlimit_step *r = &plan->rlimits[i];
        struct rlimit l = { r->soft, r->hard };
        if (prlimit(0, (__rlimit_resource_t)r->resource, &l, NULL) < 0)
            return csrt_fail(f, CSRT_INIT_RLIMIT, i, "prlimit", r->name, errno);
    }
    return 0;
}

static int write_oom_score_adj(int32_t value, struct csrt_init_failure *f)
{
    char text[16];
    int len = snprintf(text, sizeof text, "%d", value);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return csrt_fail(f, CSRT_INIT_OOM_SCORE, -1, "open", "/proc/self/oom_score_adj", errno);
    ssize_t n;
    do
        n = write(fd, text, (size_t)len);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n != len)
        return csrt_fail(f, CSRT_INIT_OOM_SCORE, -1, "write", "/proc/self/oom_score_adj", n < 0 ? e : EIO);
    return 0;
}

/* A session keyring of the container's own, as runc makes ("_ses.<id>"); a kernel without keys,
 * or one that refuses it to this user namespace, leaves the inherited one. */
static int join_session_keyring(const char *id, struct csrt_init_failure *f)
{
    const long KEYCTL_JOIN_SESSION_KEYRING = 1, KEYCTL_SETPERM = 5;
    char name[512];
    snprintf(name, sizeof name, "_ses.%s", id);
    long key = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name, 0, 0, 0);
    if (key < 0) {
        if (errno == ENOSYS || errno == EACCES || errno == EPERM)
            return 0;
        return csrt_fail(f, CSRT_INIT_KEYRING, -1, "keyctl(KEYCTL_JOIN_SESSION_KEYRING)", name, errno);
    }
    /* possessor: all; user: view, read, search, link; group and other: none. */
    if (syscall(SYS_keyctl, KEYCTL_SETPERM, key, 0x3f1b0000L, 0, 0) < 0)
        return csrt_fail(f, CSRT_INIT_KEYRING, -1, "keyctl(KEYCTL_SETPERM)", name, errno);
    return 0;
}

static const char *env_value(const struct csrt_strings *env, const char *name)
{
    size_t n = strlen(name);
    const char *last = NULL;
    for (int32_t i = 0; i < env->count; i++)
        if (strncmp(env->items[i], name, n) == 0 && env->items[i][n] == '=')
            last = env->items[i] + n + 1;
    return last;
}

/* process.args[0] looked up as execvp will, in the container's root, so a missing program fails
 * `create` rather than the user process at `start` (ExecutableLookup.cs's rules): a name with a
 * '/' must be an executable file; another is searched in the process's PATH, skipping directories
 * we may not search. */
static int check_executable(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    const char *name = plan->process.args.count > 0 ? plan->process.args.items[0] : "";
    struct stat st;
    if (strchr(name, '/')) {
        if (stat(name, &st) < 0)
            return csrt_fail(f, CSRT_INIT_LOOKUP, -1, "stat", name, errno);
        if (S_ISDIR(st.st_mode))
            return csrt_fail(f, CSRT_INIT_LOOKUP, -1, "stat", name, EISDIR);
        if (!(st.st_mode & 0111))
            return csrt_fail(f, CSRT_INIT_LOOKUP, -1, "stat", name, EACCES);
        return 0;
    }
    const char *path = env_value(&plan->process.env, "PATH");
    if (!path)
        path = DEFAULT_PATH;
    char candidate[PATH_MAX];
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        int len = (int)(end - p);
        if (snprintf(candidate, sizeof candidate, "%.*s/%s", len ? len : 1, len ? p : ".", name) < (int)sizeof candidate &&
            stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
            return 0;
        if (*end == 0)
            break;
        p = end;
    }
    /* Not found: the path searched goes in path, ENOENT says "not in $PATH". */
    return csrt_fail(f, CSRT_INIT_LOOKUP, -1, "$PATH", path, ENOENT);
}

/* ---- the whole init ---- */

struct init_state {
    int sync;
    int proc_fd;        /* /proc/self/fd of the host's /proc, when the container mounts no /proc */
    int console;        /* the pty peer, -1 without a terminal */
    char *home;         /* "HOME=..." from HooksDone, or NULL */
    int last_cap;
    int setgroups_denied;
};

static int read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, buf, size - 1);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return 0;
}

static int has_proc_mount(const struct csrt_init_plan *plan)
{
    for (int32_t i = 0; i < plan->mount_count; i++)
        if (plan->mounts[i].type && strcmp(plan->mounts[i].type, "proc") == 0 && strcmp(plan->mounts[i].destination, "/proc") == 0)
            return 1;
    return 0;
}

/* Everything between the plan and Ready, in runc's order (see the top of the file). */
static int build(const struct csrt_init_plan *plan, struct init_state *s, struct csrt_init_failure *f)
{
    char text[64];
    umask(0);
    /* Read while the host's /proc is the one in sight. */
    s->last_cap = read_small("/proc/sys/kernel/cap_last_cap", text, sizeof text) == 0 ? atoi(text) : 40;
    s->setgroups_denied = plan->in_user_namespace && read_small("/proc/self/setgroups", text, sizeof text) == 0 &&
                          strncmp(text, "deny", 4) == 0;
    if (plan->new_cgroup_namespace && unshare(CLONE_NEWCGROUP) < 0)
        return csrt_fail(f, CSRT_INIT_CGROUPNS, -1, "unshare", "CLONE_NEWCGROUP", errno);
    /* exec.fifo is reopened for writing through /proc/self/fd after pivot_root: the container's
     * own /proc when it mounts one. Only without one is a handle on the host's /proc/self/fd
     * kept, because while the container waits in `created` a process exec'd into it with
     * CAP_SYS_PTRACE can follow /proc/1/fd/N of any directory fd we hold up to the host's /proc. */
    if (plan->exec_fifo_fd >= 0 && !has_proc_mount(plan)) {
        s->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->proc_fd < 0)
            return csrt_fail(f, CSRT_INIT_PROTOCOL, -1, "open", "/proc/self/fd", errno);
    }

    if (csrt_rootfs_prepare(plan, f) < 0 || csrt_rootfs_mounts(plan, f) < 0 || csrt_rootfs_devices(plan, f) < 0 ||
        csrt_rootfs_make_cwd(plan, f) < 0)
        return -1;
    if (plan->hostname && *plan->hostname && sethostname(plan->hostname, strlen(plan->hostname)) < 0)
        return csrt_fail(f, CSRT_INIT_HOSTNAME, -1, "sethostname", plan->hostname, errno);
    if (plan->domainname && *plan->domainname && setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
        return csrt_fail(f, CSRT_INIT_DOMAINNAME, -1, "setdomainname", plan->domainname, errno);

    /* prestart and createRuntime hooks run in the runtime's namespaces, now that the mounts
     * exist; the answer carries HOME when the process has none (the runtime read /etc/passwd). */
    uint8_t type = 0, *payload = NULL;
    size_t len = 0;
    if (sync_send(s->sync, MSG_HOOKS_PLEASE, NULL, 0) < 0)
        return csrt_fail(f, CSRT_INIT_PROTOCOL, -1, "sendmsg", "HooksPlease", errno);
    if (sync_receive(s->sync, &type, &payload, &len) < 0)
        return csrt_fail(f, CSRT_INIT_PROTOCOL, -1, "recv", "HooksDone", errno);
    if (type != MSG_HOOKS_DONE)
        return csrt_fail(f, CSRT_INIT_PROTOCOL, -1, "recv", "HooksDone", EPROTO);
    s->home = len > 0 ? (char *)payload : NULL;
    for (int32_t i = 0; i < plan->create_container_hook_count; i++)
        if (run_hook(&plan->create_container_hooks[i], i, plan->hook_state, f) < 0)
            return -1;

    if (csrt_rootfs_switch(plan, f) < 0)
        return -1;
    if (plan->process.terminal && (s->console = setup_console(plan, f)) < 0)
        return -1;
    if (csrt_rootfs_sysctls(plan, f) < 0 || csrt_rootfs_finish(plan, f) < 0)
        return -1;
    if (apply_rlimits(plan, f) < 0)
        return -1;
    if (plan->has_oom_score_adj && write_oom_score_adj(plan->oom_score_adj, f) < 0)
        return -1;
    if (!plan->no_new_keyring && join_session_keyring(plan->container_id, f) < 0)
        return -1;
    return check_executable(plan, f);
}

/* Blocks until `start` opens exec.fifo for reading, then tells it we are going. A created
 * container can wait for hours: while it does, the read-only pages mapped so far stay in the page
 * cache, shared, instead of in this process's RSS. */
static void wait_for_start(const struct csrt_init_plan *plan, struct init_state *s)
{
    char number[16], path[64], message[8192];
    if (plan->exec_fifo_fd < 0)
        return;
    snprintf(number, sizeof number, "%d", plan->exec_fifo_fd);
    snprintf(path, sizeof path, "/proc/self/fd/%d", plan->exec_fifo_fd);
    csrt_release_readonly_segments();
    int fd;
    do
        fd = openat(s->proc_fd >= 0 ? s->proc_fd : AT_FDCWD, s->proc_fd >= 0 ? number : path, O_WRONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        describe(message, sizeof message, "open", path, errno);
        die_after_ready(message);
    }
    ssize_t n;
    do
        n = write(fd, "0", 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
        describe(message, sizeof message, "write", path, n < 0 ? errno : EIO);
        die_after_ready(message);
    }
    close(fd);
    if (s->proc_fd >= 0)
        close(s->proc_fd);
    s->proc_fd = -1;
}

/* The names SpawnException gives csrt_exec_final's stages. */
static const char *stage_name(int32_t stage)
{
    switch (stage) {
    case CSRT_STAGE_SETSID: return "setsid";
    case CSRT_STAGE_CTTY: return "ioctl(TIOCSCTTY)";
    case CSRT_STAGE_BOUNDING: return "drop bounding capabilities";
    case CSRT_STAGE_GROUPS: return "setgroups";
    case CSRT_STAGE_GID: return "setresgid";
    case CSRT_STAGE_UID: return "setresuid";
    case CSRT_STAGE_CAPS: return "capset";
    case CSRT_STAGE_AMBIENT: return "set ambient capabilities";
    case CSRT_STAGE_NO_NEW_PRIVS: return "prctl(PR_SET_NO_NEW_PRIVS)";
    case CSRT_STAGE_SECCOMP: return "seccomp(SECCOMP_SET_MODE_FILTER)";
    case CSRT_STAGE_CWD: return "chdir";
    case CSRT_STAGE_PERSONALITY: return "personality";
    default: return "execve";
    }
}

static __attribute__((noreturn)) void exec_process(const struct csrt_init_plan *plan, struct init_state *s)
{
    const struct csrt_process_plan *p = &plan->process;
    char message[8192];
    if (s->console >= 0) {
        if (setsid() < 0) {
            describe(message, sizeof message, "setsid", "", errno);
            die_after_ready(message);
        }
        if (ioctl(s->console, TIOCSCTTY, 0) < 0) {
            describe(message, sizeof message, "ioctl(TIOCSCTTY)", "the console", errno);
            die_after_ready(message);
        }
        for (int i = 0; i < 3; i++)
            if (dup2(s->console, i) < 0) {
                describe(message, sizeof message, "dup2", "the console", errno);
                die_after_ready(message);
            }
    }
    /* Nothing of the runtime reaches the user process: every fd above stdio and the preserved
     * ones closes on exec (the CVE-2024-21626 class), the sync socket, exec.fifo, the console
     * socket and the id-mapped mounts among them. */
    if (syscall(SYS_close_range, 3 + plan->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        describe(message, sizeof message, "close_range", "", errno);
        die_after_ready(message);
    }
    char **env = p->env.items;
    if (s->home) {
        env = malloc(((size_t)p->env.count + 2) * sizeof(char *));
        if (!env)
            die_after_ready("out of memory");
        memcpy(env, p->env.items, (size_t)p->env.count * sizeof(char *));
        env[p->env.count] = s->home;
        env[p->env.count + 1] = NULL;
    }
    struct csrt_exec_plan e = {
        .path = p->args.items[0],
        .argv = p->args.items,
        .envp = env,
        .cwd = p->cwd,
        .groups = p->additional_gids,
        .uid = p->uid,
        .gid = p->gid,
        .ngroups = s->setgroups_denied ? -1 : p->additional_gid_count < 0 ? 0 : p->additional_gid_count,
        .set_ids = 1,
        .set_caps = p->set_capabilities,
        .cap_bounding = p->cap_bounding,
        .cap_effective = p->cap_effective,
        .cap_permitted = p->cap_permitted,
        .cap_inheritable = p->cap_inheritable,
        .cap_ambient = p->cap_ambient,
        .no_new_privs = p->no_new_privileges,
        .umask = p->has_umask ? p->umask : 022, /* runc's default */
        .personality = p->has_personality ? p->personality : -1,
        .last_cap = s->last_cap,
        .err_fd = -1,
    };
    if (p->seccomp && p->seccomp_length > 0) {
        e.seccomp_filter = p->seccomp;
        e.seccomp_len = (uint32_t)p->seccomp_length / 8;
        e.seccomp_flags = p->seccomp_flags;
    }
    int32_t stage = CSRT_STAGE_EXEC;
    int32_t r = csrt_exec_final(&e, &stage);
    describe(message, sizeof message, stage_name(stage), stage == CSRT_STAGE_CWD ? p->cwd : p->args.items[0], -r);
    die_after_ready(message);
}

void csrt_init_main(int argc, char **argv, char **envp)
{
    static const char usage[] =
        "csrt init: this is the container init, run by the runtime itself, not by hand (_CSRT_SYNC_FD is not set)\n";
    struct init_state s = { .sync = -1, .proc_fd = -1, .console = -1 };
    static struct csrt_init_failure f;
    struct csrt_init_plan plan;
    (void)argc;
    (void)argv;
    prctl(PR_SET_NAME, "csrt:[1:INIT]", 0, 0, 0);
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, SYNC_FD_VARIABLE, sizeof SYNC_FD_VARIABLE - 1) == 0) {
            char *end;
            long fd = strtol(*e + sizeof SYNC_FD_VARIABLE - 1, &end, 10);
            if (*end == 0 && end != *e + sizeof SYNC_FD_VARIABLE - 1 && fd >= 0 && fd < INT_MAX)
                s.sync = (int)fd;
        }
    if (s.sync < 0) {
        write_all(2, usage, sizeof usage - 1);
        _exit(2);
    }

    uint8_t type = 0, *payload = NULL;
    size_t len = 0;
    if (sync_receive(s.sync, &type, &payload, &len) < 0) {
        csrt_fail(&f, CSRT_INIT_PROTOCOL, -1, "recv", "the first message", errno);
        send_failure(s.sync, &f);
        _exit(1);
    }
    if (type == MSG_PROBE)
        probe(s.sync, payload, len);
    if (type != MSG_CONFIG) {
        csrt_fail(&f, CSRT_INIT_PROTOCOL, -1, "recv", "the first message", EPROTO);
        send_failure(s.sync, &f);
        _exit(1);
    }
    if (csrt_plan_decode(payload, len, &plan) < 0) {
        csrt_fail(&f, CSRT_INIT_PROTOCOL, -1, "decode", "the init plan", EINVAL);
        send_failure(s.sync, &f);
        _exit(1);
    }
    free(payload);
    if (build(&plan, &s, &f) < 0) {
        send_failure(s.sync, &f);
        _exit(1);
    }
    if (sync_send(s.sync, MSG_READY, NULL, 0) < 0)
        _exit(1);
    close(s.sync);

    wait_for_start(&plan, &s);
    for (int32_t i = 0; i < plan.start_container_hook_count; i++)
        if (run_hook(&plan.start_container_hooks[i], i, plan.hook_state, &f) < 0) {
            char message[8192];
            hook_message(message, sizeof message, "startContainer", &plan.start_container_hooks[i], &f);
            die_after_ready(message);
        }
    exec_process(&plan, &s);
}
