/*
 * csrt_release.c — a process drops its page-table view of the read-only pages of the ELF objects
 * it has loaded (code, read-only data), which stay in the page cache, shared, and fault back in
 * when touched. The container init does it right before it blocks on exec.fifo, where a created
 * container can wait for hours: its RSS is then little more than its stack and heap. The shim,
 * going idle between requests, does it for the ranges its smaps shows (Memory.cs).
 *
 * Only whole pages inside a non-writable PT_LOAD segment (dl_iterate_phdr: the headers in this
 * process's memory; the vDSO excluded) are ever advised away, so a wrong range can never drop a
 * page of the heap, a stack or a data segment.
 */
#define _GNU_SOURCE
#include "csrt_init.h"
#include "csrt_spawn.h"

#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

struct release_request {
    const struct csrt_range *ranges;
    int32_t count;
    uintptr_t page;
    uintptr_t vdso;
    int64_t released;
};

static int release_in_object(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct release_request *req = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && req->vdso >= start && req->vdso < start + ph->p_memsz)
            return 0; /* the vDSO: the kernel's pages, not a file's */
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
            continue;
        /* Whole pages inside the segment only: a page shared with a writable neighbour stays. */
        uintptr_t seg_start = (info->dlpi_addr + ph->p_vaddr + req->page - 1) & ~(req->page - 1);
        uintptr_t seg_end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(req->page - 1);
        for (int32_t r = 0; r < req->count; r++) {
            uintptr_t lo = (uintptr_t)req->ranges[r].start, hi = lo + (uintptr_t)req->ranges[r].length;
            lo = (lo < seg_start ? seg_start : lo + req->page - 1) & ~(req->page - 1);
            hi = (hi > seg_end ? seg_end : hi) & ~(req->page - 1);
            if (hi > lo && madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0)
                req->released += (int64_t)(hi - lo);
        }
    }
    return 0;
}

int64_t csrt_release(const struct csrt_range *ranges, int32_t count)
{
    struct release_request req = {
        .ranges = ranges,
        .count = count,
        .page = (uintptr_t)sysconf(_SC_PAGESIZE),
        .vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR),
    };
    if (count > 0)
        dl_iterate_phdr(release_in_object, &req);
    return req.released;
}

int64_t csrt_release_readonly_segments(void)
{
    static const struct csrt_range everything = { 0, ~0ULL >> 1 };
    struct release_request req = {
        .ranges = &everything,
        .count = 1,
        .page = (uintptr_t)sysconf(_SC_PAGESIZE),
        .vdso = (uintptr_t)getauxval(AT_SYSINFO_EHDR),
    };
    dl_iterate_phdr(release_in_object, &req);
    return req.released;
}
