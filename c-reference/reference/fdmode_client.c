/* fd-passing mode of the reference client (docs/fd-passing.md):
 *   reference-client PATH --fds [--recv-buf N] [--ctl-fds K] [--cloexec] [--plain-read]
 *                    [--read-fd-bytes M] [--try-open PATH]
 * Receives until EOF, inspects every fd received, prints one JSON report ("uds-fd-report/1") and
 * only then closes the connection (the server waits for that EOF). Connecting, receiving and
 * inspecting the fds are steps (steps.h): receive_all and take_fds here, the rest client_steps.c. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "common.h"
#include "fdmode.h"
#include "steps.h"

struct read_rec {
    size_t length, nfds;
    int flags;
};

/* A growable array; grow() makes room for one more element of size elem. */
struct vec {
    void *data;
    size_t len, cap;
};

static void *grow(struct vec *v, size_t elem, size_t more) {
    if (v->len + more > v->cap) {
        size_t cap = v->cap ? v->cap : 64;
        while (cap < v->len + more)
            cap *= 2;
        void *p = realloc(v->data, cap * elem);
        if (p == NULL)
            fail_errno("realloc", ENOMEM);
        v->data = p;
        v->cap = cap;
    }
    return (char *)v->data + v->len * elem;
}

static struct vec bytes, reads, fds; /* unsigned char, struct read_rec, struct fd_rec */

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void print_flags(int flags) {
    static const struct {
        int bit;
        const char *name;
    } names[] = {{MSG_CTRUNC, "MSG_CTRUNC"}, {MSG_TRUNC, "MSG_TRUNC"}, {MSG_EOR, "MSG_EOR"},
                 {MSG_OOB, "MSG_OOB"}, {MSG_ERRQUEUE, "MSG_ERRQUEUE"}};
    int first = 1;
    putchar('[');
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (flags & names[i].bit) {
            printf("%s\"%s\"", first ? "" : ",", names[i].name);
            first = 0;
        }
    putchar(']');
}

STEP size_t take_fds(struct msghdr *msg, size_t read_index) {
    size_t got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t room = (size_t)((char *)msg->msg_control + msg->msg_controllen - (char *)CMSG_DATA(c));
        size_t len = c->cmsg_len - CMSG_LEN(0);
        size_t count = (len < room ? len : room) / sizeof(int);
        struct fd_rec *r = grow(&fds, sizeof *r, count);
        for (size_t k = 0; k < count; k++) {
            r[k] = (struct fd_rec){.read = read_index};
            memcpy(&r[k].fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
        }
        fds.len += count;
        got += count;
    }
    return got;
}

/* One recvmsg (or read) per call until EOF, recording every call that returned data. */
STEP void receive_all(int sockfd, size_t recv_buf, size_t ctl_fds, int cloexec, int plain) {
    unsigned char *buf = malloc(recv_buf);
    size_t ctl_len = control_buffer_size(ctl_fds);
    void *control = malloc(ctl_len);
    if (buf == NULL || control == NULL)
        fail_errno("malloc", ENOMEM);
    for (;;) {
        struct iovec iov = {.iov_base = buf, .iov_len = recv_buf};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = ctl_len};
        ssize_t n = plain ? read_chunk(sockfd, buf, recv_buf)
                          : receive_message(sockfd, &msg, cloexec ? MSG_CMSG_CLOEXEC : 0);
        size_t got = plain ? 0 : take_fds(&msg, reads.len); /* reads.len: this call's index */
        if (n == 0)
            break; /* EOF (a recv buffer is never empty, so 0 is never a zero-length read) */
        memcpy(grow(&bytes, 1, (size_t)n), buf, (size_t)n);
        bytes.len += (size_t)n;
        struct read_rec *r = grow(&reads, sizeof *r, 1);
        *r = (struct read_rec){.length = (size_t)n, .nfds = got, .flags = plain ? 0 : msg.msg_flags};
        reads.len++;
    }
    free(buf);
    free(control);
}

static void print_fd(const struct fd_rec *r) {
    printf("{\"read\":%zu,\"kind\":\"%s\",", r->read, r->kind);
    if (r->has_stat)
        printf("\"dev\":%llu,\"ino\":%llu,", r->dev, r->ino);
    else
        printf("\"dev\":null,\"ino\":null,");
    int acc = r->accmode;
    printf("\"cloexec\":%s,\"accmode\":%s,", r->cloexec ? "true" : "false",
           acc == O_RDONLY ? "\"O_RDONLY\"" : acc == O_WRONLY ? "\"O_WRONLY\"" : acc == O_RDWR ? "\"O_RDWR\"" : "null");
    if (r->offset >= 0)
        printf("\"offset\":%lld,", (long long)r->offset);
    else
        printf("\"offset\":null,");
    printf("\"data\":");
    json_base64(stdout, r->data, r->data_len);
    printf(",\"error\":");
    if (r->error)
        json_errno(stdout, r->error);
    else
        printf("null");
    putchar('}');
}

/* /proc/self/fd, sorted, without the fd that lists it. A client that received fds up to its
 * RLIMIT_NOFILE has no fd left to open the directory with; it then asks fcntl about every fd
 * number below the kernel's default nr_open instead (same answer, no fd needed; inherited fds
 * can sit above RLIMIT_NOFILE, so the limit is no bound). */
static void list_open_fds(struct vec *list) {
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL && errno != EMFILE && errno != ENFILE)
        fail_errno("opendir /proc/self/fd", errno);
    if (d == NULL) {
        for (int fd = 0; fd < 1 << 20; fd++)
            if (fcntl(fd, F_GETFD) >= 0) {
                *(int *)grow(list, sizeof(int), 1) = fd;
                list->len++;
            }
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int fd = atoi(e->d_name);
        if (fd == dirfd(d))
            continue;
        *(int *)grow(list, sizeof(int), 1) = fd;
        list->len++;
    }
    closedir(d);
    qsort(list->data, list->len, sizeof(int), cmp_int);
}

int fd_client_main(int argc, char **argv) {
    const char *path = argv[1], *try_open = NULL;
    unsigned long long recv_buf = 65536, ctl_fds = 253, read_fd_bytes = 9;
    int want_fds = 0, cloexec = 0, plain = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--fds") == 0)
            want_fds = 1;
        else if (strcmp(a, "--recv-buf") == 0)
            recv_buf = parse_number(a, option_value(argc, argv, &i), 1, 1ULL << 30);
        else if (strcmp(a, "--ctl-fds") == 0)
            ctl_fds = parse_number(a, option_value(argc, argv, &i), 0, 1ULL << 20);
        else if (strcmp(a, "--cloexec") == 0)
            cloexec = 1;
        else if (strcmp(a, "--plain-read") == 0)
            plain = 1;
        else if (strcmp(a, "--read-fd-bytes") == 0)
            read_fd_bytes = parse_number(a, option_value(argc, argv, &i), 0, 1ULL << 20);
        else if (strcmp(a, "--try-open") == 0)
            try_open = option_value(argc, argv, &i);
        else {
            char what[160];
            snprintf(what, sizeof what, "unexpected argument \"%.100s\"", a);
            fail_errno(what, EINVAL);
        }
    }
    if (!want_fds)
        fail_errno("fd-passing mode needs --fds", EINVAL);
    int sockfd = connect_to(path);

    receive_all(sockfd, (size_t)recv_buf, (size_t)ctl_fds, cloexec, plain);

    /* Everything is gathered first, so an error never leaves half a report on stdout. */
    struct fd_rec *rec = fds.data;
    unsigned char *fdbuf = malloc(read_fd_bytes ? (size_t)read_fd_bytes : 1);
    if (fdbuf == NULL)
        fail_errno("malloc", ENOMEM);
    for (size_t i = 0; i < fds.len; i++)
        inspect_fd(&rec[i], fdbuf, (size_t)read_fd_bytes);
    free(fdbuf);
    int try_err = 0;
    if (try_open != NULL) { /* opened and closed before the listing, so it never shows there */
        int fd = open(try_open, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            try_err = errno;
        else
            close(fd);
    }
    struct vec open_fds = {0};
    list_open_fds(&open_fds);

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    printf("{\"format\":\"uds-fd-report/1\",\"bytes\":");
    json_base64(stdout, bytes.data, bytes.len);
    printf(",\"reads\":[");
    for (size_t i = 0; i < reads.len; i++) {
        const struct read_rec *r = (const struct read_rec *)reads.data + i;
        printf("%s{\"length\":%zu,\"fds\":%zu,\"flags\":", i ? "," : "", r->length, r->nfds);
        print_flags(r->flags);
        putchar('}');
    }
    printf("],\"fds\":[");
    for (size_t i = 0; i < fds.len; i++) {
        if (i)
            putchar(',');
        print_fd(&rec[i]);
    }
    printf("],\"openFds\":[");
    for (size_t i = 0; i < open_fds.len; i++) {
        /* Identity of each open fd, so a leak shows as an fd referring to an object that was sent
         * but not delivered (docs/fd-passing.md). */
        int fd = ((int *)open_fds.data)[i];
        struct stat st;
        if (fstat(fd, &st) == 0)
            printf("%s{\"fd\":%d,\"dev\":%llu,\"ino\":%llu}", i ? "," : "", fd,
                   (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
        else
            printf("%s{\"fd\":%d,\"dev\":null,\"ino\":null}", i ? "," : "", fd);
    }
    printf("],\"tryOpen\":");
    if (try_open != NULL) {
        printf("{\"path\":");
        json_string(stdout, try_open);
        printf(",\"error\":");
        if (try_err)
            json_errno(stdout, try_err);
        else
            printf("null");
        putchar('}');
    } else {
        printf("null");
    }
    printf(",\"uid\":%lu,\"gid\":%lu}\n", (unsigned long)getuid(), (unsigned long)getgid());
    if (fflush(stdout) == EOF || ferror(stdout))
        die("write stdout");

    for (size_t i = 0; i < fds.len; i++) {
        close(rec[i].fd);
        free(rec[i].data);
    }
    free(open_fds.data);
    close(sockfd);
    free(bytes.data);
    free(reads.data);
    free(fds.data);
    return 0;
}
