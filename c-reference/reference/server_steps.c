/* The reference server's steps (steps.h), for the plain protocol (server.c) and the fd-passing
 * mode (fdmode_server.c). Each is STEP: weak so that a mutant in fixtures/mutants/ can replace
 * exactly one step by linking its own definition. */
#include <fcntl.h>
#include <sys/stat.h>
#include "common.h"
#include "fdmode.h"
#include "steps.h"

/* A regular file at the path is someone's data: it stays, and bind() then fails with EADDRINUSE
 * as it should. */
STEP void remove_stale_socket(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && unlink(path) < 0 && errno != ENOENT)
        die("unlink stale socket");
}

/* The exact length make_address computed: the whole path is bound, never a truncated prefix. */
STEP int bind_address(int sockfd, const struct sockaddr_un *addr, socklen_t addrlen) {
    return bind(sockfd, (const struct sockaddr *)addr, addrlen);
}

STEP int unlink_path(const char *path) {
    return unlink(path);
}

STEP void send_default_message(int connfd) {
    static const char default_message[] = "Server Message\n";
    if (write_all(connfd, default_message, sizeof default_message - 1) < 0)
        die("write");
}

STEP void serve_payload(int connfd, const char *payload_file) {
    if (payload_file == NULL)
        send_default_message(connfd);
    else
        send_payload_file(connfd, payload_file);
}

STEP void send_payload_file(int connfd, const char *payload_file) {
    int in = open(payload_file, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        die("open payload");
    static char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("read payload");
        }
        if (n == 0)
            break;
        if (write_all(connfd, buf, (size_t)n) < 0)
            die("write");
    }
    close(in);
}

STEP void send_plain(int connfd, const unsigned char *data, size_t len) {
    if (write_all(connfd, data, len) < 0)
        fail_errno("write", errno);
}

ssize_t send_rights(int connfd, const unsigned char *data, size_t len, const int *fds, size_t nfds) {
    size_t payload = nfds * sizeof(int);
    char *control = calloc(1, CMSG_SPACE(payload));
    if (control == NULL) {
        errno = ENOMEM;
        return -1;
    }
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = CMSG_SPACE(payload)};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(payload);
    memcpy(CMSG_DATA(cmsg), fds, payload);
    ssize_t n;
    do
        n = sendmsg(connfd, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    free(control);
    errno = saved;
    return n;
}

/* A blocking stream send normally takes everything; if it stops short, the rest follows plainly
 * (the fds went with the first byte, uds-semantics D14). */
STEP void send_with_fds(int connfd, const unsigned char *data, size_t len, const int *fds, size_t nfds) {
    ssize_t n = send_rights(connfd, data, len, fds, nfds);
    if (n < 0)
        fail_errno("sendmsg", errno);
    send_plain(connfd, data + n, len - (size_t)n);
}
