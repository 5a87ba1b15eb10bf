/* fd-passing mode of the reference server (docs/fd-passing.md):
 *   reference-server PATH [PAYLOAD-FILE] --pass SPEC [--fd-dir DIR] [--fd-at A] [--fd-len L]
 *                    [--skip N] [--sender-cloexec]
 * Sends payload [0,A) plainly, [A,A+L) in one sendmsg carrying every fd of SPEC, the rest plainly;
 * then shutdown(SHUT_WR), waits for the client's EOF and prints one JSON line about the fds sent.
 * Binding, sending and removing the path are steps of server_steps.c (steps.h). */
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include "common.h"
#include "fdmode.h"
#include "steps.h"

#define MAX_ITEMS 4096 /* far above SCM_MAX_FD (253): the kernel, not us, refuses 254 */

struct item {
    const char *kind; /* "file", "pipe", "socket", "memfd" or "dir" */
    const char *path; /* file:PATH, else NULL */
    int fd;           /* the fd that travels */
    int peer;         /* socket: the other end of the pair; else -1 */
    struct stat st;
};

static struct item items[MAX_ITEMS];
static int item_fds[MAX_ITEMS]; /* items[i].fd, in order: what send_with_fds attaches */
static size_t nitems;

/* The socket path while it is ours to remove (from bind until accept). */
static const char *bound_path;
static volatile sig_atomic_t bound;

static void remove_bound_path(void) {
    if (bound) {
        bound = 0;
        unlink_path(bound_path);
    }
}

static void on_fatal_signal(int sig) {
    if (bound)
        unlink_path(bound_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void fail(const char *what) {
    fail_errno(what, errno);
}

static void add_items(const char *kind, const char *path, unsigned long long count) {
    static const char *const kinds[] = {"file", "pipe", "socket", "memfd", "dir"};
    const char *known = NULL;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        if (strcmp(kind, kinds[k]) == 0)
            known = kinds[k];
    if (known == NULL) {
        char what[160];
        snprintf(what, sizeof what, "--pass: unknown kind \"%.100s\"", kind);
        fail_errno(what, EINVAL);
    }
    if (count > MAX_ITEMS - nitems)
        fail_errno("--pass: too many fds", E2BIG);
    for (unsigned long long c = 0; c < count; c++)
        items[nitems++] = (struct item){.kind = known, .path = path, .fd = -1, .peer = -1};
}

/* SPEC: comma-separated items, each KIND, KIND*COUNT or file:ABSOLUTE-PATH (the path may hold
 * anything but a comma). The spec string is modified in place. */
static void parse_spec(char *spec) {
    char *save = NULL;
    for (char *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strncmp(tok, "file:", 5) == 0) {
            if (tok[5] != '/')
                fail_errno("--pass: file:PATH needs an absolute path", EINVAL);
            add_items("file", tok + 5, 1);
            continue;
        }
        char *star = strchr(tok, '*');
        unsigned long long count = 1;
        if (star != NULL) {
            *star = '\0';
            count = parse_number("--pass count", star + 1, 1, MAX_ITEMS);
        }
        add_items(tok, NULL, count);
    }
    if (nitems == 0)
        fail_errno("--pass: no fds given", EINVAL);
}

/* Item i's content: "fd-<i>-<kind>\n" four times. */
static size_t content_of(size_t i, char *buf, size_t size) {
    char line[64];
    int n = snprintf(line, sizeof line, "fd-%zu-%s\n", i, items[i].kind);
    size_t len = 0;
    for (int r = 0; r < 4 && len + (size_t)n < size; r++, len += (size_t)n)
        memcpy(buf + len, line, (size_t)n);
    return len;
}

static void fail_item(const char *op, size_t i) {
    char what[256];
    snprintf(what, sizeof what, "%s (fd %zu, %s%s%.160s)", op, i, items[i].kind,
             items[i].path ? ":" : "", items[i].path ? items[i].path : "");
    fail(what);
}

/* Creates item i's fd, writes its content and applies --skip and --sender-cloexec. */
static void prepare_item(size_t i, int dirfd, const char *dir, unsigned long long skip, int cloexec) {
    struct item *it = &items[i];
    char content[256];
    size_t clen = content_of(i, content, sizeof content);
    int fill = 0; /* write content into it->fd, then rewind */
    if (it->path != NULL) {
        if ((it->fd = open(it->path, O_RDONLY)) < 0)
            fail_item("open", i);
    } else if (strcmp(it->kind, "file") == 0) {
        /* A fresh name in DIR, unlinked at once: the open file lives on through the fds. */
        for (unsigned attempt = 0; it->fd < 0; attempt++) {
            char name[64];
            snprintf(name, sizeof name, ".uds-fd-%ld-%zu-%u", (long)getpid(), i, attempt);
            it->fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL, 0600);
            if (it->fd < 0 && (errno != EEXIST || attempt >= 100))
                fail_item("create in --fd-dir", i);
            if (it->fd >= 0 && unlinkat(dirfd, name, 0) < 0)
                fail_item("unlink created file", i);
        }
        fill = 1;
    } else if (strcmp(it->kind, "memfd") == 0) {
        char name[32];
        snprintf(name, sizeof name, "fd-%zu-memfd", i);
        if ((it->fd = memfd_create(name, 0)) < 0)
            fail_item("memfd_create", i);
        fill = 1;
    } else if (strcmp(it->kind, "pipe") == 0) {
        int p[2];
        if (pipe(p) < 0)
            fail_item("pipe", i);
        if (write_all(p[1], content, clen) < 0)
            fail_item("write pipe", i);
        close(p[1]);
        it->fd = p[0];
    } else if (strcmp(it->kind, "socket") == 0) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            fail_item("socketpair", i);
        if (write_all(sv[1], content, clen) < 0)
            fail_item("write socketpair", i);
        if (shutdown(sv[1], SHUT_WR) < 0)
            fail_item("shutdown socketpair", i);
        it->fd = sv[0];
        it->peer = sv[1];
    } else if ((it->fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0) { /* dir */
        fail_item("open --fd-dir", i);
    }
    if (fill && (write_all(it->fd, content, clen) < 0 || lseek(it->fd, 0, SEEK_SET) < 0))
        fail_item("write", i);
    if (skip > 0 && (strcmp(it->kind, "file") == 0 || strcmp(it->kind, "memfd") == 0)) {
        char buf[4096];
        unsigned long long done = 0;
        while (done < skip) {
            size_t want = skip - done < sizeof buf ? (size_t)(skip - done) : sizeof buf;
            ssize_t n = read(it->fd, buf, want);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                fail_item("--skip read", i);
            if (n == 0) {
                errno = EINVAL;
                fail_item("--skip: more bytes than the fd holds", i);
            }
            done += (unsigned long long)n;
        }
    }
    if (cloexec && fcntl(it->fd, F_SETFD, FD_CLOEXEC) < 0)
        fail_item("fcntl F_SETFD", i);
    if (fstat(it->fd, &it->st) < 0)
        fail_item("fstat", i);
}

/* Room for every fd we hold (sockets hold two) plus stdio, payload and connection. */
static void raise_fd_limit(void) {
    size_t need = 32;
    for (size_t i = 0; i < nitems; i++)
        need += strcmp(items[i].kind, "socket") == 0 ? 2 : 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        fail("getrlimit RLIMIT_NOFILE");
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            fail("setrlimit RLIMIT_NOFILE");
    }
}

static unsigned char *read_payload(const char *file, size_t *len) {
    static const char default_message[] = "Server Message\n";
    if (file == NULL) {
        *len = sizeof default_message - 1;
        return (unsigned char *)strdup(default_message);
    }
    int in = open(file, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        fail("open payload");
    size_t cap = 1 << 16, used = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL)
            fail_errno("read payload", ENOMEM);
        ssize_t n = read(in, buf + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("read payload");
        if (n == 0)
            break;
        used += (size_t)n;
        if (used == cap)
            buf = realloc(buf, cap *= 2);
    }
    close(in);
    *len = used;
    return buf;
}

static void print_report(int wait_error) {
    printf("{\"sent\":[");
    for (size_t i = 0; i < nitems; i++) {
        const struct item *it = &items[i];
        printf("%s{\"index\":%zu,\"kind\":\"%s\",\"dev\":%llu,\"ino\":%llu,\"offsetAfter\":", i ? "," : "",
               i, it->kind, (unsigned long long)it->st.st_dev, (unsigned long long)it->st.st_ino);
        off_t off = -1;
        if (strcmp(it->kind, "file") == 0 || strcmp(it->kind, "memfd") == 0)
            off = lseek(it->fd, 0, SEEK_CUR);
        if (off >= 0)
            printf("%lld}", (long long)off);
        else
            printf("null}");
    }
    printf("],\"error\":");
    if (wait_error) {
        char what[128];
        snprintf(what, sizeof what, "read: %s", strerror(wait_error));
        json_string(stdout, what);
    } else {
        printf("null");
    }
    printf("}\n");
    if (fflush(stdout) == EOF || ferror(stdout))
        fail("write stdout");
}

int fd_server_main(int argc, char **argv) {
    const char *path = argv[1], *payload_file = NULL, *dir = NULL;
    char *spec = NULL;
    unsigned long long fd_at = 0, fd_len = 0, skip = 0;
    int have_len = 0, sender_cloexec = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--pass") == 0)
            free(spec), spec = strdup(option_value(argc, argv, &i));
        else if (strcmp(a, "--fd-dir") == 0)
            dir = option_value(argc, argv, &i);
        else if (strcmp(a, "--fd-at") == 0)
            fd_at = parse_number(a, option_value(argc, argv, &i), 0, (unsigned long long)SIZE_MAX / 2);
        else if (strcmp(a, "--fd-len") == 0) {
            fd_len = parse_number(a, option_value(argc, argv, &i), 1, (unsigned long long)SIZE_MAX / 2);
            have_len = 1;
        }
        else if (strcmp(a, "--skip") == 0)
            skip = parse_number(a, option_value(argc, argv, &i), 0, (unsigned long long)SIZE_MAX / 2);
        else if (strcmp(a, "--sender-cloexec") == 0)
            sender_cloexec = 1;
        else if (i == 2 && strncmp(a, "--", 2) != 0)
            payload_file = a;
        else {
            char what[160];
            snprintf(what, sizeof what, "unexpected argument \"%.100s\"", a);
            fail_errno(what, EINVAL);
        }
    }
    if (spec == NULL)
        fail_errno("fd-passing mode needs --pass SPEC", EINVAL);
    struct sockaddr_un addr;
    socklen_t addrlen = make_address(&addr, path);
    parse_spec(spec);

    size_t len;
    unsigned char *payload = read_payload(payload_file, &len);
    if (len < fd_at + 1)
        fail_errno("payload shorter than --fd-at + 1 bytes", EINVAL);
    if (!have_len)
        fd_len = len - fd_at;
    if (fd_len > len - fd_at)
        fail_errno("--fd-at + --fd-len runs past the end of the payload", EINVAL);

    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    char *path_copy = strdup(path);
    if (dir == NULL)
        dir = dirname(path_copy); /* "." for a bare name: the cwd */
    int dirfd = -1; /* opened only when a created file needs it */
    for (size_t i = 0; i < nitems; i++) {
        if (dirfd < 0 && items[i].path == NULL && strcmp(items[i].kind, "file") == 0 &&
            (dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
            fail("open --fd-dir");
        prepare_item(i, dirfd, dir, skip, sender_cloexec);
        item_fds[i] = items[i].fd;
    }
    if (dirfd >= 0)
        close(dirfd);

    /* From bind until accept the path is ours: every way out removes it. */
    bound_path = path;
    atexit(remove_bound_path);
    signal(SIGTERM, on_fatal_signal);
    signal(SIGINT, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
    int sockfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sockfd < 0)
        fail("socket");
    remove_stale_socket(path);
    if (bind_address(sockfd, &addr, addrlen) < 0)
        fail("bind");
    bound = 1;
    if (listen(sockfd, 16) < 0)
        fail("listen");
    int connfd;
    do
        connfd = accept4(sockfd, NULL, NULL, SOCK_CLOEXEC);
    while (connfd < 0 && errno == EINTR);
    if (connfd < 0)
        fail("accept");
    close(sockfd);
    bound = 0;
    if (unlink_path(path) < 0 && errno != ENOENT)
        fail("unlink");

    send_plain(connfd, payload, (size_t)fd_at);
    send_with_fds(connfd, payload + fd_at, (size_t)fd_len, item_fds, nitems);
    send_plain(connfd, payload + fd_at + fd_len, len - (size_t)(fd_at + fd_len));
    if (shutdown(connfd, SHUT_WR) < 0)
        fail("shutdown");

    /* The client closes once it has read through the fds and printed its report. */
    int wait_error = 0;
    for (;;) {
        char buf[4096];
        ssize_t n = read(connfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            wait_error = errno;
        if (n <= 0)
            break;
    }
    print_report(wait_error);
    for (size_t i = 0; i < nitems; i++) {
        close(items[i].fd);
        if (items[i].peer >= 0)
            close(items[i].peer);
    }
    close(connfd);
    free(payload);
    free(path_copy);
    free(spec);
    if (wait_error)
        fail_errno("read", wait_error);
    return 0;
}
