/*
 * csrt_rootfs.c — the container's filesystem, built by the init in its mount namespace from
 * the plan, in runc's order: propagation of "/", the rootfs bind-mounted onto itself, the spec's
 * mounts (targets resolved inside the rootfs, mounted through their fd), /dev, then pivot_root;
 * sysctls, masked paths, read-only paths and a read-only root come after pivot_root.
 *
 * Every decision (flags, kinds, which fallback applies, propagation, devices) was made by the
 * runtime in InitPlanBuilder; this file only executes it. A failure reports the stage and index
 * of its step, the C call and the path as the runtime's messages name them (the runtime words
 * the message: InitFailure in SyncChannel.cs).
 *
 * A container without a mount namespace of its own shares the runtime's, as runc and crun let
 * it: "/" and the rootfs's parent keep their propagation, the spec's mounts are made in the shared
 * namespace under the rootfs (the runtime removes them at delete), and the init chroots instead
 * of pivot_root.
 */
#define _GNU_SOURCE
#include "csrt_init.h"
#include "csrt_rootdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* The flags a user namespace locks on a mount: a remount must repeat them or gets EPERM. */
#define LOCKED_IN_USER_NAMESPACE \
    (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_NOATIME | MS_NODIRATIME | MS_RELATIME)

/* tmpcopyup: levels of directories below the mount point it copies; a deeper tree is refused
 * (each level holds three fds while its subtree is copied). */
#define MAX_COPY_DEPTH 128

#define PERMISSIONS 07777

/* ---- failures and plain calls ---- */

/* The MountFlags names the runtime's messages show ("MS_NOSUID, MS_NODEV"; "None"; the number
 * when a bit has no name). */
static void flag_names(unsigned long flags, char *out, size_t size)
{
    static const struct {
        unsigned long bit;
        const char *name;
    } names[] = {
        {MS_RDONLY, "MS_RDONLY"}, {MS_NOSUID, "MS_NOSUID"}, {MS_NODEV, "MS_NODEV"},
        {MS_NOEXEC, "MS_NOEXEC"}, {MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {MS_REMOUNT, "MS_REMOUNT"},
        {MS_MANDLOCK, "MS_MANDLOCK"}, {MS_DIRSYNC, "MS_DIRSYNC"}, {256, "MS_NOSYMFOLLOW"},
        {MS_NOATIME, "MS_NOATIME"}, {MS_NODIRATIME, "MS_NODIRATIME"}, {MS_BIND, "MS_BIND"},
        {MS_MOVE, "MS_MOVE"}, {MS_REC, "MS_REC"}, {MS_SILENT, "MS_SILENT"},
        {MS_POSIXACL, "MS_POSIXACL"}, {MS_UNBINDABLE, "MS_UNBINDABLE"}, {MS_PRIVATE, "MS_PRIVATE"},
        {MS_SLAVE, "MS_SLAVE"}, {MS_SHARED, "MS_SHARED"}, {MS_RELATIME, "MS_RELATIME"},
        {MS_I_VERSION, "MS_I_VERSION"}, {MS_STRICTATIME, "MS_STRICTATIME"}, {MS_LAZYTIME, "MS_LAZYTIME"},
    };
    unsigned long known = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        known |= names[i].bit;
    if (flags == 0 || (flags & ~known) != 0) {
        if (flags == 0)
            snprintf(out, size, "None");
        else
            snprintf(out, size, "%lu", flags);
        return;
    }
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0] && used < size; i++) {
        if (flags & names[i].bit) {
            int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "", names[i].name);
            if (n < 0)
                break;
            used += (size_t)n;
        }
    }
}

static int raw_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data)
{
    int r;
    do {
        r = mount(source, target, type, flags, data != NULL && data[0] != '\0' ? data : NULL);
    } while (r < 0 && errno == EINTR);
    return r;
}

static int report_mount(const struct csrt_step *s, int err, const char *source, const char *target, const char *type,
                        unsigned long flags, const char *data)
{
    char what[PATH_MAX];
    if (source == NULL || strcmp(source, target) == 0)
        snprintf(what, sizeof what, "%s", target);
    else
        snprintf(what, sizeof what, "%s \xe2\x86\x92 %s", source, target);
    char names[512];
    flag_names(flags, names, sizeof names);
    if (data != NULL && data[0] != '\0')
        return csrt_step_fail_detail(s, "mount", what, err, "type %s, flags %s, data \"%s\"", type ? type : "none", names, data);
    return csrt_step_fail_detail(s, "mount", what, err, "type %s, flags %s", type ? type : "none", names);
}

/* mount(2); a failure names the source and target. */
static int do_mount(const struct csrt_step *s, const char *source, const char *target, const char *type,
                    unsigned long flags, const char *data)
{
    if (raw_mount(source, target, type, flags, data) == 0)
        return 0;
    return report_mount(s, errno, source, target, type, flags, data);
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The MS_* flags a mount has now (statvfs), to keep the ones a user namespace locks. */
static int current_flags(const struct csrt_step *s, const char *path, unsigned long *flags)
{
    struct statvfs st;
    if (statvfs(path, &st) < 0)
        return csrt_step_fail(s, "statvfs", path, errno);
    unsigned long f = st.f_flag, out = 0;
    if (f & ST_RDONLY) out |= MS_RDONLY;
    if (f & ST_NOSUID) out |= MS_NOSUID;
    if (f & ST_NODEV) out |= MS_NODEV;
    if (f & ST_NOEXEC) out |= MS_NOEXEC;
    if (f & ST_NOATIME) out |= MS_NOATIME;
    if (f & ST_NODIRATIME) out |= MS_NODIRATIME;
    if (f & ST_RELATIME) out |= MS_RELATIME;
    *flags = out;
    return 0;
}

static int open_rootfs(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    int fd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return csrt_fail(f, CSRT_INIT_ROOT, -1, "open", plan->rootfs, errno);
    return fd;
}

/* ---- PrepareRoot ---- */

int32_t csrt_rootfs_prepare(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    const struct csrt_step s = {f, CSRT_INIT_ROOT, -1};
    if (!plan->own_mount_namespace) {
        /* Nothing of the shared namespace changes but what lies under the rootfs. A read-only
         * root needs a mount of its own to remount read-only in finish. */
        if (plan->rootfs_readonly)
            return do_mount(&s, plan->rootfs, plan->rootfs, "bind", MS_BIND | MS_REC, NULL);
        return 0;
    }
    /* "/" rslave (or the spec's propagation) so nothing the container mounts reaches the host. */
    if (do_mount(&s, NULL, "/", NULL, plan->root_propagation, NULL) < 0)
        return -1;
    /* pivot_root refuses a shared parent mount. */
    if (plan->rootfs_parent_mount != NULL && plan->rootfs_parent_mount[0] != '\0' &&
        do_mount(&s, NULL, plan->rootfs_parent_mount, NULL, MS_PRIVATE, NULL) < 0)
        return -1;
    /* The rootfs onto itself, so it is a mount point. */
    return do_mount(&s, plan->rootfs, plan->rootfs, "bind", MS_BIND | MS_REC, NULL);
}

/* ---- ApplyMounts ---- */

/* Remounts a bind mount with new flags. In a user namespace the flags the source mount had are
 * locked and must be repeated, or the kernel refuses with EPERM. */
static int remount(const struct csrt_step *s, int mounted, unsigned long flags, int in_user_namespace)
{
    struct csrt_fd_path target = csrt_fd_path(mounted);
    unsigned long r = MS_BIND | MS_REMOUNT | (flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT));
    if (in_user_namespace) {
        unsigned long now;
        if (current_flags(s, target.path, &now) < 0)
            return -1;
        r |= now & LOCKED_IN_USER_NAMESPACE & ~(unsigned long)MS_RDONLY;
    }
    return do_mount(s, NULL, target.path, NULL, r, NULL);
}

/* Opens the mount at m->destination (O_PATH) and remounts it. */
static int remount_destination(const struct csrt_step *s, int root, const char *destination, unsigned long flags,
                               int in_user_namespace)
{
    int mounted = csrt_root_open(root, destination, O_PATH, s);
    if (mounted < 0)
        return -1;
    int r = remount(s, mounted, flags, in_user_namespace);
    close(mounted);
    return r;
}

static int propagation_and_attributes(const struct csrt_step *s, int root, const struct csrt_mount_step *m)
{
    if (m->propagation_count <= 0 && m->set_attributes == 0 && m->clear_attributes == 0)
        return 0;
    int mounted = csrt_root_open(root, m->destination, O_PATH, s);
    if (mounted < 0)
        return -1;
    struct csrt_fd_path target = csrt_fd_path(mounted);
    int r = 0;
    for (int32_t i = 0; r == 0 && i < m->propagation_count; i++)
        r = do_mount(s, NULL, target.path, NULL, m->propagation[i], NULL);
    if (r == 0 && (m->set_attributes != 0 || m->clear_attributes != 0)) {
        struct mount_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.attr_set = m->set_attributes;
        attr.attr_clr = m->clear_attributes;
        long rc;
        do {
            rc = syscall(SYS_mount_setattr, mounted, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr);
        } while (rc < 0 && errno == EINTR);
        if (rc < 0)
            r = csrt_step_fail_detail(s, "mount_setattr", m->destination, errno, "set 0x%llx, clear 0x%llx",
                            (unsigned long long)m->set_attributes, (unsigned long long)m->clear_attributes);
    }
    close(mounted);
    return r;
}

/* Copies a directory tree between two directory fds, keeping modes, owners and symlinks; never
 * follows a symlink. depth: the level of from below the mount point (0). */
static int copy_tree(const struct csrt_step *s, int from, int to, int depth)
{
    int listed = fcntl(from, F_DUPFD_CLOEXEC, 0);
    if (listed < 0)
        return csrt_step_fail(s, "fcntl(F_DUPFD_CLOEXEC)", "", errno);
    DIR *dir = fdopendir(listed);
    if (dir == NULL) {
        int err = errno;
        close(listed);
        return csrt_step_fail(s, "fdopendir", "", err);
    }
    int r = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dir);
        if (e == NULL) {
            if (errno != 0)
                r = csrt_step_fail(s, "getdents64", "", errno);
            break;
        }
        const char *name = e->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            r = csrt_step_fail(s, "stat", name, errno);
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            if (depth + 1 > MAX_COPY_DEPTH) {
                r = csrt_step_fail_detail(s, "tmpcopyup", name, ELOOP, "more than %d levels of directories",
                                          MAX_COPY_DEPTH);
                break;
            }
            if (mkdirat(to, name, st.st_mode & PERMISSIONS) < 0) {
                r = csrt_step_fail(s, "mkdirat", name, errno);
                break;
            }
            int sub = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                r = csrt_step_fail(s, "open", name, errno);
                break;
            }
            int dst = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (dst < 0) {
                r = csrt_step_fail(s, "open", name, errno);
                close(sub);
                break;
            }
            r = copy_tree(s, sub, dst, depth + 1);
            close(sub);
            close(dst);
        } else if (S_ISLNK(st.st_mode)) {
            char *target = malloc(PATH_MAX);
            if (target == NULL) {
                r = csrt_step_fail(s, "malloc", name, ENOMEM);
                break;
            }
            ssize_t n = readlinkat(from, name, target, PATH_MAX - 1);
            if (n < 0) {
                r = csrt_step_fail(s, "readlinkat", name, errno);
            } else {
                target[n] = '\0';
                if (symlinkat(target, to, name) < 0) {
                    char what[PATH_MAX];
                    snprintf(what, sizeof what, "%s \xe2\x86\x92 %s", name, target);
                    r = csrt_step_fail(s, "symlinkat", what, errno);
                }
            }
            free(target);
        } else if (S_ISREG(st.st_mode)) {
            int src = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (src < 0) {
                r = csrt_step_fail(s, "open", name, errno);
                break;
            }
            int dst = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & PERMISSIONS);
            if (dst < 0) {
                r = csrt_step_fail(s, "open", name, errno);
                close(src);
                break;
            }
            off_t offset = 0;
            while (offset < st.st_size) {
                ssize_t n = sendfile(dst, src, &offset, (size_t)(st.st_size - offset));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0) {
                    char what[32];
                    snprintf(what, sizeof what, "fd %d", src);
                    r = csrt_step_fail(s, "sendfile", what, errno);
                    break;
                }
                if (n == 0)
                    break;
            }
            close(src);
            close(dst);
        } else if (mknodat(to, name, st.st_mode, st.st_rdev) < 0) {
            r = csrt_step_fail(s, "mknodat", name, errno);
        }
        if (r == 0 && fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            r = csrt_step_fail(s, "fchownat", name, errno);
        if (r < 0)
            break;
    }
    closedir(dir);
    return r;
}

/* tmpcopyup: a new tmpfs over a directory, seeded with what the directory held. */
static int mount_tmpfs_copy_up(const struct csrt_step *s, int root, const struct csrt_mount_step *m, int target)
{
    int original = openat(target, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (original < 0)
        return csrt_step_fail(s, "open", ".", errno);
    struct csrt_fd_path where = csrt_fd_path(target);
    int fresh = -1, r = do_mount(s, "tmpfs", where.path, "tmpfs", m->flags & ~(unsigned long)MS_RDONLY, m->data);
    if (r == 0) {
        fresh = csrt_root_open(root, m->destination, O_RDONLY | O_DIRECTORY, s);
        r = fresh < 0 ? -1 : copy_tree(s, original, fresh, 0);
    }
    if (r == 0 && (m->flags & MS_RDONLY)) {
        int mounted = csrt_root_open(root, m->destination, O_PATH, s);
        if (mounted < 0) {
            r = -1;
        } else {
            r = do_mount(s, NULL, csrt_fd_path(mounted).path, NULL, MS_REMOUNT | m->flags, NULL);
            close(mounted);
        }
    }
    close_fd(&fresh);
    close(original);
    return r;
}

static int mount_filesystem(const struct csrt_step *s, int root, const struct csrt_mount_step *m,
                            const struct csrt_init_plan *plan)
{
    int target = csrt_root_mkdirs(root, m->destination, 0755, s);
    if (target < 0)
        return -1;
    int r;
    if (m->copy_up) {
        r = mount_tmpfs_copy_up(s, root, m, target);
    } else {
        struct csrt_fd_path where = csrt_fd_path(target);
        const char *source = m->source != NULL ? m->source : m->type;
        r = raw_mount(source, where.path, m->type, m->flags, m->data);
        if (r < 0) {
            int err = errno;
            int is_sysfs = m->type != NULL && strcmp(m->type, "sysfs") == 0;
            int is_mqueue = m->type != NULL && strcmp(m->type, "mqueue") == 0;
            if (err == EPERM && (is_sysfs || is_mqueue)) {
                /* Without its own network (sysfs) or ipc namespace (mqueue) owned by the
                 * container's user namespace the kernel refuses a fresh instance; bind the
                 * host's, as runc does. */
                const char *host = is_sysfs ? "/sys" : "/dev/mqueue";
                r = do_mount(s, host, where.path, NULL, MS_BIND | MS_REC, NULL);
                if (r == 0)
                    r = remount_destination(s, root, m->destination, m->flags, plan->in_user_namespace);
            } else {
                r = report_mount(s, err, source, where.path, m->type, m->flags, m->data);
            }
        }
    }
    close(target);
    if (r < 0)
        return -1;
    return propagation_and_attributes(s, root, m);
}

static int mount_bind(const struct csrt_step *s, int root, const struct csrt_mount_step *m, int in_user_namespace)
{
    /* Id-mapped: the runtime cloned and id-mapped the source (IdMappedMounts), and the init
     * attaches that mount; the source path itself may not be searchable from a user namespace. */
    int detached = m->mount_fd;
    int r = -1, target = -1;
    const char *source = m->source != NULL ? m->source : "";
    struct stat st;
    if (detached >= 0) {
        if (fstat(detached, &st) < 0) {
            char what[32];
            snprintf(what, sizeof what, "fd %d", detached);
            csrt_step_fail(s, "stat", what, errno);
            goto out;
        }
    } else if (stat(source, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            csrt_step_fail_detail(s, "stat", source, ENOENT, "the source of a bind mount must exist");
        else
            csrt_step_fail(s, "stat", source, errno);
        goto out;
    }
    target = S_ISDIR(st.st_mode) ? csrt_root_mkdirs(root, m->destination, 0755, s)
                                 : csrt_root_mkfile(root, m->destination, 0644, s);
    if (target < 0)
        goto out;
    if (detached >= 0) {
        long rc;
        do {
            rc = syscall(SYS_move_mount, detached, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
        } while (rc < 0 && errno == EINTR);
        if (rc < 0) {
            char what[PATH_MAX];
            snprintf(what, sizeof what, "%s \xe2\x86\x92 %s", source, m->destination);
            csrt_step_fail(s, "move_mount", what, errno);
            goto out;
        }
    } else if (do_mount(s, source, csrt_fd_path(target).path, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0) {
        goto out;
    }
    close_fd(&target);
    if ((m->flags & ~(unsigned long)(MS_BIND | MS_REC | MS_REMOUNT)) != 0 &&
        remount_destination(s, root, m->destination, m->flags, in_user_namespace) < 0)
        goto out;
    r = propagation_and_attributes(s, root, m);

out:
    close_fd(&target);
    if (detached >= 0)
        close(detached);
    return r;
}

/* cgroup v1 inside the container: a tmpfs holding one directory per hierarchy, each the
 * container's own cgroup (bind-mounted, or a fresh cgroup mount in its cgroup namespace). */
static int mount_cgroup_v1(const struct csrt_step *s, int root, const struct csrt_mount_step *m,
                           const struct csrt_init_plan *plan)
{
    unsigned long flags = m->flags;
    int target = csrt_root_mkdirs(root, m->destination, 0755, s);
    if (target < 0)
        return -1;
    int r = do_mount(s, "tmpfs", csrt_fd_path(target).path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
    close(target);
    if (r < 0)
        return -1;

    size_t dest_len = strlen(m->destination);
    while (dest_len > 0 && m->destination[dest_len - 1] == '/')
        dest_len--;
    for (int32_t i = 0; i < m->cgroup_source_count; i++) {
        const struct csrt_cgroup_source *c = &m->cgroup_sources[i];
        const char *options = c->options != NULL ? c->options : "";
        char dir[PATH_MAX];
        size_t name_len = strlen(c->name);
        if (dest_len + 1 + name_len >= sizeof dir)
            return csrt_step_fail(s, "mkdirat", c->name, ENAMETOOLONG);
        memcpy(dir, m->destination, dest_len);
        dir[dest_len] = '/';
        memcpy(dir + dest_len + 1, c->name, name_len + 1);
        target = csrt_root_mkdirs(root, dir, 0755, s);
        if (target < 0)
            return -1;
        struct csrt_fd_path where = csrt_fd_path(target);
        unsigned long fresh = flags & ~(unsigned long)(MS_REC | MS_BIND);
        if (plan->new_cgroup_namespace && options[0] == '\0')
            r = do_mount(s, "cgroup2", where.path, "cgroup2", fresh, NULL);
        else if (plan->new_cgroup_namespace)
            r = do_mount(s, "cgroup", where.path, "cgroup", fresh, options);
        else
            r = do_mount(s, c->host_path, where.path, NULL, MS_BIND | MS_REC, NULL);
        close(target);
        if (r < 0)
            return -1;
        if (!plan->new_cgroup_namespace && (flags & ~(unsigned long)(MS_BIND | MS_REC)) != 0 &&
            remount_destination(s, root, dir, flags, plan->in_user_namespace) < 0)
            return -1;
        for (int32_t a = 0; a < c->aliases.count; a++) {
            const char *alias = c->aliases.items[a];
            int parent = csrt_root_open(root, m->destination, O_PATH | O_DIRECTORY, s);
            if (parent < 0)
                return -1;
            if (symlinkat(c->name, parent, alias) < 0 && errno != EEXIST) {
                char what[PATH_MAX];
                snprintf(what, sizeof what, "%s \xe2\x86\x92 %s", alias, c->name);
                int err = errno;
                close(parent);
                return csrt_step_fail(s, "symlinkat", what, err);
            }
            close(parent);
        }
    }
    if (flags & MS_RDONLY) {
        int mounted = csrt_root_open(root, m->destination, O_PATH, s);
        if (mounted < 0)
            return -1;
        r = do_mount(s, NULL, csrt_fd_path(mounted).path, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                     NULL);
        close(mounted);
    }
    return r;
}

static int mount_cgroup_v2(const struct csrt_step *s, int root, const struct csrt_mount_step *m,
                           const struct csrt_init_plan *plan)
{
    unsigned long flags = m->flags & ~(unsigned long)MS_BIND;
    int target = csrt_root_mkdirs(root, m->destination, 0755, s);
    if (target < 0)
        return -1;
    struct csrt_fd_path where = csrt_fd_path(target);
    int r;
    if (plan->new_cgroup_namespace) {
        r = do_mount(s, "cgroup2", where.path, "cgroup2", flags & ~(unsigned long)MS_REC, NULL);
        close(target);
        return r;
    }
    if (m->source == NULL)
        r = csrt_step_fail_detail(s, "mount", "", ENOENT, "no cgroup2 directory for the container");
    else
        r = do_mount(s, m->source, where.path, NULL, MS_BIND | MS_REC, NULL);
    close(target);
    if (r == 0 && (flags & ~(unsigned long)MS_REC) != 0)
        r = remount_destination(s, root, m->destination, flags, plan->in_user_namespace);
    return r;
}

int32_t csrt_rootfs_mounts(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    if (plan->mount_count <= 0)
        return 0;
    int root = open_rootfs(plan, f);
    if (root < 0)
        return -1;
    int r = 0;
    for (int32_t i = 0; r == 0 && i < plan->mount_count; i++) {
        const struct csrt_mount_step *m = &plan->mounts[i];
        const struct csrt_step s = {f, CSRT_INIT_MOUNT, i};
        const char *kind = m->kind != NULL ? m->kind : "";
        if (strcmp(kind, "bind") == 0)
            r = mount_bind(&s, root, m, plan->in_user_namespace);
        else if (strcmp(kind, "cgroup-v1") == 0)
            r = mount_cgroup_v1(&s, root, m, plan);
        else if (strcmp(kind, "cgroup-v2") == 0)
            r = mount_cgroup_v2(&s, root, m, plan);
        else
            r = mount_filesystem(&s, root, m, plan);
    }
    close(root);
    return r;
}

/* ---- SetupDevices ---- */

/* glibc's makedev, on the plan's signed numbers as the runtime computes it. */
static dev_t make_dev(int64_t major, int64_t minor)
{
    uint64_t ma = (uint64_t)major, mi = (uint64_t)minor;
    return (dev_t)(((ma & 0xfffff000ULL) << 32) | ((ma & 0xfffULL) << 8) | ((mi & 0xffffff00ULL) << 12) | (mi & 0xffULL));
}

static int create_device(const struct csrt_step *s, int root, const struct csrt_device_node *d, int in_user_namespace)
{
    mode_t type;
    switch (d->type) {
    case 'c': type = S_IFCHR; break;
    case 'b': type = S_IFBLK; break;
    case 'p': type = S_IFIFO; break;
    default:
        return csrt_step_fail_detail(s, "mknodat", d->path, EINVAL, "unknown type '%c'", (char)d->type);
    }
    if (in_user_namespace && d->type != 'p') {
        /* mknod is not allowed in a user namespace: bind the host's node. */
        int target = csrt_root_mkfile(root, d->path, 0, s);
        if (target < 0)
            return -1;
        int r = do_mount(s, d->path, csrt_fd_path(target).path, NULL, MS_BIND, NULL);
        close(target);
        return r;
    }
    char name[NAME_MAX + 1];
    int parent = csrt_root_parent_of(root, d->path, name, sizeof name, s);
    if (parent < 0)
        return -1;
    if (unlinkat(parent, name, 0) < 0 && errno != ENOENT) {
        int err = errno;
        close(parent);
        return csrt_step_fail(s, "unlinkat", name, err);
    }
    if (mknodat(parent, name, type | (d->file_mode & PERMISSIONS), make_dev(d->major, d->minor)) < 0) {
        int err = errno;
        close(parent);
        return csrt_step_fail(s, "mknodat", name, err);
    }
    close(parent);
    int node = csrt_root_open(root, d->path, O_PATH | O_NOFOLLOW, s);
    if (node < 0)
        return -1;
    struct csrt_fd_path where = csrt_fd_path(node);
    int r = 0;
    if (chown(where.path, d->uid, d->gid) < 0)
        r = csrt_step_fail(s, "chown", where.path, errno);
    else if (chmod(where.path, d->file_mode & PERMISSIONS) < 0)
        r = csrt_step_fail(s, "chmod", where.path, errno);
    close(node);
    return r;
}

/* A symlink at link (inside the root) to target; an existing entry is left as it is. */
static int dev_symlink(const struct csrt_step *s, int root, const char *target, const char *link)
{
    char name[NAME_MAX + 1];
    int parent = csrt_root_parent_of(root, link, name, sizeof name, s);
    if (parent < 0)
        return -1;
    int r = 0;
    if (symlinkat(target, parent, name) < 0 && errno != EEXIST) {
        char what[PATH_MAX];
        snprintf(what, sizeof what, "%s \xe2\x86\x92 %s", name, target);
        r = csrt_step_fail(s, "symlinkat", what, errno);
    }
    close(parent);
    return r;
}

int32_t csrt_rootfs_devices(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    if (plan->device_count <= 0 && !plan->setup_dev)
        return 0;
    int root = open_rootfs(plan, f);
    if (root < 0)
        return -1;
    int r = 0;
    for (int32_t i = 0; r == 0 && i < plan->device_count; i++) {
        const struct csrt_step s = {f, CSRT_INIT_DEVICE, i};
        r = create_device(&s, root, &plan->devices[i], plan->in_user_namespace);
    }
    if (r < 0 || !plan->setup_dev) {
        close(root);
        return r;
    }
    const struct csrt_step s = {f, CSRT_INIT_DEVICE, -1};
    static const char *const links[][2] = {
        {"/proc/self/fd", "/dev/fd"},
        {"/proc/self/fd/0", "/dev/stdin"},
        {"/proc/self/fd/1", "/dev/stdout"},
        {"/proc/self/fd/2", "/dev/stderr"},
    };
    for (size_t i = 0; r == 0 && i < sizeof links / sizeof links[0]; i++)
        r = dev_symlink(&s, root, links[i][0], links[i][1]);
    struct stat st;
    if (r == 0 && lstat("/proc/kcore", &st) == 0)
        r = dev_symlink(&s, root, "/proc/kcore", "/dev/core");
    if (r == 0) {
        /* /dev/ptmx must be the container's devpts instance, not the host's ptmx node. */
        char name[NAME_MAX + 1];
        int dev = csrt_root_parent_of(root, "/dev/ptmx", name, sizeof name, &s);
        if (dev < 0) {
            r = -1;
        } else {
            if (unlinkat(dev, name, 0) < 0 && errno != ENOENT)
                r = csrt_step_fail(&s, "unlinkat", name, errno);
            else if (symlinkat("pts/ptmx", dev, name) < 0)
                r = csrt_step_fail(&s, "symlinkat", "ptmx \xe2\x86\x92 pts/ptmx", errno);
            close(dev);
        }
    }
    close(root);
    return r;
}

/* ---- process.cwd ---- */

int32_t csrt_rootfs_make_cwd(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    if (plan->process.cwd == NULL)
        return 0;
    int root = open_rootfs(plan, f);
    if (root < 0)
        return -1;
    const struct csrt_step s = {f, CSRT_INIT_CWD, -1};
    int cwd = csrt_root_mkdirs(root, plan->process.cwd, 0755, &s);
    if (cwd >= 0)
        close(cwd);
    close(root);
    return cwd < 0 ? -1 : 0;
}

/* ---- SwitchRoot ---- */

static int change_dir(const struct csrt_step *s, const char *path)
{
    if (chdir(path) < 0)
        return csrt_step_fail(s, "chdir", path, errno);
    return 0;
}

static int change_root(const struct csrt_step *s, const char *path)
{
    if (chroot(path) < 0)
        return csrt_step_fail(s, "chroot", path, errno);
    return 0;
}

static int change_dir_fd(const struct csrt_step *s, int fd)
{
    if (fchdir(fd) < 0) {
        char what[32];
        snprintf(what, sizeof what, "fd %d", fd);
        return csrt_step_fail(s, "fchdir", what, errno);
    }
    return 0;
}

static int pivot_into(const struct csrt_step *s, const char *rootfs)
{
    int old_root = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (old_root < 0)
        return csrt_step_fail(s, "open", "/", errno);
    int new_root = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (new_root < 0) {
        int err = errno;
        close(old_root);
        return csrt_step_fail(s, "open", rootfs, err);
    }
    int r = change_dir_fd(s, new_root);
    /* pivot_root(".", "."): the old root ends up stacked under the new one at "/", where it can
     * be detached without a directory for it in the image. */
    if (r == 0 && syscall(SYS_pivot_root, ".", ".") < 0)
        r = csrt_step_fail(s, "pivot_root", "., .", errno);
    if (r == 0)
        r = change_dir_fd(s, old_root);
    /* Keep the unmount from propagating back to the host's mounts. */
    if (r == 0)
        r = do_mount(s, NULL, ".", NULL, MS_SLAVE | MS_REC, NULL);
    if (r == 0 && umount2(".", MNT_DETACH) < 0)
        r = csrt_step_fail(s, "umount2", ".", errno);
    if (r == 0)
        r = change_dir(s, "/");
    close(new_root);
    close(old_root);
    return r;
}

int32_t csrt_rootfs_switch(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    const struct csrt_step s = {f, CSRT_INIT_ROOT, -1};
    if (!plan->own_mount_namespace) {
        /* As runc and crun: the host's mount table stays in the namespace, so this isolates no
         * better than --no-pivot. */
        if (change_root(&s, plan->rootfs) < 0)
            return -1;
        return change_dir(&s, "/");
    }
    if (plan->no_pivot) {
        /* Needed on ramfs roots, which pivot_root refuses; weaker isolation. */
        if (change_dir(&s, plan->rootfs) < 0 || do_mount(&s, plan->rootfs, "/", NULL, MS_MOVE, NULL) < 0 ||
            change_root(&s, ".") < 0 || change_dir(&s, "/") < 0)
            return -1;
    } else if (pivot_into(&s, plan->rootfs) < 0) {
        return -1;
    }
    /* The bind of the rootfs was made under a private parent, so it starts out private whatever
     * "/" was: a "shared" root would not propagate to a bind of "/" made in the container, as it
     * does under crun, which gives "/" the propagation again here. */
    if (plan->new_root_propagation != 0)
        return do_mount(&s, NULL, "/", NULL, plan->new_root_propagation, NULL);
    return 0;
}

/* ---- sysctls ---- */

static int write_all(int fd, const char *text, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, text, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        text += n;
        length -= (size_t)n;
    }
    return 0;
}

int32_t csrt_rootfs_sysctls(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    for (int32_t i = 0; i < plan->sysctl_count; i++) {
        const struct csrt_step s = {f, CSRT_INIT_SYSCTL, i};
        const char *key = plan->sysctl_keys[i], *value = plan->sysctl_values[i] ? plan->sysctl_values[i] : "";
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "/proc/sys/%s", key) >= (int)sizeof path)
            return csrt_step_fail(&s, "open", key, ENAMETOOLONG);
        for (char *p = path + strlen("/proc/sys/"); *p; p++)
            if (*p == '.')
                *p = '/';
        int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
            return csrt_step_fail(&s, "open", path, errno);
        if (write_all(fd, value, strlen(value)) < 0) {
            int err = errno;
            close(fd);
            size_t shown = strlen(value);
            while (shown > 0 && (value[shown - 1] == '\n' || value[shown - 1] == ' ' || value[shown - 1] == '\t' ||
                                 value[shown - 1] == '\r'))
                shown--;
            return csrt_step_fail_detail(&s, "write", path, err, "writing \"%.*s\"", (int)shown, value);
        }
        close(fd);
    }
    return 0;
}

/* ---- Finish: masked paths, read-only paths, read-only root ---- */

/* stat(2) that treats a missing path (ENOENT, ENOTDIR) as "skip": 1 found, 0 missing, -1 failed. */
static int exists(const struct csrt_step *s, const char *path, struct stat *st)
{
    if (stat(path, st) == 0)
        return 1;
    if (errno == ENOENT || errno == ENOTDIR)
        return 0;
    return csrt_step_fail(s, "stat", path, errno);
}

int32_t csrt_rootfs_finish(const struct csrt_init_plan *plan, struct csrt_init_failure *f)
{
    /* After pivot_root "/" is the container's root, so these paths resolve inside it. */
    for (int32_t i = 0; i < plan->masked_paths.count; i++) {
        const struct csrt_step s = {f, CSRT_INIT_MASK, i};
        const char *path = plan->masked_paths.items[i];
        struct stat st;
        int found = exists(&s, path, &st);
        if (found < 0)
            return -1;
        if (!found)
            continue;
        int r = S_ISDIR(st.st_mode) ? do_mount(&s, "tmpfs", path, "tmpfs", MS_RDONLY, NULL)
                                    : do_mount(&s, "/dev/null", path, NULL, MS_BIND, NULL);
        if (r < 0)
            return -1;
    }
    for (int32_t i = 0; i < plan->readonly_paths.count; i++) {
        const struct csrt_step s = {f, CSRT_INIT_READONLY, i};
        const char *path = plan->readonly_paths.items[i];
        struct stat st;
        int found = exists(&s, path, &st);
        if (found < 0)
            return -1;
        if (!found)
            continue;
        unsigned long now;
        if (do_mount(&s, path, path, NULL, MS_BIND | MS_REC, NULL) < 0 || current_flags(&s, path, &now) < 0)
            return -1;
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | (now & (MS_NOSUID | MS_NODEV | MS_NOEXEC));
        if (do_mount(&s, NULL, path, NULL, flags, NULL) < 0)
            return -1;
    }
    if (plan->rootfs_readonly) {
        const struct csrt_step s = {f, CSRT_INIT_ROOT, -1};
        unsigned long now;
        if (current_flags(&s, "/", &now) < 0)
            return -1;
        return do_mount(&s, NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (now & (MS_NOSUID | MS_NODEV | MS_NOEXEC)),
                        NULL);
    }
    return 0;
}
