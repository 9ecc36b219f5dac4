/*
 * timeit: runs one command and reports its cost on one line of stdout:
 *
 *   wall_us=<fork to the command's exit> rc=<exit status> maxrss_kb=<the command's max RSS>
 *   user_us=<CPU of the command> sys_us=<…> all_user_us=<CPU of the command and of every
 *   process it left behind> all_sys_us=<…>
 *
 * maxrss_kb, user_us and sys_us come from wait4() on the command, the figures /usr/bin/time
 * prints (%M, %U, %S). all_* are getrusage(RUSAGE_CHILDREN) once every descendant has been
 * reaped: timeit is a child subreaper, so a container init that the runtime leaves running
 * (`run -d`, `create`) is reparented to it and its CPU time, from the runtime's code before the
 * user process exec until the user process exits, is counted too.
 *
 * Usage: timeit [-o FILE] [-d] [-w SECONDS] -- command [args…]
 *   -o FILE     append the line to FILE instead of writing it to stdout
 *   -d          do not wait for the processes the command leaves behind (`create`: the init
 *               waits for `start`); all_* then cover the command only
 *   -w SECONDS  how long to wait for them (default 10); those still running are left alone
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long us(struct timeval t) { return (long long)t.tv_sec * 1000000 + t.tv_usec; }

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char **argv)
{
    int detach = 0, wait_s = 10, opt;
    const char *out = NULL;
    while ((opt = getopt(argc, argv, "+o:dw:")) != -1) {
        if (opt == 'd') detach = 1;
        else if (opt == 'w') wait_s = atoi(optarg);
        else if (opt == 'o') out = optarg;
        else { fprintf(stderr, "usage: timeit [-o FILE] [-d] [-w SECONDS] -- command [args...]\n"); return 2; }
    }
    FILE *report = stdout;
    if (out != NULL && (report = fopen(out, "ae")) == NULL) { perror(out); return 2; }
    if (optind >= argc) { fprintf(stderr, "timeit: no command\n"); return 2; }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) { perror("timeit: PR_SET_CHILD_SUBREAPER"); return 2; }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("timeit: fork"); return 2; }
    if (pid == 0) {
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "timeit: exec %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) { perror("timeit: wait4"); return 2; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

    if (!detach) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm; /* no SA_RESTART: the alarm interrupts wait() */
        sigaction(SIGALRM, &sa, NULL);
        alarm((unsigned)wait_s);
        while (wait(NULL) > 0) /* until ECHILD, or EINTR from the alarm */
            ;
        alarm(0);
    }
    struct rusage all;
    getrusage(RUSAGE_CHILDREN, &all);
    long long wall = ((long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)) / 1000;
    fprintf(report, "wall_us=%lld rc=%d maxrss_kb=%ld user_us=%lld sys_us=%lld all_user_us=%lld all_sys_us=%lld\n",
           wall, rc, ru.ru_maxrss, us(ru.ru_utime), us(ru.ru_stime), us(all.ru_utime), us(all.ru_stime));
    return fclose(report) == 0 ? 0 : 2;
}
