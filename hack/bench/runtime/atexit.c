/*
 * atexit: runs one command under ptrace and, when its main thread exits (PTRACE_EVENT_EXIT: after
 * exit_group, before the kernel releases the address space), copies /proc/<pid>/smaps and
 * /proc/<pid>/status of the stopped process into files, then lets it finish. This is how the
 * memory of a short-lived process is attributed at its end without changing the program.
 *
 * Usage: atexit -s SMAPS_FILE [-t STATUS_FILE] -- command [args…]
 *   Exits with the command's exit status. Only the command's main thread is traced: its threads
 *   and children run untraced (no PTRACE_O_TRACECLONE/FORK), so a container init spawned by the
 *   command is unaffected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static int copy(pid_t pid, const char *what, const char *to)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, what);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0) { perror(path); return -1; }
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) { perror(to); close(in); return -1; }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) { perror(to); n = -1; break; }
    close(in);
    close(out);
    return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    const char *smaps = NULL, *status = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "+s:t:")) != -1) {
        if (opt == 's') smaps = optarg;
        else if (opt == 't') status = optarg;
        else { fprintf(stderr, "usage: atexit -s SMAPS_FILE [-t STATUS_FILE] -- command [args...]\n"); return 2; }
    }
    if (smaps == NULL || optind >= argc) { fprintf(stderr, "usage: atexit -s SMAPS_FILE [-t STATUS_FILE] -- command [args...]\n"); return 2; }

    pid_t pid = fork();
    if (pid < 0) { perror("atexit: fork"); return 2; }
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) { perror("atexit: PTRACE_TRACEME"); _exit(127); }
        execvp(argv[optind], argv + optind); /* stops with SIGTRAP after a successful exec */
        fprintf(stderr, "atexit: exec %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    int st, copied = 0;
    for (;;) {
        if (waitpid(pid, &st, __WALL) < 0) {
            if (errno == EINTR) continue;
            perror("atexit: waitpid");
            return 2;
        }
        if (WIFEXITED(st)) return copied ? WEXITSTATUS(st) : 2;
        if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
        if (!WIFSTOPPED(st)) continue;
        int sig = WSTOPSIG(st), deliver = 0;
        if (sig == SIGTRAP && (st >> 16) == PTRACE_EVENT_EXIT) {
            copied = copy(pid, "smaps", smaps) == 0 && (status == NULL || copy(pid, "status", status) == 0);
        } else if (sig == SIGTRAP && (st >> 16) == 0 && !copied) {
            /* the stop after exec: from here on, stop at exit */
            if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) != 0) {
                perror("atexit: PTRACE_SETOPTIONS");
                return 2;
            }
        } else {
            deliver = sig; /* a signal for the command: pass it on */
        }
        ptrace(PTRACE_CONT, pid, NULL, (void *)(long)deliver);
    }
}
