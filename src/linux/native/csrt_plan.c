/*
 * csrt_plan.c — decodes the InitPlan the runtime sends on the sync socket (InitPlanCodec.cs's
 * binary form) into struct csrt_init_plan. Field for field the order of InitPlanCodec.Plan and the
 * methods it calls: LEB128 varints, signed ones zigzagged; strings, byte arrays and lists carry
 * their length + 1, 0 for null. Where C# turns a null list or string into an empty one on reading
 * (its non-nullable properties), so does this decoder, so the two decoded plans are the same
 * (csrt_plan_dump.c and InitPlanCodecCrossCheckTests compare them).
 */
#define _GNU_SOURCE
#include "csrt_init.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct reader {
    const uint8_t *data;
    size_t length;
    size_t at;
    int bad;
};

static void *alloc(struct reader *r, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        r->bad = 1;
    return p;
}

static uint64_t get_unsigned(struct reader *r)
{
    uint64_t v = 0;
    if (r->bad)
        return 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->at >= r->length) {
            r->bad = 1;
            return 0;
        }
        uint8_t b = r->data[r->at++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80)
            return v;
    }
    r->bad = 1;
    return 0;
}

static int64_t get_signed(struct reader *r)
{
    uint64_t u = get_unsigned(r);
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

static int32_t get_bool(struct reader *r)
{
    return get_unsigned(r) != 0;
}

/* An element count, -1 for null; more elements than bytes left is a truncated plan (each
 * element takes at least one byte). */
static int32_t get_count(struct reader *r)
{
    uint64_t n = get_unsigned(r);
    if (r->bad)
        return -1;
    if (n > (uint64_t)(r->length - r->at) + 1 || n > (uint64_t)INT32_MAX) {
        r->bad = 1;
        return -1;
    }
    return (int32_t)n - 1;
}

/* Bytes with their length, NUL-terminated for strings; NULL for null. */
static uint8_t *get_span(struct reader *r, int32_t *length)
{
    uint64_t n = get_unsigned(r);
    *length = -1;
    if (r->bad || n == 0)
        return NULL;
    uint64_t len = n - 1;
    if (len > (uint64_t)(r->length - r->at) || len > (uint64_t)INT32_MAX - 1) {
        r->bad = 1;
        return NULL;
    }
    uint8_t *p = alloc(r, (size_t)len + 1);
    if (!p)
        return NULL;
    memcpy(p, r->data + r->at, (size_t)len);
    p[len] = 0;
    r->at += (size_t)len;
    *length = (int32_t)len;
    return p;
}

static char *get_string(struct reader *r)
{
    int32_t len;
    return (char *)get_span(r, &len);
}

/* InitPlanCodec's Text: a string that is never null. */
static char *get_text(struct reader *r)
{
    char *s = get_string(r);
    return s ? s : alloc(r, 1);
}

static struct csrt_strings get_strings(struct reader *r, int null_is_empty)
{
    struct csrt_strings s = { NULL, -1 };
    int32_t n = get_count(r);
    if (n < 0) {
        if (null_is_empty && !r->bad) {
            s.items = alloc(r, sizeof(char *));
            s.count = 0;
        }
        return s;
    }
    s.items = alloc(r, ((size_t)n + 1) * sizeof(char *));
    if (!s.items)
        return s;
    s.count = n;
    for (int32_t i = 0; i < n && !r->bad; i++)
        s.items[i] = get_text(r);
    return s;
}

/* A list of n elements of `size` bytes; *count is -1 for null (0 when null_is_empty). */
static void *get_list(struct reader *r, size_t size, int32_t *count, int null_is_empty)
{
    int32_t n = get_count(r);
    *count = n;
    if (n < 0) {
        if (null_is_empty)
            *count = 0;
        return NULL;
    }
    return alloc(r, (size_t)n * size);
}

static int32_t get_nullable_signed(struct reader *r, int32_t *has)
{
    *has = get_bool(r);
    return *has ? (int32_t)get_signed(r) : 0;
}

static void get_cgroup_source(struct reader *r, struct csrt_cgroup_source *s)
{
    s->name = get_text(r);
    s->host_path = get_text(r);
    s->options = get_text(r);
    s->aliases = get_strings(r, 1);
}

static void get_mount(struct reader *r, struct csrt_mount_step *m)
{
    m->kind = get_text(r);
    m->source = get_string(r);
    m->destination = get_text(r);
    m->type = get_string(r);
    m->flags = get_unsigned(r);
    m->cleared_flags = get_unsigned(r);
    m->propagation = get_list(r, sizeof(uint64_t), &m->propagation_count, 1);
    for (int32_t i = 0; i < m->propagation_count && !r->bad; i++)
        m->propagation[i] = get_unsigned(r);
    m->set_attributes = get_unsigned(r);
    m->clear_attributes = get_unsigned(r);
    m->data = get_string(r);
    m->copy_up = get_bool(r);
    m->cgroup_sources = get_list(r, sizeof(struct csrt_cgroup_source), &m->cgroup_source_count, 0);
    for (int32_t i = 0; i < m->cgroup_source_count && !r->bad; i++)
        get_cgroup_source(r, &m->cgroup_sources[i]);
    m->mount_fd = (int32_t)get_signed(r);
}

static void get_device(struct reader *r, struct csrt_device_node *d)
{
    d->path = get_text(r);
    d->type = (uint16_t)get_unsigned(r); /* a C# char */
    d->major = get_signed(r);
    d->minor = get_signed(r);
    d->file_mode = (uint32_t)get_unsigned(r);
    d->uid = (uint32_t)get_unsigned(r);
    d->gid = (uint32_t)get_unsigned(r);
}

static void get_rlimit(struct reader *r, struct csrt_rlimit_step *l)
{
    l->resource = (int32_t)get_signed(r);
    l->name = get_text(r);
    l->soft = get_unsigned(r);
    l->hard = get_unsigned(r);
}

static void get_hook(struct reader *r, struct csrt_hook_step *h)
{
    h->path = get_text(r);
    h->args = get_strings(r, 1);
    h->env = get_strings(r, 1);
    h->timeout_seconds = get_nullable_signed(r, &h->has_timeout);
}

static struct csrt_hook_step *get_hooks(struct reader *r, int32_t *count)
{
    struct csrt_hook_step *hooks = get_list(r, sizeof *hooks, count, 1);
    for (int32_t i = 0; i < *count && !r->bad; i++)
        get_hook(r, &hooks[i]);
    return hooks;
}

static void get_process(struct reader *r, struct csrt_process_plan *p)
{
    p->args = get_strings(r, 1);
    p->env = get_strings(r, 1);
    p->cwd = get_text(r);
    p->uid = (uint32_t)get_unsigned(r);
    p->gid = (uint32_t)get_unsigned(r);
    p->additional_gids = get_list(r, sizeof(uint32_t), &p->additional_gid_count, 0);
    for (int32_t i = 0; i < p->additional_gid_count && !r->bad; i++)
        p->additional_gids[i] = (uint32_t)get_unsigned(r);
    p->umask = get_nullable_signed(r, &p->has_umask);
    p->set_capabilities = get_bool(r);
    p->cap_bounding = get_unsigned(r);
    p->cap_effective = get_unsigned(r);
    p->cap_permitted = get_unsigned(r);
    p->cap_inheritable = get_unsigned(r);
    p->cap_ambient = get_unsigned(r);
    p->no_new_privileges = get_bool(r);
    p->seccomp = get_span(r, &p->seccomp_length);
    p->seccomp_flags = (uint32_t)get_unsigned(r);
    p->personality = get_nullable_signed(r, &p->has_personality);
    p->terminal = get_bool(r);
    p->console_height = (uint16_t)get_unsigned(r);
    p->console_width = (uint16_t)get_unsigned(r);
}

int32_t csrt_plan_decode(const uint8_t *data, size_t length, struct csrt_init_plan *p)
{
    struct reader rd = { data, length, 0, 0 }, *r = &rd;
    memset(p, 0, sizeof *p);
    p->container_id = get_text(r);
    p->bundle = get_text(r);
    p->rootfs = get_text(r);
    p->rootfs_parent_mount = get_string(r);
    p->rootfs_readonly = get_bool(r);
    p->root_propagation = get_unsigned(r);
    p->new_root_propagation = get_unsigned(r);
    p->no_pivot = get_bool(r);
    p->no_new_keyring = get_bool(r);
    p->own_mount_namespace = get_bool(r);
    p->in_user_namespace = get_bool(r);
    p->new_cgroup_namespace = get_bool(r);
    p->new_network_namespace = get_bool(r);
    p->mounts = get_list(r, sizeof *p->mounts, &p->mount_count, 1);
    for (int32_t i = 0; i < p->mount_count && !r->bad; i++)
        get_mount(r, &p->mounts[i]);
    p->setup_dev = get_bool(r);
    p->devices = get_list(r, sizeof *p->devices, &p->device_count, 1);
    for (int32_t i = 0; i < p->device_count && !r->bad; i++)
        get_device(r, &p->devices[i]);
    p->hostname = get_string(r);
    p->domainname = get_string(r);
    p->sysctl_count = get_count(r);
    if (p->sysctl_count >= 0) {
        p->sysctl_keys = alloc(r, ((size_t)p->sysctl_count + 1) * sizeof(char *));
        p->sysctl_values = alloc(r, ((size_t)p->sysctl_count + 1) * sizeof(char *));
        for (int32_t i = 0; i < p->sysctl_count && !r->bad; i++) {
            p->sysctl_keys[i] = get_text(r);
            p->sysctl_values[i] = get_text(r);
        }
    }
    p->masked_paths = get_strings(r, 1);
    p->readonly_paths = get_strings(r, 1);
    p->rlimits = get_list(r, sizeof *p->rlimits, &p->rlimit_count, 1);
    for (int32_t i = 0; i < p->rlimit_count && !r->bad; i++)
        get_rlimit(r, &p->rlimits[i]);
    p->oom_score_adj = get_nullable_signed(r, &p->has_oom_score_adj);
    get_process(r, &p->process);
    p->create_container_hooks = get_hooks(r, &p->create_container_hook_count);
    p->start_container_hooks = get_hooks(r, &p->start_container_hook_count);
    p->hook_state = get_text(r);
    p->preserve_fds = (int32_t)get_signed(r);
    p->console_socket_fd = (int32_t)get_signed(r);
    p->exec_fifo_fd = (int32_t)get_signed(r);
    if (r->bad || r->at != r->length)
        return -EINVAL;
    return 0;
}
