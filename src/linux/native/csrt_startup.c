/*
 * The .NET runtime's start-up, seen from the mount table.
 *
 * Before managed code runs, the .NET runtime looks for the process's memory and CPU cgroup limits:
 * it reads the whole of /proc/self/mountinfo (twice: the GC's memory limit and the CPU quota) to
 * find the cgroup mounts. The kernel formats every mount of the namespace for each read, so the cost
 * grows with the node's mount count, which grows with every pod (the rootfs, shm, secrets, ...): a
 * node with a few hundred pods makes each read cost more than the rest of a short csrt command.
 * Neither csrt nor its shim needs a limit from there: a short command's heap is what it allocates,
 * and the shim's heap stays far below any limit a pod could set (the Go shim, likewise, reads no
 * cgroup limit). So the binaries are linked with --wrap=fopen64 (the large-file fopen the runtime calls) and the runtime's fopen of the mount
 * table fails with ENOENT, as on a host without cgroups; the runtime then uses the machine's
 * memory and CPU count. Nothing else in these binaries opens files through stdio: the runtime core
 * reads /proc through the syscall layer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

FILE *__real_fopen64(const char *path, const char *mode);

FILE *__wrap_fopen64(const char *path, const char *mode)
{
    if (path && strcmp(path, "/proc/self/mountinfo") == 0) {
        errno = ENOENT;
        return NULL;
    }
    return __real_fopen64(path, mode);
}
