/*
 * ttrpc-connect SOCKET: connects to a shim's ttrpc socket and sends one request
 * (containerd.task.v2.Task/Connect for id "x"), then waits up to 10 s for a reply.
 * Prints one line: "connect=<error>" when the connect fails, "closed" when the server
 * drops the connection without answering, "answered" when a reply frame arrives, "silent"
 * when nothing happens within the 10 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static size_t field(unsigned char *out, unsigned char tag, const char *value, size_t length)
{
    out[0] = tag;
    out[1] = (unsigned char)length;
    memcpy(out + 2, value, length);
    return 2 + length;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ttrpc-connect SOCKET\n");
        return 2;
    }
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
        printf("connect=%s\n", strerror(errno));
        return 0;
    }
    /* Request{service=1, method=2, payload=3 (ConnectRequest{id=1:"x"})} after a 10-byte header:
     * length (u32 BE), stream id (u32 BE, odd), type 1 (request), flags 0. */
    unsigned char body[128];
    size_t n = 0;
    const char *service = "containerd.task.v2.Task";
    n += field(body + n, 0x0a, service, strlen(service));
    n += field(body + n, 0x12, "Connect", 7);
    n += field(body + n, 0x1a, "\x0a\x01x", 3);
    unsigned char frame[160] = { 0, 0, 0, (unsigned char)n, 0, 0, 0, 1, 1, 0 };
    memcpy(frame + 10, body, n);
    if (write(s, frame, 10 + n) < 0) {
        printf("closed\n");
        return 0;
    }
    struct pollfd p = { .fd = s, .events = POLLIN };
    unsigned char reply[64];
    if (poll(&p, 1, 10000) != 1)
        printf("silent\n");
    else if (read(s, reply, sizeof reply) > 0)
        printf("answered\n");
    else
        printf("closed\n");
    return 0;
}
