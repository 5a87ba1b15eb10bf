/* The reference server's steps (steps.h), called by server.c. Each is STEP: weak so that a mutant
 * in fixtures/mutants/ can replace exactly one step by linking its own definition. */
#include <fcntl.h>
#include <sys/stat.h>
#include "common.h"
#include "steps.h"

/* Whether the socket at path is stale: nobody listens on it. Only ECONNREFUSED says so; a connect
 * that succeeds (or EAGAIN: a full backlog) is a live server's, and any other error (EACCES,
 * EPROTOTYPE: a live socket of another type) does not prove it dead. Non-blocking, so a busy server
 * cannot hold us. A live server sees this probe as a connection that closes at once; that is the
 * price of asking (systemd and others probe the same way). */
STEP int socket_is_stale(const char *path) {
    struct sockaddr_un addr;
    socklen_t addrlen = make_address(&addr, path);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        die("socket");
    int stale = connect(probe, (const struct sockaddr *)&addr, addrlen) < 0 && errno == ECONNREFUSED;
    close(probe);
    return stale;
}

/* Only a socket can be stale: a regular file, a directory or a symlink at the path (lstat: never
 * followed) is someone's, and a probe would not tell (connect(2) follows a symlink, and a regular
 * file answers ECONNREFUSED too). Whatever stays makes bind() fail with EADDRINUSE, as it should:
 * Linux answers so for a socket, a regular file, a directory and a symlink, dangling or not. */
STEP void remove_stale_socket(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && socket_is_stale(path) && unlink(path) < 0 && errno != ENOENT)
        die("unlink stale socket");
}

/* The exact length make_address computed: the whole path is bound, never a truncated prefix. */
STEP int bind_address(int sockfd, const struct sockaddr_un *addr, socklen_t addrlen) {
    return bind(sockfd, (const struct sockaddr *)addr, addrlen);
}

STEP int path_is_ours(const char *path, const struct stat *bound) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == bound->st_dev && st.st_ino == bound->st_ino;
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
