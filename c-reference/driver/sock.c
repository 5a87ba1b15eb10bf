/* The driver's socket commands (docs/driver-protocol.md): listen, accept, connect, send, recv and
 * shutdown, each one system call (send: one sendmsg, then plain sends for whatever it left). The
 * calls of send and recv, and the address of listen and connect, are the steps of steps.h
 * (steps.c), which driver mutants replace. listen
 * and connect make a stream socket, or a seqpacket one when the command's "type" says so. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "driver.h"
#include "steps.h"

#define MAX_DATA (64LL << 20)
#define MAX_CONTROL_FDS 4096

/* The address of the command's "path" field (the step driver_path_address, steps.h), which sees the
 * string's decoded length so that a NUL inside it is refused, not cut at. A missing field or one that
 * is not a string is a protocol error, as field_str words it. */
static int field_path(const struct jobject *c, struct sockaddr_un *a, socklen_t *len, const char *syscall,
                      struct failure *f) {
    const struct jfield *v = json_get(c, "path");
    if (v == NULL || v->type != J_STR) {
        const char *unused;
        if (field_str(c, "path", &unused, f) < 0)
            return -1;
        return fail_proto(f, "field \"path\" is not a string");
    }
    return driver_path_address(v->str, v->len, a, len, syscall, f);
}

/* The socket type of listen and connect: the optional field "type", "stream" (the default) or
 * "seqpacket"; any other (dgram included) is a type this driver does not offer (ENOTSUP). */
static int field_type(const struct jobject *c, int *type, struct failure *f) {
    const char *t;
    if (field_str_opt(c, "type", &t, "stream", f) < 0)
        return -1;
    if (strcmp(t, "stream") == 0)
        *type = SOCK_STREAM;
    else if (strcmp(t, "seqpacket") == 0)
        *type = SOCK_SEQPACKET;
    else {
        char what[64];
        snprintf(what, sizeof what, "socket type \"%.30s\"", t);
        return fail_unsupported(f, what);
    }
    return 0;
}

static int answer_name(struct buf *ans, const char *key, char prefix, int fd, struct failure *f) {
    struct named *e = name_add(prefix, fd, -1);
    if (e == NULL) {
        close(fd);
        return fail_errno(f, "driver");
    }
    buf_fmt(ans, ",\"%s\":", key);
    buf_jstr(ans, e->name);
    return 0;
}

int cmd_listen(const struct jobject *c, struct buf *ans, struct failure *f) {
    long long backlog;
    int type;
    struct sockaddr_un addr;
    socklen_t len;
    if (field_path(c, &addr, &len, "bind", f) < 0 || field_num(c, "backlog", &backlog, 16, 0, 65535, 0, f) < 0 ||
        field_type(c, &type, f) < 0)
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail_errno(f, "socket");
    if (bind(fd, (struct sockaddr *)&addr, len) < 0 || listen(fd, (int)backlog) < 0) {
        int err = errno;
        /* which call failed: a bound socket has a name */
        struct sockaddr_un got;
        socklen_t glen = sizeof got;
        int bound = getsockname(fd, (struct sockaddr *)&got, &glen) == 0 && glen > sizeof(sa_family_t);
        close(fd);
        return fail_with(f, err, bound ? "listen" : "bind");
    }
    return answer_name(ans, "sock", 'L', fd, f);
}

int cmd_accept(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *s;
    if (field_name(c, "sock", "accept", &s, f) < 0)
        return -1;
    int fd;
    do
        fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return fail_errno(f, "accept");
    return answer_name(ans, "conn", 'C', fd, f);
}

int cmd_connect(const struct jobject *c, struct buf *ans, struct failure *f) {
    int type;
    struct sockaddr_un addr;
    socklen_t len;
    if (field_path(c, &addr, &len, "connect", f) < 0 || field_type(c, &type, f) < 0)
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail_errno(f, "socket");
    int rc;
    do
        rc = connect(fd, (struct sockaddr *)&addr, len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int err = errno;
        close(fd);
        return fail_with(f, err, "connect");
    }
    return answer_name(ans, "conn", 'C', fd, f);
}

static const struct {
    const char *name;
    int bit;
} send_flags[] = {{"MSG_DONTWAIT", MSG_DONTWAIT}, {"MSG_OOB", MSG_OOB}, {"MSG_EOR", MSG_EOR},
                  {"MSG_MORE", MSG_MORE},         {"MSG_NOSIGNAL", MSG_NOSIGNAL}},
  recv_flags[] = {{"MSG_PEEK", MSG_PEEK}, {"MSG_DONTWAIT", MSG_DONTWAIT}, {"MSG_WAITALL", MSG_WAITALL}},
  msg_flags[] = {{"MSG_CTRUNC", MSG_CTRUNC}, {"MSG_TRUNC", MSG_TRUNC}, {"MSG_EOR", MSG_EOR},
                 {"MSG_OOB", MSG_OOB}, {"MSG_ERRQUEUE", MSG_ERRQUEUE}};

#define FLAG_BITS(table, c, out, f) flag_bits(c, table, sizeof table / sizeof table[0], out, f)

static int flag_bits(const struct jobject *c, const void *table, size_t n, int *out, struct failure *f) {
    const struct {
        const char *name;
        int bit;
    } *t = table;
    char **names;
    size_t count;
    *out = 0;
    if (field_strs(c, "flags", &names, &count, f) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        size_t k = 0;
        while (k < n && strcmp(t[k].name, names[i]) != 0)
            k++;
        if (k == n)
            return fail_proto(f, "unknown flag \"%.60s\"", names[i]);
        *out |= t[k].bit;
    }
    return 0;
}

int cmd_send(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *conn;
    const char *data64;
    char **names;
    size_t nfds, len = 0;
    int flags, once;
    if (field_name(c, "conn", "sendmsg", &conn, f) < 0 || field_str_opt(c, "data", &data64, "", f) < 0 ||
        field_strs(c, "fds", &names, &nfds, f) < 0 || FLAG_BITS(send_flags, c, &flags, f) < 0 ||
        field_bool(c, "once", &once, 0, f) < 0)
        return -1;
    unsigned char *data = base64_decode(data64, strlen(data64), &len);
    if (data == NULL)
        return fail_proto(f, "field \"data\" is not base64");
    int *fds = NULL;
    if (nfds > 0 && (fds = calloc(nfds, sizeof(int))) == NULL) {
        free(data);
        return fail_with(f, ENOMEM, "sendmsg");
    }
    for (size_t i = 0; i < nfds; i++) {
        struct named *e = name_find(names[i]);
        if (e == NULL) {
            free(data), free(fds);
            return fail_with(f, EBADF, "sendmsg");
        }
        fds[i] = e->fd;
    }
    flags |= MSG_NOSIGNAL; /* a peer that went away is EPIPE, never SIGPIPE */
    size_t sent = 0;
    int rc;
    if (nfds > 0) {
        rc = driver_send_fds(conn->fd, data, len, fds, nfds, flags, once, &sent, f); /* the step */
    } else {
        ssize_t n = driver_sendmsg(conn->fd, data, len, NULL, 0, flags);
        rc = n < 0 ? fail_errno(f, "sendmsg") : 0;
        sent = n < 0 ? 0 : (size_t)n;
        if (rc == 0 && !once)
            rc = driver_send_rest(conn->fd, data, len, &sent, flags, f);
    }
    free(data);
    free(fds);
    if (rc == 0)
        buf_fmt(ans, ",\"sent\":%zu", sent);
    return rc;
}

static void answer_flags(struct buf *ans, int bits) {
    buf_cstr(ans, ",\"flags\":[");
    int first = 1;
    for (size_t i = 0; i < sizeof msg_flags / sizeof msg_flags[0]; i++)
        if (bits & msg_flags[i].bit) {
            buf_fmt(ans, "%s\"%s\"", first ? "" : ",", msg_flags[i].name);
            first = 0;
        }
    buf_cstr(ans, "]");
}

int cmd_recv(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *conn;
    long long size, ctl_fds;
    int cloexec, plain, flags;
    if (field_name(c, "conn", "recvmsg", &conn, f) < 0 ||
        field_num(c, "dataSize", &size, 0, 1, MAX_DATA, 1, f) < 0 ||
        field_num(c, "controlFds", &ctl_fds, 0, 0, MAX_CONTROL_FDS, 0, f) < 0 ||
        field_bool(c, "cloexec", &cloexec, 0, f) < 0 || field_bool(c, "plain", &plain, 0, f) < 0 ||
        FLAG_BITS(recv_flags, c, &flags, f) < 0)
        return -1;
    unsigned char *data = malloc((size_t)size);
    if (data == NULL)
        return fail_with(f, ENOMEM, plain ? "read" : "recvmsg");
    int *fds = NULL, bits = 0;
    size_t nfds = 0;
    ssize_t n = plain ? driver_plain_read(conn->fd, data, (size_t)size, f)
                      : driver_recv(conn->fd, data, (size_t)size, (size_t)ctl_fds, cloexec, flags, &fds, &nfds, &bits, f);
    if (n < 0) {
        free(data), free(fds);
        return -1;
    }
    buf_cstr(ans, ",\"data\":");
    buf_b64(ans, data, (size_t)n);
    buf_cstr(ans, ",\"fds\":[");
    size_t got = 0;
    for (size_t k = 0; k < nfds; k++) {
        struct named *e = name_add('R', fds[k], -1);
        if (e == NULL) { /* cannot name it: do not keep it */
            close(fds[k]);
            continue;
        }
        buf_cstr(ans, got++ ? "," : "");
        buf_jstr(ans, e->name);
    }
    buf_cstr(ans, "]");
    answer_flags(ans, bits);
    free(data);
    free(fds);
    return 0;
}

int cmd_shutdown(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *conn;
    const char *how;
    (void)ans;
    if (field_name(c, "conn", "shutdown", &conn, f) < 0 || field_str(c, "how", &how, f) < 0)
        return -1;
    int h = strcmp(how, "read") == 0 ? SHUT_RD : strcmp(how, "write") == 0 ? SHUT_WR : strcmp(how, "both") == 0 ? SHUT_RDWR : -1;
    if (h < 0)
        return fail_proto(f, "field \"how\" is \"%.20s\", not read, write or both", how);
    if (shutdown(conn->fd, h) < 0)
        return fail_errno(f, "shutdown");
    return 0;
}
