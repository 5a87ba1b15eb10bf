/* reference-driver: c-reference's driver process (docs/driver-protocol.md). It reads one JSON
 * command per line on stdin and answers each with one JSON line on stdout, in order; diagnostics
 * (never answers) go to stderr. End of stdin is a quit with status 0.
 *
 * This file holds the command loop, the name table, and the commands that only touch names
 * (hello, close, quit); sock.c, msg.c and fdops.c hold the rest, and steps.c the system calls that
 * driver mutants replace (steps.h). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "driver.h"
#include "steps.h"

#define PROTOCOL "uds-driver/2"

/* ---- failures ---- */

int fail_with(struct failure *f, int err, const char *syscall) {
    f->err = err;
    f->syscall = syscall;
    f->code = NULL;
    f->message[0] = '\0';
    return -1;
}

int fail_errno(struct failure *f, const char *syscall) {
    return fail_with(f, errno, syscall);
}

int fail_proto(struct failure *f, const char *fmt, ...) {
    fail_with(f, EINVAL, "driver");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof f->message, fmt, ap);
    va_end(ap);
    return -1;
}

int fail_unsupported(struct failure *f, const char *what) {
    fail_with(f, ENOTSUP, "driver");
    f->code = "ENOTSUP";
    snprintf(f->message, sizeof f->message, "not supported by reference-driver: %s", what);
    return -1;
}

/* ---- fields ---- */

static const char *type_name(enum jtype t) {
    static const char *const names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
    return names[t];
}

int field_str_opt(const struct jobject *c, const char *key, const char **out, const char *def,
                  struct failure *f) {
    const struct jfield *v = json_get(c, key);
    if (v == NULL || v->type == J_NULL) {
        *out = def;
        return 0;
    }
    if (v->type != J_STR)
        return fail_proto(f, "field \"%s\" is %s, not a string", key, type_name(v->type));
    if (strlen(v->str) != v->len)
        return fail_proto(f, "field \"%s\" holds a NUL character", key);
    *out = v->str;
    return 0;
}

int field_str(const struct jobject *c, const char *key, const char **out, struct failure *f) {
    if (field_str_opt(c, key, out, NULL, f) < 0)
        return -1;
    if (*out == NULL)
        return fail_proto(f, "field \"%s\" is missing", key);
    return 0;
}

int field_num(const struct jobject *c, const char *key, long long *out, long long def, long long min,
              long long max, int required, struct failure *f) {
    const struct jfield *v = json_get(c, key);
    if (v == NULL || v->type == J_NULL) {
        if (required)
            return fail_proto(f, "field \"%s\" is missing", key);
        *out = def;
        return 0;
    }
    if (v->type != J_NUM)
        return fail_proto(f, "field \"%s\" is %s, not an integer", key, type_name(v->type));
    if (v->num < min || v->num > max)
        return fail_proto(f, "field \"%s\" is %lld, not in [%lld, %lld]", key, v->num, min, max);
    *out = v->num;
    return 0;
}

int field_bool(const struct jobject *c, const char *key, int *out, int def, struct failure *f) {
    const struct jfield *v = json_get(c, key);
    if (v == NULL || v->type == J_NULL) {
        *out = def;
        return 0;
    }
    if (v->type != J_BOOL)
        return fail_proto(f, "field \"%s\" is %s, not a boolean", key, type_name(v->type));
    *out = (int)v->num;
    return 0;
}

int field_strs(const struct jobject *c, const char *key, char ***out, size_t *n, struct failure *f) {
    const struct jfield *v = json_get(c, key);
    if (v == NULL || v->type == J_NULL) {
        *out = NULL;
        *n = 0;
        return 0;
    }
    if (v->type != J_STRS)
        return fail_proto(f, "field \"%s\" is %s, not an array of strings", key, type_name(v->type));
    *out = v->strs;
    *n = v->len;
    return 0;
}

/* ---- names ---- */

static struct named *table;
static size_t table_len, table_cap;
static unsigned long long name_counter;

struct named *name_add(char prefix, int fd, int peer) {
    if (table_len == table_cap) {
        size_t cap = table_cap ? table_cap * 2 : 64;
        struct named *grown = realloc(table, cap * sizeof *grown);
        if (grown == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        table = grown;
        table_cap = cap;
    }
    struct named *e = &table[table_len++];
    snprintf(e->name, sizeof e->name, "%c%llu", prefix, ++name_counter);
    e->fd = fd;
    e->peer = peer;
    return e;
}

struct named *name_find(const char *name) {
    for (size_t i = 0; i < table_len; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    errno = EBADF;
    return NULL;
}

int field_name(const struct jobject *c, const char *key, const char *syscall, struct named **out,
               struct failure *f) {
    const char *name;
    if (field_str(c, key, &name, f) < 0)
        return -1;
    if ((*out = name_find(name)) == NULL)
        return fail_with(f, EBADF, syscall);
    return 0;
}

static void name_remove(struct named *e) {
    driver_close(e->fd, e->name[0]); /* the step */
    if (e->peer >= 0)
        close(e->peer);
    *e = table[--table_len]; /* order does not matter: lookups are by name */
}

/* ---- the commands that only touch names ---- */

/* What this driver can do (uds-driver/2's capabilities): every socket type at both address kinds,
 * with every feature there, except that SO_PEERCRED names a connection's peer (stream, seqpacket)
 * and autobind gives an abstract name; and every command it answers. A driver mutant
 * (fixtures/mutants/driver-*.c) answers the same: it is this driver with one step replaced. */
#define FEATURES_CONNECTED "[\"fds\",\"peercred\",\"passcred\",\"sendcred\",\"getsockname\",\"sndbuf\",\"msg-trunc\",\"msg-peek\",\"msg-dontwait\",\"shutdown-read\",\"msg-waitall\""
#define FEATURES_DGRAM "[\"fds\",\"passcred\",\"sendcred\",\"getsockname\",\"sndbuf\",\"msg-trunc\",\"msg-peek\",\"msg-dontwait\",\"shutdown-read\",\"msg-waitall\""
#define SOCKET_ENTRY(type, address, features, extra) \
    "{\"type\":\"" type "\",\"address\":\"" address "\",\"features\":" features extra "]}"
#define CAPABILITIES                                                                                           \
    "{\"types\":[\"stream\",\"seqpacket\",\"dgram\"],\"addresses\":[\"pathname\",\"abstract\"],\"fds\":true,"     \
    "\"credentials\":true,\"commands\":[\"hello\",\"listen\",\"bind\",\"accept\",\"connect\",\"send\",\"sendto\","     \
    "\"recv\",\"recvfrom\",\"shutdown\",\"close\",\"getsockname\",\"getpeername\",\"setsockopt\",\"getsockopt\","     \
    "\"peercred\",\"setrlimit\",\"mkfd\",\"stat\",\"read\",\"fds\",\"open\",\"whoami\",\"reset\",\"quit\"],"   \
    "\"sockets\":["   \
    SOCKET_ENTRY("stream", "pathname", FEATURES_CONNECTED, "") ","                                             \
    SOCKET_ENTRY("stream", "abstract", FEATURES_CONNECTED, ",\"autobind\"") ","                               \
    SOCKET_ENTRY("seqpacket", "pathname", FEATURES_CONNECTED, "") ","                                          \
    SOCKET_ENTRY("seqpacket", "abstract", FEATURES_CONNECTED, ",\"autobind\"") ","                            \
    SOCKET_ENTRY("dgram", "pathname", FEATURES_DGRAM, "") ","                                                  \
    SOCKET_ENTRY("dgram", "abstract", FEATURES_DGRAM, ",\"autobind\"") "]}"

static int cmd_hello(const struct jobject *c, struct buf *ans, struct failure *f) {
    (void)c, (void)f;
    buf_cstr(ans, ",\"protocol\":\"" PROTOCOL "\",\"implementation\":\"c-reference\",\"capabilities\":" CAPABILITIES);
    return 0;
}

static int cmd_close(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *e;
    (void)ans;
    if (field_name(c, "name", "close", &e, f) < 0)
        return -1;
    name_remove(e);
    return 0;
}

/* The soft RLIMIT_NOFILE after start-up (raise_fd_limit): what reset puts back. */
static struct rlimit start_nofile;

/* Back to the state after hello, for the harness to run another case on this process (issue 17):
 * every name closed with plain close(2), not the close step (this is the harness's bookkeeping, not
 * the call under test, and a mutant's close must not leave the next case an fd), the soft
 * RLIMIT_NOFILE put back, and the cwd moved to "dir" when given. Names keep counting: never reused. */
static int cmd_reset(const struct jobject *c, struct buf *ans, struct failure *f) {
    const char *dir;
    (void)ans;
    if (field_str_opt(c, "dir", &dir, NULL, f) < 0)
        return -1;
    while (table_len > 0) {
        struct named *e = &table[--table_len];
        close(e->fd);
        if (e->peer >= 0)
            close(e->peer);
    }
    if (setrlimit(RLIMIT_NOFILE, &start_nofile) < 0)
        return fail_errno(f, "setrlimit");
    if (dir != NULL && chdir(dir) < 0)
        return fail_errno(f, "chdir");
    return 0;
}

static const struct {
    const char *name;
    command_fn fn;
} commands[] = {
    {"hello", cmd_hello},           {"listen", cmd_listen},           {"bind", cmd_bind},
    {"accept", cmd_accept},         {"connect", cmd_connect},         {"send", cmd_send},
    {"sendto", cmd_sendto},         {"recv", cmd_recv},               {"recvfrom", cmd_recvfrom},
    {"shutdown", cmd_shutdown},     {"close", cmd_close},             {"getsockname", cmd_getsockname},
    {"getpeername", cmd_getpeername}, {"setsockopt", cmd_setsockopt}, {"getsockopt", cmd_getsockopt},
    {"peercred", cmd_peercred},     {"mkfd", cmd_mkfd},               {"stat", cmd_stat},
    {"read", cmd_read},             {"fds", cmd_fds},                 {"open", cmd_open},
    {"whoami", cmd_whoami},         {"setrlimit", cmd_setrlimit},     {"reset", cmd_reset},
};

/* ---- the loop ---- */

static void emit(struct buf *b) {
    buf_raw(b, "\n", 1);
    if (fwrite(b->data, 1, b->len, stdout) != b->len || fflush(stdout) == EOF) {
        perror("reference-driver: write stdout");
        exit(1);
    }
}

static void answer_failure(struct buf *out, const struct failure *f) {
    buf_cstr(out, "\"ok\":false,\"error\":{\"code\":");
    buf_jstr(out, f->code ? f->code : errno_name(f->err));
    buf_fmt(out, ",\"errno\":%d,\"syscall\":", f->err);
    buf_jstr(out, f->syscall);
    buf_cstr(out, ",\"message\":");
    buf_jstr(out, f->message[0] ? f->message : strerror(f->err));
    buf_cstr(out, "}}");
}

/* Room for many fds: a message may carry 253, and a socket item holds two. */
static void raise_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the default of 1024 is enough too */
    }
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* a peer that went away is EPIPE, an answer, not death */
    raise_fd_limit();
    if (getrlimit(RLIMIT_NOFILE, &start_nofile) < 0) {
        perror("reference-driver: getrlimit");
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    struct buf out = {0};
    for (;;) {
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0)
            break; /* end of stdin: quit */
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        out.len = 0;
        buf_cstr(&out, "{");
        struct jobject cmd;
        struct failure f = {0};
        const char *why = NULL, *name = NULL;
        int quit = 0;
        long long id = -1, status = 0;
        if (json_parse(line, (size_t)n, &cmd, &why) < 0) {
            fail_proto(&f, "not a command: %s", why);
        } else if (field_num(&cmd, "id", &id, -1, 0, (1LL << 53), 0, &f) == 0 &&
                   field_str(&cmd, "cmd", &name, &f) == 0) {
            if (id >= 0)
                buf_fmt(&out, "\"id\":%lld,", id);
            if (strcmp(name, "quit") == 0) {
                quit = field_num(&cmd, "status", &status, 0, 0, 255, 0, &f) == 0;
            } else {
                command_fn fn = NULL;
                for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                    if (strcmp(commands[i].name, name) == 0)
                        fn = commands[i].fn;
                if (fn == NULL) {
                    char what[64];
                    snprintf(what, sizeof what, "command \"%.40s\"", name);
                    fail_unsupported(&f, what);
                } else {
                    struct buf fields = {0};
                    if (fn(&cmd, &fields, &f) == 0) {
                        buf_cstr(&out, "\"ok\":true");
                        if (fields.len)
                            buf_raw(&out, fields.data, fields.len);
                        buf_cstr(&out, "}");
                        f.syscall = NULL; /* success */
                    }
                    free(fields.data);
                }
            }
        }
        if (quit) {
            buf_cstr(&out, "\"ok\":true}");
        } else if (f.syscall != NULL) {
            out.len = 0; /* restart, keeping the id when there was one */
            buf_cstr(&out, "{");
            if (id >= 0)
                buf_fmt(&out, "\"id\":%lld,", id);
            answer_failure(&out, &f);
        }
        json_free(&cmd);
        emit(&out);
        if (quit) {
            while (table_len > 0)
                name_remove(&table[table_len - 1]);
            exit((int)status);
        }
    }
    free(line);
    free(out.data);
    return 0;
}
