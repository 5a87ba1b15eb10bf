/* Corrected reference server of the seed protocol: serve one client, send the payload, clean up.
 * usage: reference-server PATH [PAYLOAD-FILE]   (no payload file: "Server Message\n")
 * With an option (--pass ...) it runs the fd-passing mode of docs/fd-passing.md (fdmode_server.c). */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include "common.h"
#include "fdmode.h"

static const char default_message[] = "Server Message\n";

static void send_payload(int connfd, const char *payload_file) {
    if (payload_file == NULL) {
        if (write_all(connfd, default_message, sizeof default_message - 1) < 0)
            die("write");
        return;
    }
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

int main(int argc, char **argv) {
    if (fd_mode_requested(argc, argv))
        return fd_server_main(argc, argv);
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
    if (bind(sockfd, (struct sockaddr *)&addr, addrlen) < 0)
        die("bind");
    if (listen(sockfd, 16) < 0) {
        int saved = errno;
        unlink(path);
        errno = saved;
        die("listen");
    }
    int connfd;
    do
        connfd = accept4(sockfd, NULL, NULL, SOCK_CLOEXEC);
    while (connfd < 0 && errno == EINTR);
    if (connfd < 0) {
        int saved = errno;
        unlink(path);
        errno = saved;
        die("accept");
    }
    /* The path is ours from bind on; remove it as soon as nobody else can connect. */
    close(sockfd);
    if (unlink(path) < 0 && errno != ENOENT)
        die("unlink");
    send_payload(connfd, payload_file);
    if (close(connfd) < 0)
        die("close");
    return 0;
}
