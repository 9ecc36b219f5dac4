/*
 * pause: PID 1 of a pod sandbox. It holds the pod's namespaces open, sleeps until SIGTERM or
 * SIGINT (then exits 0) and reaps every zombie reparented to it, since as PID 1 of the pod's PID
 * namespace it inherits the orphans of every container that shares it.
 * Built static (gcc -static -Os) so the image needs nothing but this one file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

/* Reaping in the main loop, not in the handler, keeps the handlers trivially async-signal-safe. */
static void on_child(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        puts("csrt pause 1.0");
        return 0;
    }
    if (getpid() != 1)
        fprintf(stderr, "pause: warning: not PID 1, orphans are not reparented to me\n");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) {
        perror("pause: sigaction(SIGTERM/SIGINT)");
        return 1;
    }
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, NULL) < 0) {
        perror("pause: sigaction(SIGCHLD)");
        return 1;
    }

    /* Block the signals, then wait for them atomically with sigsuspend: no signal can arrive
     * between the check of `stop` and the sleep, so none is lost. */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &block, &waitmask) < 0) {
        perror("pause: sigprocmask");
        return 1;
    }
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGCHLD);

    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (stop)
            return 0;
        sigsuspend(&waitmask);
    }
}
