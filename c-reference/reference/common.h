/* Shared helpers of the corrected reference programs: exact-length sockaddr_un, full writes, errors. */
#ifndef UDS_REFERENCE_COMMON_H
#define UDS_REFERENCE_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

/* Every failure is reported the same way: "<what>: <strerror>" on stderr, exit status 1. */
static inline void die(const char *what) {
    fprintf(stderr, "%s: %s\n", what, strerror(errno));
    exit(1);
}

/* Fills addr for a pathname socket and returns the exact address length.
 * A path that does not fit sun_path with its NUL is refused, never truncated. */
static inline socklen_t make_address(struct sockaddr_un *addr, const char *path) {
    size_t len = strlen(path);
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (len == 0) {
        errno = EINVAL;
        die("socket path is empty");
    }
    if (len >= sizeof addr->sun_path) {
        fprintf(stderr, "socket path: %s (%zu bytes; at most %zu fit in sun_path)\n",
                strerror(ENAMETOOLONG), len, sizeof addr->sun_path - 1);
        exit(1);
    }
    memcpy(addr->sun_path, path, len + 1);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* Writes all of buf, resuming after short writes and EINTR. Returns 0, or -1 with errno set. */
static inline int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

#endif
