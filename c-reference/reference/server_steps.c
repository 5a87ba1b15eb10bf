/* The reference server's steps (steps.h), called by server.c. Each is STEP: weak so that a mutant
 * in fixtures/mutants/ can replace exactly one step by linking its own definition. */
#include <fcntl.h>
#include <sys/stat.h>
#include "common.h"
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
