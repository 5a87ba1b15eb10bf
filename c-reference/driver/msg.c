/* The driver's transfers (docs/driver-protocol.md, uds-driver/2): send, sendto, recv and recvfrom.
 * Their system calls are steps of steps.h (steps.c), which driver mutants replace: send with fds
 * and no credentials goes through driver_send_fds (v1's fd passing); every other send, and every
 * sendto, through driver_send_message; recv without credentials through driver_recv (v1's), recv
 * with credentials and every recvfrom through driver_recv_control. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "driver.h"
#include "steps.h"

#define MAX_DATA (64LL << 20)
#define MAX_CONTROL_FDS 4096

struct flag {
    const char *name;
    int bit;
};
static const struct flag send_flags[] = {{"MSG_DONTWAIT", MSG_DONTWAIT}, {"MSG_OOB", MSG_OOB},
                                         {"MSG_EOR", MSG_EOR},           {"MSG_MORE", MSG_MORE},
                                         {"MSG_NOSIGNAL", MSG_NOSIGNAL}},
                         recv_flags[] = {{"MSG_PEEK", MSG_PEEK},
                                         {"MSG_DONTWAIT", MSG_DONTWAIT},
                                         {"MSG_WAITALL", MSG_WAITALL},
                                         {"MSG_TRUNC", MSG_TRUNC}}, /* input: the packet's full length */
    msg_flags[] = {{"MSG_CTRUNC", MSG_CTRUNC}, {"MSG_TRUNC", MSG_TRUNC}, {"MSG_EOR", MSG_EOR},
                   {"MSG_OOB", MSG_OOB},       {"MSG_ERRQUEUE", MSG_ERRQUEUE}};

#define FLAG_BITS(table, c, out, f) flag_bits(c, table, sizeof table / sizeof table[0], out, f)

static int flag_bits(const struct jobject *c, const struct flag *t, size_t n, int *out, struct failure *f) {
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

/* send's and sendto's optional "credentials": {pid, uid, gid}, integers. *present 0 when absent. */
static int field_credentials(const struct jobject *c, struct ucred *cred, int *present, struct failure *f) {
    const struct jfield *v = json_get(c, "credentials");
    *present = 0;
    if (v == NULL || v->type == J_NULL)
        return 0;
    if (v->type != J_OBJ)
        return fail_proto(f, "field \"credentials\" is not an object {pid, uid, gid}");
    long long pid, uid, gid;
    if (field_num(v->obj, "pid", &pid, 0, -2147483648LL, 2147483647LL, 1, f) < 0 ||
        field_num(v->obj, "uid", &uid, 0, 0, 4294967295LL, 1, f) < 0 ||
        field_num(v->obj, "gid", &gid, 0, 0, 4294967295LL, 1, f) < 0) {
        char inner[sizeof f->message];
        memcpy(inner, f->message, sizeof inner);
        return fail_proto(f, "in \"credentials\": %.200s", inner);
    }
    *cred = (struct ucred){.pid = (pid_t)pid, .uid = (uid_t)uid, .gid = (gid_t)gid};
    *present = 1;
    return 0;
}

/* The fds the command's "fds" names (malloc'd, or NULL when none). */
static int field_fds(const struct jobject *c, int **fds, size_t *nfds, struct failure *f) {
    char **names;
    *fds = NULL;
    if (field_strs(c, "fds", &names, nfds, f) < 0)
        return -1;
    if (*nfds > 0 && (*fds = calloc(*nfds, sizeof(int))) == NULL)
        return fail_with(f, ENOMEM, "sendmsg");
    for (size_t i = 0; i < *nfds; i++) {
        struct named *e = name_find(names[i]);
        if (e == NULL) {
            free(*fds);
            *fds = NULL;
            return fail_with(f, EBADF, "sendmsg");
        }
        (*fds)[i] = e->fd;
    }
    return 0;
}

/* The fields send and sendto share: data, fds, flags, credentials. */
struct outgoing {
    unsigned char *data;
    size_t len;
    int *fds;
    size_t nfds;
    int flags, has_cred;
    struct ucred cred;
};

static int field_outgoing(const struct jobject *c, struct outgoing *o, struct failure *f) {
    const char *data64;
    memset(o, 0, sizeof *o);
    if (field_str_opt(c, "data", &data64, "", f) < 0 || FLAG_BITS(send_flags, c, &o->flags, f) < 0 ||
        field_credentials(c, &o->cred, &o->has_cred, f) < 0)
        return -1;
    if ((o->data = base64_decode(data64, strlen(data64), &o->len)) == NULL)
        return fail_proto(f, "field \"data\" is not base64");
    if (field_fds(c, &o->fds, &o->nfds, f) < 0) {
        free(o->data);
        return -1;
    }
    o->flags |= MSG_NOSIGNAL; /* a peer that went away is EPIPE, never SIGPIPE */
    return 0;
}

int cmd_send(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *conn;
    struct outgoing o;
    int once;
    if (field_name(c, "conn", "sendmsg", &conn, f) < 0 || field_bool(c, "once", &once, 0, f) < 0 ||
        field_outgoing(c, &o, f) < 0)
        return -1;
    size_t sent = 0;
    int rc;
    if (o.nfds > 0 && !o.has_cred) {
        rc = driver_send_fds(conn->fd, o.data, o.len, o.fds, o.nfds, o.flags, once, &sent, f); /* the step */
    } else {
        ssize_t n = driver_send_message(conn->fd, NULL, 0, o.data, o.len, o.fds, o.nfds, o.has_cred ? &o.cred : NULL,
                                        o.flags, f); /* the step */
        rc = n < 0 ? -1 : 0;
        sent = n < 0 ? 0 : (size_t)n;
        if (rc == 0 && !once)
            rc = driver_send_rest(conn->fd, o.data, o.len, &sent, o.flags, f);
    }
    free(o.data);
    free(o.fds);
    if (rc == 0)
        buf_fmt(ans, ",\"sent\":%zu", sent);
    return rc;
}

/* One sendmsg with msg_name: a datagram's size is the call's, so nothing is sent "rest". */
int cmd_sendto(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *sock;
    struct outgoing o;
    struct sockaddr_un to;
    socklen_t tolen;
    if (field_name(c, "sock", "sendmsg", &sock, f) < 0 || field_address(c, &to, &tolen, NULL, "sendmsg", f) < 0 ||
        field_outgoing(c, &o, f) < 0)
        return -1;
    ssize_t n = driver_send_message(sock->fd, &to, tolen, o.data, o.len, o.fds, o.nfds, o.has_cred ? &o.cred : NULL,
                                    o.flags, f); /* the step */
    free(o.data);
    free(o.fds);
    if (n < 0)
        return -1;
    buf_fmt(ans, ",\"sent\":%zd", n);
    return 0;
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

/* Names the fds of every SCM_RIGHTS message (closing any it cannot name) and writes `fds` (all of
 * them, in order) and `control` (every message, in the kernel's order). */
static void answer_control(struct buf *ans, const struct recv_call *call) {
    struct buf control = {0};
    buf_cstr(ans, ",\"fds\":[");
    buf_cstr(&control, ",\"control\":[");
    size_t got = 0;
    for (size_t i = 0; i < call->ncontrol; i++) {
        const struct control_msg *m = &call->control[i];
        buf_cstr(&control, i ? "," : "");
        if (m->level == SOL_SOCKET && m->type == SCM_RIGHTS) {
            buf_cstr(&control, "{\"type\":\"SCM_RIGHTS\",\"fds\":[");
            size_t here = 0;
            for (size_t k = 0; k + sizeof(int) <= m->len; k += sizeof(int)) {
                int fd;
                memcpy(&fd, m->data + k, sizeof fd);
                struct named *e = name_add('R', fd, -1);
                if (e == NULL) { /* cannot name it: do not keep it */
                    close(fd);
                    continue;
                }
                buf_cstr(ans, got++ ? "," : "");
                buf_jstr(ans, e->name);
                buf_cstr(&control, here++ ? "," : "");
                buf_jstr(&control, e->name);
            }
            buf_cstr(&control, "]}");
        } else if (m->level == SOL_SOCKET && m->type == SCM_CREDENTIALS && m->len >= sizeof(struct ucred)) {
            struct ucred u;
            memcpy(&u, m->data, sizeof u);
            buf_fmt(&control, "{\"type\":\"SCM_CREDENTIALS\",\"pid\":%ld,\"uid\":%lu,\"gid\":%lu}", (long)u.pid,
                    (unsigned long)u.uid, (unsigned long)u.gid);
        } else {
            buf_fmt(&control, "{\"type\":\"other\",\"level\":%d,\"cmsgType\":%d,\"bytes\":", m->level, m->type);
            buf_b64(&control, m->data, m->len);
            buf_cstr(&control, "}");
        }
    }
    buf_cstr(ans, "]");
    buf_cstr(&control, "]");
    buf_raw(ans, control.data, control.len);
    free(control.data);
}

/* recv and recvfrom: the step's call, then data (what fit), fds, flags, length (recvmsg's value) and
 * control; recvfrom adds from. */
static int recv_common(const struct jobject *c, struct buf *ans, struct failure *f, int with_from) {
    struct named *conn;
    long long size, ctl_fds;
    int cloexec, plain, flags, credentials;
    if (field_name(c, "conn", "recvmsg", &conn, f) < 0 ||
        field_num(c, "dataSize", &size, 0, 1, MAX_DATA, 1, f) < 0 ||
        field_num(c, "controlFds", &ctl_fds, 0, 0, MAX_CONTROL_FDS, 0, f) < 0 ||
        field_bool(c, "cloexec", &cloexec, 0, f) < 0 || field_bool(c, "plain", &plain, 0, f) < 0 ||
        field_bool(c, "credentials", &credentials, 0, f) < 0 || FLAG_BITS(recv_flags, c, &flags, f) < 0)
        return -1;
    if (with_from && plain)
        return fail_proto(f, "field \"plain\" is true: recvfrom is a recvmsg");
    struct sockaddr_un from;
    memset(&from, 0, sizeof from);
    struct recv_call call = {.size = (size_t)size, .ctl_fds = (size_t)ctl_fds, .credentials = credentials,
                             .cloexec = cloexec, .flags = flags, .from = with_from ? &from : NULL};
    if ((call.data = malloc((size_t)size)) == NULL)
        return fail_with(f, ENOMEM, plain ? "read" : "recvmsg");
    ssize_t n;
    if (plain) {
        n = driver_plain_read(conn->fd, call.data, call.size, f); /* the step */
    } else if (!credentials && !with_from) {
        int *fds = NULL;
        size_t nfds = 0;
        n = driver_recv(conn->fd, call.data, call.size, call.ctl_fds, cloexec, flags, &fds, &nfds, &call.msg_flags,
                        f); /* the step */
        if (n >= 0 && nfds > 0) { /* v1's step reports SCM_RIGHTS only: one message of them all */
            call.control = calloc(1, sizeof *call.control);
            if (call.control != NULL) {
                call.control[0] = (struct control_msg){SOL_SOCKET, SCM_RIGHTS, (unsigned char *)fds, nfds * sizeof(int)};
                call.ncontrol = 1;
                fds = NULL;
            } else {
                for (size_t k = 0; k < nfds; k++)
                    close(fds[k]);
            }
        }
        free(fds);
    } else {
        n = driver_recv_control(conn->fd, &call, f); /* the step */
    }
    if (n < 0) {
        free(call.data);
        driver_free_control(&call);
        return -1;
    }
    buf_cstr(ans, ",\"data\":");
    buf_b64(ans, call.data, (size_t)n < call.size ? (size_t)n : call.size);
    answer_control(ans, &call); /* fds, control */
    answer_flags(ans, call.msg_flags);
    buf_fmt(ans, ",\"length\":%zd", n);
    if (with_from) {
        buf_cstr(ans, ",\"from\":");
        if (call.fromlen == 0)
            buf_cstr(ans, "null");
        else
            answer_address(ans, &from, call.fromlen);
    }
    free(call.data);
    driver_free_control(&call);
    return 0;
}

int cmd_recv(const struct jobject *c, struct buf *ans, struct failure *f) {
    return recv_common(c, ans, f, 0);
}

int cmd_recvfrom(const struct jobject *c, struct buf *ans, struct failure *f) {
    return recv_common(c, ans, f, 1);
}
