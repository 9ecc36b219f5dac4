/*
 * steptrace: runs one command under ptrace, single-stepping every thread of it (not the
 * processes it starts), and writes the addresses of [LO, HI) it executes, one line per 16-byte
 * granule in first-execution order. hack/layout/order.sh turns them into symbol names: the order
 * in which csrt's managed methods are laid out (src/runtime/Csrt.Cli/csrt.order).
 *
 * Usage: steptrace OUT LO HI -- command [args…]     (LO, HI in hex)
 *   Exits with the command's exit status. Slow by design: one trap per instruction.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: steptrace OUT LO HI -- command [args...]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "we");
    if (out == NULL) { perror(argv[1]); return 2; }
    unsigned long lo = strtoul(argv[2], NULL, 16), hi = strtoul(argv[3], NULL, 16);
    if (hi <= lo) { fprintf(stderr, "steptrace: empty range\n"); return 2; }
    unsigned char *seen = calloc(hi - lo, 1);
    if (seen == NULL) { perror("steptrace: calloc"); return 2; }

    pid_t pid = fork();
    if (pid < 0) { perror("steptrace: fork"); return 2; }
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) { perror("steptrace: PTRACE_TRACEME"); _exit(127); }
        execvp(argv[5], argv + 5); /* stops with SIGTRAP once the new image is loaded */
        fprintf(stderr, "steptrace: exec %s: %s\n", argv[5], strerror(errno));
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) { fprintf(stderr, "steptrace: %s did not start\n", argv[5]); return 2; }
    /* Threads (clone without SIGCHLD) are traced too; child processes are not. */
    if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE)) != 0) {
        perror("steptrace: PTRACE_SETOPTIONS");
        return 2;
    }
    ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL);
    int rc = 2;
    for (;;) {
        pid_t t = waitpid(-1, &st, __WALL);
        if (t < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (t == pid) { rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); break; }
            continue;
        }
        if (!WIFSTOPPED(st)) continue;
        int sig = WSTOPSIG(st), deliver = 0;
        if (sig == SIGTRAP && (st >> 16) != 0) {
            /* a clone event: the new thread starts traced, with its own SIGSTOP */
        } else if (sig == SIGSTOP) {
            /* a new thread's first stop */
        } else if (sig != SIGTRAP) {
            deliver = sig;
        } else {
            unsigned long rip = (unsigned long)ptrace(PTRACE_PEEKUSER, t, offsetof(struct user_regs_struct, rip), NULL);
            if (rip >= lo && rip < hi && !seen[rip - lo]) {
                seen[rip - lo] = 1;
                fprintf(out, "%lx\n", rip);
            }
        }
        ptrace(PTRACE_SINGLESTEP, t, NULL, (void *)(long)deliver);
    }
    if (fclose(out) != 0) { perror(argv[1]); return 2; }
    return rc;
}
