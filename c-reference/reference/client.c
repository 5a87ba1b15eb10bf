/* Corrected reference client of the seed protocol: copy everything the server sends to stdout,
 * binary-safe, until EOF.   usage: reference-client PATH
 * With an option (--fds ...) it runs the fd-passing mode of docs/fd-passing.md (fdmode_client.c). */
#include "common.h"
#include "fdmode.h"

int main(int argc, char **argv) {
    if (fd_mode_requested(argc, argv))
        return fd_client_main(argc, argv);
    const char *path = argc > 1 ? argv[1] : "/tmp/my_sock";
    struct sockaddr_un addr;
    socklen_t addrlen = make_address(&addr, path);

    int sockfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sockfd < 0)
        die("socket");
    int rc;
    do
        rc = connect(sockfd, (struct sockaddr *)&addr, addrlen);
    while (rc < 0 && errno == EINTR);
    if (rc < 0)
        die("connect");

    static char buf[1 << 16];
    for (;;) {
        ssize_t n = read(sockfd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("read");
        }
        if (n == 0)
            break;
        if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
            die("write stdout");
    }
    close(sockfd);
    return 0;
}
