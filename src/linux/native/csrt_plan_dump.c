/*
 * csrt_plan_dump.c — a canonical text form of a decoded plan, for the test that checks
 * csrt_plan.c against InitPlanCodec.cs (InitPlanCodecCrossCheckTests builds the same text from
 * the C# decoder's InitPlan). Exported from the shared library only: nothing in the runtime calls
 * it, so the executables, which link the static library, do not contain it.
 */
#define _GNU_SOURCE
#include "csrt_init.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strings: quoted, bytes outside printable ASCII and the quote and backslash as \xNN. */
static void put_string(FILE *f, const char *name, const char *s)
{
    if (!s) {
        fprintf(f, "%s=null\n", name);
        return;
    }
    fprintf(f, "%s=\"", name);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c < 0x20 || *c >= 0x7f || *c == '"' || *c == '\\')
            fprintf(f, "\\x%02x", *c);
        else
            fputc(*c, f);
    }
    fputs("\"\n", f);
}

static void put_strings(FILE *f, const char *name, const struct csrt_strings *s)
{
    char item[256];
    fprintf(f, "%s.count=%d\n", name, s->count);
    for (int32_t i = 0; i < s->count; i++) {
        snprintf(item, sizeof item, "%s[%d]", name, i);
        put_string(f, item, s->items[i]);
    }
    if (s->count >= 0 && s->items[s->count] != NULL)
        fprintf(f, "%s: not NULL-terminated\n", name);
}

#define U(name, v) fprintf(f, "%s%s=%" PRIu64 "\n", at, name, (uint64_t)(v))
#define S(name, v) fprintf(f, "%s%s=%" PRId64 "\n", at, name, (int64_t)(v))
#define STR(name, v) do { snprintf(key, sizeof key, "%s%s", at, name); put_string(f, key, v); } while (0)
#define STRS(name, v) do { snprintf(key, sizeof key, "%s%s", at, name); put_strings(f, key, v); } while (0)

static void put_hooks(FILE *f, const char *list, const struct csrt_hook_step *h, int32_t count)
{
    char at[128], key[256];
    fprintf(f, "%s.count=%d\n", list, count);
    for (int32_t i = 0; i < count; i++) {
        snprintf(at, sizeof at, "%s[%d].", list, i);
        STR("path", h[i].path);
        STRS("args", &h[i].args);
        STRS("env", &h[i].env);
        S("has_timeout", h[i].has_timeout);
        S("timeout_seconds", h[i].timeout_seconds);
    }
}

static void put_plan(FILE *f, const struct csrt_init_plan *p)
{
    char at[128] = "", key[256];
    STR("container_id", p->container_id);
    STR("bundle", p->bundle);
    STR("rootfs", p->rootfs);
    STR("rootfs_parent_mount", p->rootfs_parent_mount);
    S("rootfs_readonly", p->rootfs_readonly);
    U("root_propagation", p->root_propagation);
    U("new_root_propagation", p->new_root_propagation);
    S("no_pivot", p->no_pivot);
    S("no_new_keyring", p->no_new_keyring);
    S("own_mount_namespace", p->own_mount_namespace);
    S("in_user_namespace", p->in_user_namespace);
    S("new_cgroup_namespace", p->new_cgroup_namespace);
    S("new_network_namespace", p->new_network_namespace);
    S("mounts.count", p->mount_count);
    for (int32_t i = 0; i < p->mount_count; i++) {
        const struct csrt_mount_step *m = &p->mounts[i];
        snprintf(at, sizeof at, "mounts[%d].", i);
        STR("kind", m->kind);
        STR("source", m->source);
        STR("destination", m->destination);
        STR("type", m->type);
        U("flags", m->flags);
        U("cleared_flags", m->cleared_flags);
        S("propagation.count", m->propagation_count);
        for (int32_t j = 0; j < m->propagation_count; j++)
            fprintf(f, "%spropagation[%d]=%" PRIu64 "\n", at, j, m->propagation[j]);
        U("set_attributes", m->set_attributes);
        U("clear_attributes", m->clear_attributes);
        STR("data", m->data);
        S("copy_up", m->copy_up);
        S("cgroup_sources.count", m->cgroup_source_count);
        for (int32_t j = 0; j < m->cgroup_source_count; j++) {
            const struct csrt_cgroup_source *s = &m->cgroup_sources[j];
            snprintf(at, sizeof at, "mounts[%d].cgroup_sources[%d].", i, j);
            STR("name", s->name);
            STR("host_path", s->host_path);
            STR("options", s->options);
            STRS("aliases", &s->aliases);
            snprintf(at, sizeof at, "mounts[%d].", i);
        }
        S("mount_fd", m->mount_fd);
    }
    at[0] = 0;
    S("setup_dev", p->setup_dev);
    S("devices.count", p->device_count);
    for (int32_t i = 0; i < p->device_count; i++) {
        const struct csrt_device_node *d = &p->devices[i];
        snprintf(at, sizeof at, "devices[%d].", i);
        STR("path", d->path);
        U("type", d->type);
        S("major", d->major);
        S("minor", d->minor);
        U("file_mode", d->file_mode);
        U("uid", d->uid);
        U("gid", d->gid);
    }
    at[0] = 0;
    STR("hostname", p->hostname);
    STR("domainname", p->domainname);
    S("sysctl.count", p->sysctl_count);
    for (int32_t i = 0; i < p->sysctl_count; i++) {
        snprintf(at, sizeof at, "sysctl[%d].", i);
        STR("key", p->sysctl_keys[i]);
        STR("value", p->sysctl_values[i]);
    }
    at[0] = 0;
    STRS("masked_paths", &p->masked_paths);
    STRS("readonly_paths", &p->readonly_paths);
    S("rlimits.count", p->rlimit_count);
    for (int32_t i = 0; i < p->rlimit_count; i++) {
        snprintf(at, sizeof at, "rlimits[%d].", i);
        S("resource", p->rlimits[i].resource);
        STR("name", p->rlimits[i].name);
        U("soft", p->rlimits[i].soft);
        U("hard", p->rlimits[i].hard);
    }
    at[0] = 0;
    S("has_oom_score_adj", p->has_oom_score_adj);
    S("oom_score_adj", p->oom_score_adj);
    const struct csrt_process_plan *q = &p->process;
    snprintf(at, sizeof at, "process.");
    STRS("args", &q->args);
    STRS("env", &q->env);
    STR("cwd", q->cwd);
    U("uid", q->uid);
    U("gid", q->gid);
    S("additional_gids.count", q->additional_gid_count);
    for (int32_t i = 0; i < q->additional_gid_count; i++)
        fprintf(f, "%sadditional_gids[%d]=%u\n", at, i, q->additional_gids[i]);
    S("has_umask", q->has_umask);
    S("umask", q->umask);
    S("set_capabilities", q->set_capabilities);
    U("cap_bounding", q->cap_bounding);
    U("cap_effective", q->cap_effective);
    U("cap_permitted", q->cap_permitted);
    U("cap_inheritable", q->cap_inheritable);
    U("cap_ambient", q->cap_ambient);
    S("no_new_privileges", q->no_new_privileges);
    S("seccomp_length", q->seccomp_length);
    fprintf(f, "%sseccomp=", at);
    for (int32_t i = 0; i < q->seccomp_length; i++)
        fprintf(f, "%02x", q->seccomp[i]);
    fputc('\n', f);
    U("seccomp_flags", q->seccomp_flags);
    S("has_personality", q->has_personality);
    S("personality", q->personality);
    S("terminal", q->terminal);
    U("console_height", q->console_height);
    U("console_width", q->console_width);
    at[0] = 0;
    put_hooks(f, "create_container_hooks", p->create_container_hooks, p->create_container_hook_count);
    put_hooks(f, "start_container_hooks", p->start_container_hooks, p->start_container_hook_count);
    STR("hook_state", p->hook_state);
    S("preserve_fds", p->preserve_fds);
    S("console_socket_fd", p->console_socket_fd);
    S("exec_fifo_fd", p->exec_fifo_fd);
}

/* Decodes data and writes the dump (NUL-terminated) into buf. Returns its length, -EINVAL when
 * the plan does not decode, -ENOSPC when buf is too small. Test entry point. */
int32_t csrt_plan_dump(const uint8_t *data, size_t length, char *buf, size_t size)
{
    struct csrt_init_plan plan;
    char *text = NULL;
    size_t n = 0;
    int32_t r = csrt_plan_decode(data, length, &plan);
    if (r < 0)
        return r;
    FILE *f = open_memstream(&text, &n);
    if (!f)
        return -ENOMEM;
    put_plan(f, &plan);
    fclose(f);
    if (n + 1 > size) {
        free(text);
        return -ENOSPC;
    }
    memcpy(buf, text, n + 1);
    free(text);
    return (int32_t)n;
}
