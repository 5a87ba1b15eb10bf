/* Corrected reference server of the seed protocol: serve one client, send the payload, clean up.
 * usage: reference-server PATH [PAYLOAD-FILE]   (no payload file: "Server Message\n")
 * The work is done by the steps of server_steps.c (steps.h), which mutants replace one at a time. */
#include <signal.h>
#include "common.h"
#include "steps.h"

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/tmp/my_sock";
    const char *payload_file = argc > 2 ? argv[2] : NULL;
    struct sockaddr_un addr;
    socklen_t addrlen = make_address(&addr, path);

    /* A client that goes away early must show up as a write error (EPIPE), not kill us silently. */
    signal(SIGPIPE, SIG_IGN);

    int sockfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sockfd < 0)
        die("socket");
    remove_stale_socket(path);
    if (bind_address(sockfd, &addr, addrlen) < 0)
        die("bind");
    if (listen(sockfd, 16) < 0) {
        int saved = errno;
        unlink_path(path);
        errno = saved;
        die("listen");
    }
    int connfd;
    do
        connfd = accept4(sockfd, NULL, NULL, SOCK_CLOEXEC);
    while (connfd < 0 && errno == EINTR);
    if (connfd < 0) {
        int saved = errno;
        unlink_path(path);
        errno = saved;
        die("accept");
    }
    /* The path is ours from bind on; remove it as soon as nobody else can connect. */
    close(sockfd);
    if (unlink_path(path) < 0 && errno != ENOENT)
        die("unlink");
    serve_payload(connfd, payload_file);
    if (close(connfd) < 0)
        die("close");
    return 0;
}
