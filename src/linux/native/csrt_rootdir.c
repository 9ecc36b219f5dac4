/*
 * csrt_rootdir.c — paths inside the container's rootfs, resolved from its directory fd: the
 * lookups of csrt_rootfs.c (see csrt_rootdir.h). Every fd opened here is O_CLOEXEC and closed
 * on every path out; symlinks created on the way are bounded by MAX_SYMLINKS in total.
 */
#define _GNU_SOURCE
#include "csrt_rootdir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Linux's limit on symlinks followed in one lookup (MAXSYMLINKS); here it bounds the symlink
 * targets created for one mkdir -p or file, and so the recursion. */
#define MAX_SYMLINKS 40

int csrt_step_fail(const struct csrt_step *s, const char *call, const char *path, int err)
{
    return csrt_fail(s->f, s->stage, s->index, call, path, err);
}

struct csrt_fd_path csrt_fd_path(int fd)
{
    struct csrt_fd_path p;
    snprintf(p.path, sizeof p.path, "/proc/self/fd/%d", fd);
    return p;
}

/* The path as openat2 gets it: relative to the root fd, "." for the root itself. */
static const char *relative(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

int csrt_root_try_open(int root, const char *path, int flags)
{
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    long fd;
    do {
        fd = syscall(SYS_openat2, root, relative(path), &how, sizeof how);
    } while (fd < 0 && errno == EINTR);
    return (int)fd;
}

int csrt_root_open(int root, const char *path, int flags, const struct csrt_step *s)
{
    int fd = csrt_root_try_open(root, path, flags);
    if (fd < 0)
        return csrt_step_fail(s, "openat2", relative(path), errno);
    return fd;
}

/* The target of name in dir when it is a symlink (malloc'd), else NULL. */
static char *symlink_target(int dir, const char *name)
{
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
        return NULL;
    char *target = malloc(PATH_MAX);
    if (target == NULL)
        return NULL;
    ssize_t n = readlinkat(dir, name, target, PATH_MAX - 1);
    if (n <= 0) {
        free(target);
        return NULL;
    }
    target[n] = '\0';
    return target;
}

/* prefix + "/" + target, or target when it is absolute (it resolves inside the root either way). */
static char *join_target(const char *prefix, size_t prefix_len, const char *target)
{
    size_t tlen = strlen(target);
    char *out = malloc(prefix_len + tlen + 2);
    if (out == NULL)
        return NULL;
    if (target[0] == '/') {
        memcpy(out, target, tlen + 1);
        return out;
    }
    while (prefix_len > 0 && prefix[prefix_len - 1] == '/')
        prefix_len--;
    memcpy(out, prefix, prefix_len);
    out[prefix_len] = '/';
    memcpy(out + prefix_len + 1, target, tlen + 1);
    return out;
}

int csrt_step_fail_detail(const struct csrt_step *s, const char *call, const char *path, int err, const char *fmt, ...)
{
    csrt_step_fail(s, call, path, err);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->f->detail, sizeof s->f->detail, fmt, ap);
    va_end(ap);
    return -1;
}

static int mkdirs(int root, const char *path, mode_t mode, int *symlinks, const struct csrt_step *s)
{
    if (strlen(path) >= PATH_MAX)
        return csrt_step_fail(s, "mkdirat", path, ENAMETOOLONG);
    char *current = malloc(PATH_MAX + 1);
    if (current == NULL)
        return csrt_step_fail(s, "malloc", path, ENOMEM);
    current[0] = '\0';
    size_t clen = 0;
    int dir = csrt_root_open(root, ".", O_PATH | O_DIRECTORY, s);
    const char *p = path;
    while (dir >= 0) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);
        char component[NAME_MAX + 1];
        if (n > NAME_MAX || clen + 1 + n > PATH_MAX) {
            csrt_step_fail(s, "mkdirat", path, ENAMETOOLONG);
            goto failed;
        }
        memcpy(component, p, n);
        component[n] = '\0';
        size_t parent_len = clen;
        current[clen] = '/';
        memcpy(current + clen + 1, p, n);
        clen += 1 + n;
        current[clen] = '\0';

        int fd = csrt_root_try_open(root, current, O_PATH | O_DIRECTORY);
        if (fd < 0 && errno != ENOENT) {
            csrt_step_fail(s, "openat2", relative(current), errno);
            goto failed;
        }
        if (fd < 0) {
            if (mkdirat(dir, component, mode) < 0) {
                if (errno != EEXIST) {
                    csrt_step_fail(s, "mkdirat", component, errno);
                    goto failed;
                }
                /* Raced, or a symlink whose target is missing: create the target (in the root). */
                char *target = symlink_target(dir, component);
                if (target != NULL) {
                    if (++*symlinks > MAX_SYMLINKS) {
                        free(target);
                        csrt_step_fail_detail(s, "mkdir", current, ELOOP,
                                         "too many levels of symbolic links below %s in the container's root", current);
                        goto failed;
                    }
                    char *next = join_target(current, parent_len, target);
                    free(target);
                    if (next == NULL) {
                        csrt_step_fail(s, "malloc", current, ENOMEM);
                        goto failed;
                    }
                    int made = mkdirs(root, next, mode, symlinks, s);
                    free(next);
                    if (made < 0)
                        goto failed;
                    close(made);
                }
            }
            fd = csrt_root_try_open(root, current, O_PATH | O_DIRECTORY);
            if (fd < 0) {
                if (errno == ENOENT)
                    csrt_step_fail_detail(s, "mkdir", current, ENOENT, "cannot create %s in the container's root", current);
                else
                    csrt_step_fail(s, "openat2", relative(current), errno);
                goto failed;
            }
        }
        close(dir);
        dir = fd;
        p = end;
    }
    free(current);
    return dir;

failed:
    close(dir);
    free(current);
    return -1;
}

int csrt_root_mkdirs(int root, const char *path, mode_t mode, const struct csrt_step *s)
{
    int symlinks = 0;
    return mkdirs(root, path, mode, &symlinks, s);
}

/* Splits path (trailing slashes ignored) into its parent ("" for none: the root) and last
 * component. */
static int split_path(const char *path, char *parent, size_t parent_size, char *name, size_t name_size,
                      const struct csrt_step *s)
{
    size_t len = strlen(path);
    while (len > 0 && path[len - 1] == '/')
        len--;
    size_t slash = len;
    while (slash > 0 && path[slash - 1] != '/')
        slash--;
    size_t name_len = len - slash;
    size_t parent_len = slash;
    while (parent_len > 1 && path[parent_len - 1] == '/')
        parent_len--;
    if (name_len >= name_size || parent_len >= parent_size)
        return csrt_step_fail(s, "openat2", path, ENAMETOOLONG);
    memcpy(name, path + slash, name_len);
    name[name_len] = '\0';
    memcpy(parent, path, parent_len);
    parent[parent_len] = '\0';
    return 0;
}

int csrt_root_parent_of(int root, const char *path, char *name, size_t name_size, const struct csrt_step *s)
{
    char *parent = malloc(PATH_MAX);
    if (parent == NULL)
        return csrt_step_fail(s, "malloc", path, ENOMEM);
    int fd = -1;
    if (split_path(path, parent, PATH_MAX, name, name_size, s) == 0)
        fd = csrt_root_mkdirs(root, parent, 0755, s);
    free(parent);
    return fd;
}

static int mkfile(int root, const char *path, mode_t mode, int *symlinks, const struct csrt_step *s)
{
    int existing = csrt_root_try_open(root, path, O_PATH);
    if (existing >= 0)
        return existing;
    if (errno != ENOENT)
        return csrt_step_fail(s, "openat2", relative(path), errno);

    char *parent_path = malloc(PATH_MAX);
    if (parent_path == NULL)
        return csrt_step_fail(s, "malloc", path, ENOMEM);
    char name[NAME_MAX + 1];
    char *target = NULL;
    int result = -1;
    if (split_path(path, parent_path, PATH_MAX, name, sizeof name, s) < 0)
        goto out;
    int parent = mkdirs(root, parent_path, 0755, symlinks, s);
    if (parent < 0)
        goto out;
    int created = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
    if (created >= 0) {
        close(created);
    } else if (errno == EEXIST) {
        target = symlink_target(parent, name);
    } else {
        csrt_step_fail(s, "open", name, errno);
        close(parent);
        goto out;
    }
    close(parent);

    if (target != NULL) {
        int again = csrt_root_try_open(root, path, O_PATH);
        if (again >= 0) {
            close(again);
        } else if (errno != ENOENT) {
            csrt_step_fail(s, "openat2", relative(path), errno);
            goto out;
        } else {
            if (++*symlinks > MAX_SYMLINKS) {
                csrt_step_fail_detail(s, "open", path, ELOOP,
                                 "too many levels of symbolic links at %s in the container's root", path);
                goto out;
            }
            char *next = join_target(parent_path, strlen(parent_path), target);
            if (next == NULL) {
                csrt_step_fail(s, "malloc", path, ENOMEM);
                goto out;
            }
            int made = mkfile(root, next, mode, symlinks, s);
            free(next);
            if (made < 0)
                goto out;
            close(made);
        }
    }
    result = csrt_root_open(root, path, O_PATH, s);

out:
    free(target);
    free(parent_path);
    return result;
}

int csrt_root_mkfile(int root, const char *path, mode_t mode, const struct csrt_step *s)
{
    int symlinks = 0;
    return mkfile(root, path, mode, &symlinks, s);
}
