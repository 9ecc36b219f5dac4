/*
 * resident: prints the indexes of a file's pages that are in the page cache (mincore), one per
 * line. hack/layout/order.sh runs each command from a copy of the binary that only the command's
 * own page faults brought into the cache (readahead 0), so these are the pages the command touched.
 *
 * Usage: resident FILE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: resident FILE\n"); return 2; }
    int fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) { perror(argv[1]); return 2; }
    size_t pages = ((size_t)st.st_size + 4095) / 4096;
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *vec = malloc(pages);
    if (map == MAP_FAILED || vec == NULL) { perror("resident: mmap"); return 2; }
    if (mincore(map, (size_t)st.st_size, vec) != 0) { perror("resident: mincore"); return 2; }
    for (size_t i = 0; i < pages; i++)
        if (vec[i] & 1) printf("%zu\n", i);
    return 0;
}
