/* The reference driver's steps (steps.h) and their helpers. Each step is DRIVER_STEP: weak so that
 * a driver mutant in fixtures/mutants/ can replace exactly one step by linking its own definition. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "steps.h"

DRIVER_STEP int driver_path_address(const char *path, size_t len, struct sockaddr_un *a, socklen_t *alen,
                                    const char *syscall, struct failure *f) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    /* strlen stops at an embedded NUL: the name would be only the part before it. */
    if (strlen(path) != len)
        return fail_proto(f, "field \"path\" holds a NUL character");
    if (len == 0)
        return fail_with(f, ENOENT, syscall);
    if (len >= sizeof a->sun_path)
        return fail_with(f, ENAMETOOLONG, syscall);
    memcpy(a->sun_path, path, len + 1);
    *alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return 0;
}

ssize_t driver_sendmsg(int sockfd, const unsigned char *data, size_t len, const int *fds, size_t nfds, int flags) {
    char *control = NULL;
    size_t clen = 0;
    if (nfds > 0) {
        clen = CMSG_SPACE(nfds * sizeof(int));
        if ((control = calloc(1, clen)) == NULL) {
            errno = ENOMEM;
            return -1;
        }
        struct cmsghdr *cm = (struct cmsghdr *)control;
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    }
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = clen};
    ssize_t n;
    do
        n = sendmsg(sockfd, &msg, flags);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    free(control);
    errno = saved;
    return n;
}

int driver_send_rest(int sockfd, const unsigned char *data, size_t len, size_t *sent, int flags, struct failure *f) {
    while (*sent < len) {
        ssize_t n = send(sockfd, data + *sent, len - *sent, flags);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail_errno(f, "send");
        *sent += (size_t)n;
    }
    return 0;
}

/* A blocking stream send normally takes everything; what it left follows plainly (the fds went
 * with the first byte). */
DRIVER_STEP int driver_send_fds(int sockfd, const unsigned char *data, size_t len, const int *fds, size_t nfds,
                                int flags, int once, size_t *sent, struct failure *f) {
    ssize_t n = driver_sendmsg(sockfd, data, len, fds, nfds, flags);
    if (n < 0)
        return fail_errno(f, "sendmsg");
    *sent = (size_t)n;
    return once ? 0 : driver_send_rest(sockfd, data, len, sent, flags, f);
}

DRIVER_STEP ssize_t driver_recv(int sockfd, unsigned char *data, size_t size, size_t ctl_fds, int cloexec, int flags,
                                int **fds, size_t *nfds, int *msg_flags, struct failure *f) {
    *fds = NULL;
    *nfds = 0;
    /* Exactly CMSG_LEN: CMSG_SPACE's padding would let Linux deliver one fd more than asked. */
    size_t clen = ctl_fds > 0 ? CMSG_LEN(ctl_fds * sizeof(int)) : 0;
    char *control = clen ? calloc(1, clen) : NULL;
    if (clen && control == NULL)
        return fail_with(f, ENOMEM, "recvmsg");
    struct iovec iov = {.iov_base = data, .iov_len = size};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = clen};
    ssize_t n;
    do
        n = recvmsg(sockfd, &msg, flags | (cloexec ? MSG_CMSG_CLOEXEC : 0));
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        int err = errno;
        free(control);
        return fail_with(f, err, "recvmsg");
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(0))
            continue;
        size_t room = (size_t)(control + clen - (char *)CMSG_DATA(cm));
        size_t bytes = cm->cmsg_len - CMSG_LEN(0);
        size_t count = (bytes < room ? bytes : room) / sizeof(int);
        int *grown = count ? realloc(*fds, (*nfds + count) * sizeof(int)) : *fds;
        if (count && grown == NULL) { /* cannot hand them over: do not keep them */
            for (size_t k = 0; k < count; k++) {
                int fd;
                memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
                close(fd);
            }
            continue;
        }
        *fds = grown;
        memcpy(*fds + *nfds, CMSG_DATA(cm), count * sizeof(int));
        *nfds += count;
    }
    *msg_flags = msg.msg_flags;
    free(control);
    return n;
}

DRIVER_STEP ssize_t driver_plain_read(int sockfd, unsigned char *data, size_t size, struct failure *f) {
    ssize_t n;
    do
        n = read(sockfd, data, size);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return fail_errno(f, "read");
    return n;
}

/* Through the fd itself, at the offset it shares with the sender's (offsetAfter). */
DRIVER_STEP size_t driver_read_through(int fd, unsigned char *buf, size_t n, int *error) {
    return read_up_to(fd, buf, n, error);
}
