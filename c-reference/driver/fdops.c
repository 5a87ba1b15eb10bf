/* The driver's fd commands (docs/driver-protocol.md): make the fds to pass (mkfd, content and kinds in docs/driver-protocol.md),
 * inspect one (stat, read), list the process's open fds (fds), try a path (open), whoami (uid,
 * gid, pid) and setrlimit (the process's RLIMIT_NOFILE). The
 * read through an fd of `read` is a step (steps.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../reference/common.h" /* write_all */
#include "driver.h"
#include "steps.h"

#define MAX_READ (64LL << 20)

/* Closes fd (and peer) keeping errno, for the failure paths of mkfd. */
static int drop(int fd, int peer, struct failure *f, const char *syscall) {
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (peer >= 0)
        close(peer);
    return fail_with(f, err, syscall);
}

int cmd_mkfd(const struct jobject *c, struct buf *ans, struct failure *f) {
    const char *kind, *dir;
    long long index, skip;
    int cloexec;
    if (field_str(c, "kind", &kind, f) < 0 || field_num(c, "index", &index, 0, 0, 1 << 20, 0, f) < 0 ||
        field_str_opt(c, "dir", &dir, ".", f) < 0 || field_num(c, "skip", &skip, 0, 0, MAX_READ, 0, f) < 0 ||
        field_bool(c, "cloexec", &cloexec, 0, f) < 0)
        return -1;
    char content[256];
    int clen = snprintf(content, sizeof content, "fd-%lld-%.32s\n", index, kind);
    for (int r = 1; r < 4; r++)
        memcpy(content + r * clen, content, (size_t)clen);
    clen *= 4;
    int fd = -1, peer = -1, fill = 0, seekable = 0;
    if (strncmp(kind, "file:", 5) == 0) {
        if ((fd = open(kind + 5, O_RDONLY)) < 0)
            return fail_errno(f, "open");
        seekable = 1;
    } else if (strcmp(kind, "file") == 0) {
        /* A fresh name in dir, unlinked at once: the open file lives on through the fds. */
        static unsigned counter;
        char name[4096];
        for (unsigned attempt = 0; fd < 0; attempt++) {
            snprintf(name, sizeof name, "%s/.uds-drv-%ld-%u", dir, (long)getpid(), ++counter);
            fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
            if (fd < 0 && (errno != EEXIST || attempt >= 100))
                return fail_errno(f, "open");
        }
        if (unlink(name) < 0)
            return drop(fd, -1, f, "unlink");
        fill = seekable = 1;
    } else if (strcmp(kind, "memfd") == 0) {
        char name[48];
        snprintf(name, sizeof name, "fd-%lld-memfd", index);
        if ((fd = memfd_create(name, 0)) < 0)
            return fail_errno(f, "memfd_create");
        fill = seekable = 1;
    } else if (strcmp(kind, "pipe") == 0) {
        int p[2];
        if (pipe(p) < 0)
            return fail_errno(f, "pipe");
        if (write_all(p[1], content, (size_t)clen) < 0)
            return drop(p[0], p[1], f, "write");
        close(p[1]);
        fd = p[0];
    } else if (strcmp(kind, "socket") == 0) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            return fail_errno(f, "socketpair");
        if (write_all(sv[1], content, (size_t)clen) < 0)
            return drop(sv[0], sv[1], f, "write");
        if (shutdown(sv[1], SHUT_WR) < 0)
            return drop(sv[0], sv[1], f, "shutdown");
        fd = sv[0];
        peer = sv[1];
    } else if (strcmp(kind, "dir") == 0) {
        if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
            return fail_errno(f, "open");
    } else {
        return fail_proto(f, "field \"kind\" is \"%.40s\", not file, pipe, socket, memfd, dir or file:PATH", kind);
    }
    if (fill && (write_all(fd, content, (size_t)clen) < 0 || lseek(fd, 0, SEEK_SET) < 0))
        return drop(fd, peer, f, "write");
    if (seekable && skip > 0) {
        unsigned char buf[4096];
        long long done = 0;
        while (done < skip) {
            int err = 0;
            size_t want = skip - done < (long long)sizeof buf ? (size_t)(skip - done) : sizeof buf;
            size_t n = read_up_to(fd, buf, want, &err);
            if (err || n == 0) {
                errno = err ? err : EINVAL; /* EINVAL: fewer bytes than skip */
                return drop(fd, peer, f, "read");
            }
            done += (long long)n;
        }
    }
    int fdflags = fcntl(fd, F_GETFD);
    if (fdflags < 0 || fcntl(fd, F_SETFD, cloexec ? fdflags | FD_CLOEXEC : fdflags & ~FD_CLOEXEC) < 0)
        return drop(fd, peer, f, "fcntl");
    struct stat st;
    if (fstat(fd, &st) < 0)
        return drop(fd, peer, f, "fstat");
    struct named *e = name_add('F', fd, peer);
    if (e == NULL)
        return drop(fd, peer, f, "driver");
    buf_cstr(ans, ",\"fd\":");
    buf_jstr(ans, e->name);
    buf_fmt(ans, ",\"dev\":%llu,\"ino\":%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return 0;
}

int cmd_stat(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *e;
    struct stat st;
    if (field_name(c, "fd", "fstat", &e, f) < 0)
        return -1;
    if (fstat(e->fd, &st) < 0)
        return fail_errno(f, "fstat");
    int fdflags = fcntl(e->fd, F_GETFD), fl = fcntl(e->fd, F_GETFL);
    if (fdflags < 0 || fl < 0)
        return fail_errno(f, "fcntl");
    int acc = fl & O_ACCMODE;
    buf_fmt(ans, ",\"kind\":\"%s\",\"dev\":%llu,\"ino\":%llu,\"cloexec\":%s,\"accmode\":%s", fd_kind(st.st_mode),
            (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, fdflags & FD_CLOEXEC ? "true" : "false",
            acc == O_RDONLY ? "\"O_RDONLY\"" : acc == O_WRONLY ? "\"O_WRONLY\"" : acc == O_RDWR ? "\"O_RDWR\"" : "null");
    off_t off = lseek(e->fd, 0, SEEK_CUR); /* -1 (null) when not seekable: ESPIPE */
    if (off >= 0)
        buf_fmt(ans, ",\"offset\":%lld", (long long)off);
    else
        buf_cstr(ans, ",\"offset\":null");
    return 0;
}

int cmd_read(const struct jobject *c, struct buf *ans, struct failure *f) {
    struct named *e;
    long long n;
    if (field_name(c, "fd", "read", &e, f) < 0 || field_num(c, "n", &n, 0, 0, MAX_READ, 1, f) < 0)
        return -1;
    unsigned char *data = malloc(n ? (size_t)n : 1);
    if (data == NULL)
        return fail_with(f, ENOMEM, "read");
    int err = 0;
    size_t got = driver_read_through(e->fd, data, (size_t)n, &err); /* the step */
    buf_cstr(ans, ",\"data\":");
    buf_b64(ans, data, got);
    buf_cstr(ans, ",\"error\":");
    if (err)
        buf_jstr(ans, errno_name(err));
    else
        buf_cstr(ans, "null");
    free(data);
    return 0;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* /proc/self/fd, sorted, without the fd that lists it. Out of fds (EMFILE), every fd number below
 * the kernel's default nr_open is asked about with fcntl instead: same answer, no fd needed. */
int cmd_fds(const struct jobject *c, struct buf *ans, struct failure *f) {
    (void)c;
    size_t n = 0, cap = 256;
    int *list = malloc(cap * sizeof *list);
    if (list == NULL)
        return fail_with(f, ENOMEM, "driver");
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL && errno != EMFILE && errno != ENFILE) {
        free(list);
        return fail_errno(f, "opendir");
    }
    for (int fd = 0; d != NULL || fd < 1 << 20; fd++) {
        int found = -1;
        if (d != NULL) {
            struct dirent *ent = readdir(d);
            if (ent == NULL)
                break;
            if (ent->d_name[0] < '0' || ent->d_name[0] > '9' || atoi(ent->d_name) == dirfd(d))
                continue;
            found = atoi(ent->d_name);
        } else if (fcntl(fd, F_GETFD) >= 0) {
            found = fd;
        }
        if (found < 0)
            continue;
        if (n == cap) {
            int *grown = realloc(list, (cap *= 2) * sizeof *list);
            if (grown == NULL) {
                free(list);
                if (d)
                    closedir(d);
                return fail_with(f, ENOMEM, "driver");
            }
            list = grown;
        }
        list[n++] = found;
    }
    if (d != NULL)
        closedir(d);
    qsort(list, n, sizeof *list, cmp_int);
    buf_cstr(ans, ",\"open\":[");
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (fstat(list[i], &st) == 0)
            buf_fmt(ans, "%s{\"fd\":%d,\"dev\":%llu,\"ino\":%llu}", i ? "," : "", list[i],
                    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
        else
            buf_fmt(ans, "%s{\"fd\":%d,\"dev\":null,\"ino\":null}", i ? "," : "", list[i]);
    }
    buf_cstr(ans, "]");
    free(list);
    return 0;
}

int cmd_open(const struct jobject *c, struct buf *ans, struct failure *f) {
    const char *path;
    (void)ans;
    if (field_str(c, "path", &path, f) < 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(f, "open");
    close(fd);
    return 0;
}

/* The driver's own RLIMIT_NOFILE: the soft limit to "soft", the hard limit kept (a soft limit above
 * it is the kernel's EINVAL); the answer is the soft limit before (RLIM_INFINITY as -1). */
int cmd_setrlimit(const struct jobject *c, struct buf *ans, struct failure *f) {
    const char *resource;
    long long soft;
    if (field_str(c, "resource", &resource, f) < 0 || field_num(c, "soft", &soft, 0, 0, LLONG_MAX, 1, f) < 0)
        return -1;
    if (strcmp(resource, "RLIMIT_NOFILE") != 0)
        return fail_proto(f, "field \"resource\" is \"%.30s\", not RLIMIT_NOFILE", resource);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return fail_errno(f, "getrlimit");
    rlim_t previous = rl.rlim_cur;
    rl.rlim_cur = (rlim_t)soft;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return fail_errno(f, "setrlimit");
    buf_fmt(ans, ",\"previous\":%lld", previous == RLIM_INFINITY ? -1LL : (long long)previous);
    return 0;
}

int cmd_whoami(const struct jobject *c, struct buf *ans, struct failure *f) {
    (void)c, (void)f;
    buf_fmt(ans, ",\"uid\":%lu,\"gid\":%lu,\"pid\":%ld", (unsigned long)getuid(), (unsigned long)getgid(),
            (long)getpid());
    return 0;
}
