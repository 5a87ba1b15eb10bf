/* The reference client's steps (steps.h), for the plain protocol (client.c) and the fd-passing
 * mode (fdmode_client.c). Each is STEP: weak so that a mutant in fixtures/mutants/ can replace
 * exactly one step by linking its own definition. */
#include <fcntl.h>
#include <sys/stat.h>
#include "common.h"
#include "fdmode.h"
#include "steps.h"

STEP void connect_path(int sockfd, const struct sockaddr_un *addr, socklen_t addrlen) {
    int rc;
    do
        rc = connect(sockfd, (const struct sockaddr *)addr, addrlen);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        die("connect");
}

int connect_to(const char *path) {
    struct sockaddr_un addr;
    socklen_t addrlen = make_address(&addr, path);
    int sockfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sockfd < 0)
        die("socket");
    connect_path(sockfd, &addr, addrlen);
    return sockfd;
}

STEP void copy_to_stdout(int sockfd) {
    static char buf[1 << 16];
    size_t copied = 0;
    for (;;) {
        ssize_t n = read(sockfd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("read");
        }
        if (n == 0)
            break;
        copied += (size_t)n;
        if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
            die("write stdout");
    }
    finish_client(sockfd, copied);
}

STEP void finish_client(int sockfd, size_t copied) {
    (void)copied;
    close(sockfd);
}

/* Exactly CMSG_LEN: CMSG_SPACE's padding would let Linux deliver one fd more than asked. */
STEP size_t control_buffer_size(size_t ctl_fds) {
    return CMSG_LEN(ctl_fds * sizeof(int));
}

STEP ssize_t receive_message(int sockfd, struct msghdr *msg, int flags) {
    ssize_t n;
    do
        n = recvmsg(sockfd, msg, flags);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        fail_errno("recvmsg", errno);
    return n;
}

STEP ssize_t read_chunk(int sockfd, void *buf, size_t len) {
    ssize_t n;
    do
        n = read(sockfd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        fail_errno("read", errno);
    return n;
}

/* Through the received fd itself, at the offset it shares with the sender's (offsetAfter). */
STEP size_t read_through_fd(int fd, unsigned char *buf, size_t max, int *error) {
    return read_up_to(fd, buf, max, error);
}

STEP void inspect_fd(struct fd_rec *r, unsigned char *buf, size_t max) {
    struct stat st;
    if (fstat(r->fd, &st) == 0) {
        r->has_stat = 1;
        r->kind = fd_kind(st.st_mode);
        r->dev = (unsigned long long)st.st_dev;
        r->ino = (unsigned long long)st.st_ino;
    } else {
        r->kind = "unknown";
    }
    int fdflags = fcntl(r->fd, F_GETFD), fl = fcntl(r->fd, F_GETFL);
    r->cloexec = fdflags >= 0 && (fdflags & FD_CLOEXEC);
    r->accmode = fl < 0 ? -1 : fl & O_ACCMODE;
    r->offset = lseek(r->fd, 0, SEEK_CUR); /* -1 (null) when not seekable: ESPIPE */
    size_t got = read_through_fd(r->fd, buf, max, &r->error);
    r->data = malloc(got ? got : 1);
    if (r->data == NULL)
        fail_errno("malloc", ENOMEM);
    memcpy(r->data, buf, got);
    r->data_len = got;
}
