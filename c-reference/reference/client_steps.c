/* The reference client's steps (steps.h), called by client.c. Each is STEP: weak so that a mutant
 * in fixtures/mutants/ can replace exactly one step by linking its own definition. */
#include "common.h"
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
