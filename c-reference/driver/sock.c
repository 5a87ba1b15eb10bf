/* The driver's socket commands other than the transfers (docs/driver-protocol.md, uds-driver/2):
 * listen, bind, accept, connect, shutdown, getsockname, getpeername, setsockopt, getsockopt and
 * peercred, each one system call or two (socket+bind+listen). The addresses of the commands, the
 * autobind, connect, shutdown, the options set and SO_PEERCRED are steps of steps.h (steps.c), which driver
 * mutants replace; send, sendto, recv and recvfrom are in msg.c. A socket is of the command's
 * "type": stream (the default), seqpacket or dgram. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "driver.h"
#include "steps.h"

/* The address of the command's "path" field (the step driver_path_address, steps.h), which sees the
 * string's decoded length so that a NUL inside it is refused, not cut at. */
static int field_path(const struct jfield *v, struct sockaddr_un *a, socklen_t *len, const char *syscall,
                      struct failure *f) {
    if (v->type != J_STR)
        return fail_proto(f, "field \"path\" is not a string");
    return driver_path_address(v->str, v->len, a, len, syscall, f);
}

int field_address(const struct jobject *c, struct sockaddr_un *a, socklen_t *len, int *none, const char *syscall,
                  struct failure *f) {
    const struct jfield *p = json_get(c, "path"), *ab = json_get(c, "abstract");
    int has_path = p != NULL && p->type != J_NULL, has_abstract = ab != NULL && ab->type != J_NULL;
    if (has_path && has_abstract)
        return fail_proto(f, "fields \"path\" and \"abstract\" are both given: an address is one of them");
    if (none != NULL)
        *none = !has_path && !has_abstract;
    if (!has_path && !has_abstract)
        return none != NULL ? 0 : fail_proto(f, "field \"path\" is missing (an address is \"path\" or \"abstract\")");
    if (has_path)
        return field_path(p, a, len, syscall, f);
    size_t n = 0;
    unsigned char *name = ab->type == J_STR ? base64_decode(ab->str, ab->len, &n) : NULL;
    if (name == NULL)
        return fail_proto(f, "field \"abstract\" is not a base64 string");
    int rc = driver_abstract_address(name, n, a, len, syscall, f);
    free(name);
    return rc;
}

int field_type(const struct jobject *c, int *type, struct failure *f) {
    const char *t;
    if (field_str_opt(c, "type", &t, "stream", f) < 0)
        return -1;
    if (strcmp(t, "stream") == 0)
        *type = SOCK_STREAM;
    else if (strcmp(t, "seqpacket") == 0)
        *type = SOCK_SEQPACKET;
    else if (strcmp(t, "dgram") == 0)
        *type = SOCK_DGRAM;
    else {
        char what[64];
        snprintf(what, sizeof what, "socket type \"%.30s\"", t);
        return fail_unsupported(f, what);
    }
    return 0;
}

void answer_address(struct buf *ans, const struct sockaddr_un *a, socklen_t len) {
    size_t bytes = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    if (bytes > sizeof a->sun_path)
        bytes = sizeof a->sun_path; /* never on Linux: an AF_UNIX address is at most 110 bytes */
    buf_fmt(ans, "{\"length\":%u,\"bytes\":", (unsigned)len);
    buf_b64(ans, (const unsigned char *)a->sun_path, bytes);
    buf_cstr(ans, "}");
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
    if (field_address(c, &addr, &len, NULL, "bind", f) < 0 ||
        field_num(c, "backlog", &backlog, 16, 0, 65535, 0, f) < 0 || field_type(c, &type, f) < 0)
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail_errno(f, "socket");
    const char *failed = bind(fd, (struct sockaddr *)&addr, len) < 0 ? "bind"
                         : listen(fd, (int)backlog) < 0              ? "listen" /* dgram: EOPNOTSUPP */
                                                                     : NULL;
    if (failed) {
        int err = errno;
        close(fd);
        return fail_with(f, err, failed);
    }
    return answer_name(ans, "sock", 'L', fd, f);
}

int cmd_bind(const struct jobject *c, struct buf *ans, struct failure *f) {
    int type, none;
    struct sockaddr_un addr;
    socklen_t len;
    if (field_address(c, &addr, &len, &none, "bind", f) < 0 || field_type(c, &type, f) < 0)
        return -1;
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fail_errno(f, "socket");
    int rc = none ? driver_autobind(fd, f)
                  : bind(fd, (struct sockaddr *)&addr, len) < 0 ? fail_errno(f, "bind") : 0;
    if (rc < 0) {
        close(fd);
        return -1;
    }
    return answer_name(ans, "sock", 'B', fd, f);
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

/* Sets or clears O_NONBLOCK on fd; 0, or -1 with f filled (syscall "fcntl"). */
static int set_nonblock(int fd, int on, struct failure *f) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) < 0)
        return fail_errno(f, "fcntl");
    return 0;
}

/* With "sock", that socket (from bind) is connected and keeps its name. With "nonblock", the
 * connect(2) alone is non-blocking (a full backlog: EAGAIN at once); the socket blocks again after. */
int cmd_connect(const struct jobject *c, struct buf *ans, struct failure *f) {
    int type, fd, nonblock;
    struct sockaddr_un addr;
    socklen_t len;
    const char *sock;
    if (field_address(c, &addr, &len, NULL, "connect", f) < 0 || field_type(c, &type, f) < 0 ||
        field_str_opt(c, "sock", &sock, NULL, f) < 0 || field_bool(c, "nonblock", &nonblock, 0, f) < 0)
        return -1;
    struct named *s = NULL;
    if (sock != NULL && (s = name_find(sock)) == NULL)
        return fail_with(f, EBADF, "connect");
    if (nonblock && s != NULL && set_nonblock(s->fd, 1, f) < 0)
        return -1;
    int rc = driver_connect(nonblock && s == NULL ? type | SOCK_NONBLOCK : type, s ? s->fd : -1, &addr, len, &fd, f);
    if (nonblock && s != NULL) {
        /* A failed connect keeps the named socket: it blocks again either way. */
        struct failure cleared;
        if (set_nonblock(s->fd, 0, rc < 0 ? &cleared : f) < 0 && rc == 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (nonblock && s == NULL && set_nonblock(fd, 0, f) < 0) {
        close(fd);
        return -1;
    }
    if (s != NULL) {
        buf_cstr(ans, ",\"conn\":");
        buf_jstr(ans, s->name);
        return 0;
    }
    return answer_name(ans, "conn", 'C', fd, f);
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
    return driver_shutdown(conn->fd, h, f);
}

/* getsockname and getpeername: the kernel's bytes and length, exactly (never "cleaned up"). */
static int sock_name(const struct jobject *c, struct buf *ans, struct failure *f, const char *syscall,
                     int (*call)(int, struct sockaddr *, socklen_t *)) {
    struct named *e;
    if (field_name(c, "name", syscall, &e, f) < 0)
        return -1;
    struct sockaddr_un a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    if (call(e->fd, (struct sockaddr *)&a, &len) < 0)
        return fail_errno(f, syscall);
    struct buf one = {0};
    answer_address(&one, &a, len);
    buf_raw(ans, ",", 1);
    buf_raw(ans, one.data + 1, one.len - 2); /* the object's members, as the answer's own */
    free(one.data);
    return 0;
}

int cmd_getsockname(const struct jobject *c, struct buf *ans, struct failure *f) {
    return sock_name(c, ans, f, "getsockname", getsockname);
}

int cmd_getpeername(const struct jobject *c, struct buf *ans, struct failure *f) {
    return sock_name(c, ans, f, "getpeername", getpeername);
}

static int field_option(const struct jobject *c, int *option, struct failure *f) {
    const char *name;
    if (field_str(c, "option", &name, f) < 0)
        return -1;
    *option = strcmp(name, "SO_PASSCRED") == 0 ? SO_PASSCRED
            : strcmp(name, "SO_SNDBUF") == 0   ? SO_SNDBUF
            : strcmp(name, "SO_RCVBUF") == 0   ? SO_RCVBUF
                                               : -1;
    if (*option < 0)
        return fail_proto(f, "field \"option\" is \"%.30s\", not SO_PASSCRED, SO_SNDBUF or SO_RCVBUF", name);
    return 0;
}

int cmd_setsockopt(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *e;
    int option;
    long long value;
    (void)ans;
    if (field_name(c, "name", "setsockopt", &e, f) < 0 || field_option(c, &option, f) < 0 ||
        field_num(c, "value", &value, 0, -2147483648LL, 2147483647LL, 1, f) < 0)
        return -1;
    return driver_setsockopt(e->fd, option, (int)value, f);
}

int cmd_getsockopt(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *e;
    int option, value = 0;
    socklen_t len = sizeof value;
    if (field_name(c, "name", "getsockopt", &e, f) < 0 || field_option(c, &option, f) < 0)
        return -1;
    if (getsockopt(e->fd, SOL_SOCKET, option, &value, &len) < 0)
        return fail_errno(f, "getsockopt");
    buf_fmt(ans, ",\"value\":%d", value);
    return 0;
}

int cmd_peercred(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *e;
    struct ucred cred;
    if (field_name(c, "name", "getsockopt", &e, f) < 0 || driver_peercred(e->fd, &cred, f) < 0)
        return -1;
    buf_fmt(ans, ",\"pid\":%ld,\"uid\":%lu,\"gid\":%lu", (long)cred.pid, (unsigned long)cred.uid,
            (unsigned long)cred.gid);
    return 0;
}
