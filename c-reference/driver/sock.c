/* The driver's socket commands (docs/driver-protocol.md): listen, accept, connect, send, recv and
 * shutdown, each one system call (send: one sendmsg, then plain sends for whatever it left). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "driver.h"

#define MAX_DATA (64LL << 20)
#define MAX_CONTROL_FDS 4096

/* The exact-length address of a pathname socket. A path that does not fit sun_path with its NUL is
 * refused (ENAMETOOLONG), never truncated; an empty path names nothing (ENOENT). */
static int make_addr(const char *path, struct sockaddr_un *a, socklen_t *len, const char *syscall,
                     struct failure *f) {
    size_t n = strlen(path);
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (n == 0)
        return fail_with(f, ENOENT, syscall);
    if (n >= sizeof a->sun_path)
        return fail_with(f, ENAMETOOLONG, syscall);
    memcpy(a->sun_path, path, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
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
    const char *path;
    long long backlog;
    struct sockaddr_un addr;
    socklen_t len;
    if (field_str(c, "path", &path, f) < 0 || field_num(c, "backlog", &backlog, 16, 0, 65535, 0, f) < 0 ||
        make_addr(path, &addr, &len, "bind", f) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    const char *path;
    struct sockaddr_un addr;
    socklen_t len;
    if (field_str(c, "path", &path, f) < 0 || make_addr(path, &addr, &len, "connect", f) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
    char *control = NULL;
    size_t clen = 0;
    if (nfds > 0) {
        clen = CMSG_SPACE(nfds * sizeof(int));
        if ((control = calloc(1, clen)) == NULL) {
            free(data);
            return fail_with(f, ENOMEM, "sendmsg");
        }
        struct cmsghdr *cm = (struct cmsghdr *)control;
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        for (size_t i = 0; i < nfds; i++) {
            struct named *e = name_find(names[i]);
            if (e == NULL) {
                free(data), free(control);
                return fail_with(f, EBADF, "sendmsg");
            }
            memcpy(CMSG_DATA(cm) + i * sizeof(int), &e->fd, sizeof(int));
        }
    }
    struct iovec iov = {.iov_base = data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = clen};
    ssize_t n;
    do
        n = sendmsg(conn->fd, &msg, flags | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int rc = n < 0 ? fail_errno(f, "sendmsg") : 0;
    size_t sent = n < 0 ? 0 : (size_t)n;
    /* A blocking stream send normally takes everything; what it left follows plainly (the fds went
     * with the first byte). */
    while (rc == 0 && !once && sent < len) {
        n = send(conn->fd, data + sent, len - sent, flags | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = fail_errno(f, "send");
        else
            sent += (size_t)n;
    }
    free(data);
    free(control);
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
    /* Exactly CMSG_LEN: CMSG_SPACE's padding would let Linux deliver one fd more than asked. */
    size_t clen = ctl_fds > 0 ? CMSG_LEN((size_t)ctl_fds * sizeof(int)) : 0;
    char *control = clen ? calloc(1, clen) : NULL;
    if (data == NULL || (clen && control == NULL)) {
        free(data), free(control);
        return fail_with(f, ENOMEM, plain ? "read" : "recvmsg");
    }
    struct iovec iov = {.iov_base = data, .iov_len = (size_t)size};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = clen};
    ssize_t n;
    do
        n = plain ? read(conn->fd, data, (size_t)size)
                  : recvmsg(conn->fd, &msg, flags | (cloexec ? MSG_CMSG_CLOEXEC : 0));
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        free(data), free(control);
        return fail_errno(f, plain ? "read" : "recvmsg");
    }
    buf_cstr(ans, ",\"data\":");
    buf_b64(ans, data, (size_t)n);
    buf_cstr(ans, ",\"fds\":[");
    size_t got = 0;
    for (struct cmsghdr *cm = plain ? NULL : CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(0))
            continue;
        size_t room = (size_t)(control + clen - (char *)CMSG_DATA(cm));
        size_t bytes = cm->cmsg_len - CMSG_LEN(0);
        size_t count = (bytes < room ? bytes : room) / sizeof(int);
        for (size_t k = 0; k < count; k++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
            struct named *e = name_add('R', fd, -1);
            if (e == NULL) { /* cannot name it: do not keep it */
                close(fd);
                continue;
            }
            buf_cstr(ans, got++ ? "," : "");
            buf_jstr(ans, e->name);
        }
    }
    buf_cstr(ans, "]");
    answer_flags(ans, plain ? 0 : msg.msg_flags);
    free(data);
    free(control);
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
