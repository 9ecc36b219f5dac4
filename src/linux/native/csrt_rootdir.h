/*
 * csrt_rootdir.h — paths inside the container's rootfs, resolved from its directory fd
 * (csrt_rootdir.c). Private to csrt_rootfs.c.
 *
 * Every lookup is openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) relative to the rootfs fd, so
 * a symlink in the image (even "/etc -> /") can never lead a mount, a device node or a copy
 * outside the rootfs. What is mounted on is the resolved O_PATH fd, through its
 * /proc/self/fd/N name, never the path string again.
 */
#ifndef CSRT_ROOTDIR_H
#define CSRT_ROOTDIR_H

#include "csrt_init.h"

#include <sys/types.h>

/* The step a failure is reported under (stage and index of csrt_init_failure). */
struct csrt_step {
    struct csrt_init_failure *f;
    int32_t stage;
    int32_t index;
};

/* csrt_fail under the step's stage and index; returns -1. */
int csrt_step_fail(const struct csrt_step *s, const char *call, const char *path, int err);

/* csrt_step_fail, with the detail text of the failure formatted as printf does; returns -1. */
int csrt_step_fail_detail(const struct csrt_step *s, const char *call, const char *path, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The magic-link name of an fd ("/proc/self/fd/N"), which mount(2) takes as a target or source. */
struct csrt_fd_path {
    char path[32];
};
struct csrt_fd_path csrt_fd_path(int fd);

/* openat2 in the root; -1 with errno set and nothing reported. Always O_CLOEXEC. */
int csrt_root_try_open(int root, const char *path, int flags);

/* openat2 in the root (O_PATH when flags is 0 is not implied: pass O_PATH); reports
 * "openat2" and the path relative to the root on failure. */
int csrt_root_open(int root, const char *path, int flags, const struct csrt_step *s);

/* mkdir -p inside the root; returns an O_PATH fd of the directory. A component that is a
 * symlink to a missing directory gets its target created inside the root (as runc's
 * MkdirAllInRoot does): an image's "/etc -> /elsewhere" leads to <rootfs>/elsewhere. */
int csrt_root_mkdirs(int root, const char *path, mode_t mode, const struct csrt_step *s);

/* Ensures a file exists at path (to bind-mount a file onto it); returns an O_PATH fd of it.
 * A dangling symlink there gets its target created inside the root. */
int csrt_root_mkfile(int root, const char *path, mode_t mode, const struct csrt_step *s);

/* The parent directory of path (created; an O_PATH fd) and its last component in name. */
int csrt_root_parent_of(int root, const char *path, char *name, size_t name_size, const struct csrt_step *s);

#endif
