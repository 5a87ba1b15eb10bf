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

/* Exactly the given bytes after the NUL: a padded length would name another socket. */
DRIVER_STEP int driver_abstract_address(const unsigned char *name, size_t n, struct sockaddr_un *a, socklen_t *alen,
                                        const char *syscall, struct failure *f) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (n + 1 > sizeof a->sun_path)
        return fail_with(f, ENAMETOOLONG, syscall);
    memcpy(a->sun_path + 1, name, n);
    *alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    return 0;
}

DRIVER_STEP int driver_autobind(int fd, struct failure *f) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (bind(fd, (struct sockaddr *)&a, sizeof(sa_family_t)) < 0)
        return fail_errno(f, "bind");
    return 0;
}

DRIVER_STEP int driver_connect(int type, int sock, const struct sockaddr_un *a, socklen_t alen, int *fd,
                               struct failure *f) {
    int s = sock >= 0 ? sock : socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (s < 0)
        return fail_errno(f, "socket");
    int rc;
    do
        rc = connect(s, (const struct sockaddr *)a, alen);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int err = errno;
        if (sock < 0)
            close(s);
        return fail_with(f, err, "connect");
    }
    *fd = s;
    return 0;
}

DRIVER_STEP int driver_shutdown(int fd, int how, struct failure *f) {
    if (shutdown(fd, how) < 0)
        return fail_errno(f, "shutdown");
    return 0;
}

DRIVER_STEP void driver_close(int fd, char kind) {
    (void)kind;
    close(fd);
}

/* SCM_CREDENTIALS first, then SCM_RIGHTS: the order the kernel itself writes them on receipt. */
ssize_t driver_sendmsg_to(int sockfd, const struct sockaddr_un *to, socklen_t tolen, const unsigned char *data,
                          size_t len, const int *fds, size_t nfds, const struct ucred *cred, int flags) {
    size_t cred_space = cred ? CMSG_SPACE(sizeof *cred) : 0;
    size_t clen = cred_space + (nfds > 0 ? CMSG_SPACE(nfds * sizeof(int)) : 0);
    char *control = NULL;
    if (clen > 0 && (control = calloc(1, clen)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr msg = {.msg_name = (void *)to, .msg_namelen = to ? tolen : 0, .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = control, .msg_controllen = clen};
    struct cmsghdr *cm = clen ? CMSG_FIRSTHDR(&msg) : NULL;
    if (cred) {
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_CREDENTIALS;
        cm->cmsg_len = CMSG_LEN(sizeof *cred);
        memcpy(CMSG_DATA(cm), cred, sizeof *cred);
        cm = CMSG_NXTHDR(&msg, cm);
    }
    if (nfds > 0) {
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(sockfd, &msg, flags);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    free(control);
    errno = saved;
    return n;
}

ssize_t driver_sendmsg(int sockfd, const unsigned char *data, size_t len, const int *fds, size_t nfds, int flags) {
    return driver_sendmsg_to(sockfd, NULL, 0, data, len, fds, nfds, NULL, flags);
}

DRIVER_STEP ssize_t driver_send_message(int sockfd, const struct sockaddr_un *to, socklen_t tolen,
                                        const unsigned char *data, size_t len, const int *fds, size_t nfds,
                                        const struct ucred *cred, int flags, struct failure *f) {
    ssize_t n = driver_sendmsg_to(sockfd, to, tolen, data, len, fds, nfds, cred, flags);
    if (n < 0)
        return fail_errno(f, "sendmsg");
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
    return driver_recvmsg_fds(sockfd, data, size, ctl_fds, cloexec, flags, fds, nfds, msg_flags, f);
}

ssize_t driver_recvmsg_fds(int sockfd, unsigned char *data, size_t size, size_t ctl_fds, int cloexec, int flags,
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

ssize_t driver_recvmsg_call(int sockfd, struct recv_call *call, struct failure *f) {
    call->control = NULL;
    call->ncontrol = 0;
    call->fromlen = 0;
    call->msg_flags = 0;
    /* Room for one ucred first (the kernel writes SCM_CREDENTIALS before SCM_RIGHTS), then exactly
     * CMSG_LEN for the fds, as driver_recv. */
    size_t cred_room = call->credentials ? CMSG_SPACE(sizeof(struct ucred)) : 0;
    size_t clen = cred_room + (call->ctl_fds > 0 ? CMSG_LEN(call->ctl_fds * sizeof(int)) : 0);
    char *control = clen ? calloc(1, clen) : NULL;
    if (clen && control == NULL)
        return fail_with(f, ENOMEM, "recvmsg");
    struct iovec iov = {.iov_base = call->data, .iov_len = call->size};
    struct msghdr msg = {.msg_name = call->from, .msg_namelen = call->from ? sizeof *call->from : 0,
                         .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = clen};
    ssize_t n;
    do
        n = recvmsg(sockfd, &msg, call->flags | (call->cloexec ? MSG_CMSG_CLOEXEC : 0));
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        int err = errno;
        free(control);
        return fail_with(f, err, "recvmsg");
    }
    call->fromlen = call->from ? msg.msg_namelen : 0;
    call->msg_flags = msg.msg_flags;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_len < CMSG_LEN(0))
            break;
        size_t room = (size_t)(control + clen - (char *)CMSG_DATA(cm));
        size_t bytes = cm->cmsg_len - CMSG_LEN(0);
        size_t len = bytes < room ? bytes : room;
        struct control_msg *grown = realloc(call->control, (call->ncontrol + 1) * sizeof *grown);
        unsigned char *copy = len ? malloc(len) : NULL;
        if (grown == NULL || (len && copy == NULL)) { /* cannot hand it over: do not keep its fds */
            if (grown)
                call->control = grown;
            free(copy);
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                for (size_t k = 0; k + sizeof(int) <= len; k += sizeof(int)) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(cm) + k, sizeof fd);
                    close(fd);
                }
            continue;
        }
        call->control = grown;
        if (len)
            memcpy(copy, CMSG_DATA(cm), len);
        call->control[call->ncontrol++] = (struct control_msg){cm->cmsg_level, cm->cmsg_type, copy, len};
    }
    free(control);
    return n;
}

void driver_free_control(struct recv_call *call) {
    for (size_t i = 0; i < call->ncontrol; i++)
        free(call->control[i].data);
    free(call->control);
    call->control = NULL;
    call->ncontrol = 0;
}

DRIVER_STEP ssize_t driver_recv_control(int sockfd, struct recv_call *call, struct failure *f) {
    return driver_recvmsg_call(sockfd, call, f);
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

DRIVER_STEP int driver_setsockopt(int fd, int option, int value, struct failure *f) {
    if (setsockopt(fd, SOL_SOCKET, option, &value, sizeof value) < 0)
        return fail_errno(f, "setsockopt");
    return 0;
}

DRIVER_STEP int driver_peercred(int fd, struct ucred *cred, struct failure *f) {
    socklen_t len = sizeof *cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0)
        return fail_errno(f, "getsockopt");
    return 0;
}

/* Through the fd itself, at the offset it shares with the sender's (offsetAfter). */
DRIVER_STEP size_t driver_read_through(int fd, unsigned char *buf, size_t n, int *error) {
    return read_up_to(fd, buf, n, error);
}
