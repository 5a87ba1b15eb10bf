/* Corrected reference server of the seed protocol: serve one client (or N in turn), send each the
 * payload, clean up.
 * usage: reference-server [--clients N] PATH [PAYLOAD-FILE]   (no payload file: "Server Message\n")
 * --clients N may come anywhere in argv (a harness appends it after PATH and PAYLOAD); "--" ends the
 * options, so a path named "--clients" can still be given. Bad usage exits 2.
 * The work is done by the steps of server_steps.c (steps.h), which mutants replace one at a time. */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "common.h"
#include "steps.h"

static void usage_error(const char *what, const char *arg) {
    fprintf(stderr, "reference-server: %s%s%s%s\nusage: reference-server [--clients N] PATH [PAYLOAD-FILE]\n", what,
            arg ? " \"" : "", arg ? arg : "", arg ? "\"" : "");
    exit(2);
}

static int parse_clients(const char *text) {
    char *end;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || n < 1 || n > INT_MAX)
        usage_error("--clients takes a whole number of at least 1, not", text);
    return (int)n;
}

/* The socket this server bound, from bind until its path is removed: every way out after bind
 * (die() exits through exit(3)) removes the path, and only while it is still this socket. */
static const char *bound_path;
static struct stat bound;

/* Removes the path if it is still the socket this server bound; unlink's result (0 when there was
 * nothing of ours to remove). */
static int remove_bound_path(void) {
    if (bound_path == NULL)
        return 0;
    const char *path = bound_path;
    bound_path = NULL;
    return path_is_ours(path, &bound) ? unlink_path(path) : 0;
}

/* On the way out after a failure: the error that ended the server has been reported already. */
static void remove_bound_path_at_exit(void) {
    int saved = errno;
    (void)remove_bound_path();
    errno = saved;
}

int main(int argc, char **argv) {
    const char *positional[2] = {"/tmp/my_sock", NULL};
    int given = 0, clients = 1, options_done = 0;
    for (int i = 1; i < argc; i++) {
        if (!options_done && strcmp(argv[i], "--") == 0) {
            options_done = 1;
        } else if (!options_done && strcmp(argv[i], "--clients") == 0) {
            if (i + 1 >= argc)
                usage_error("--clients needs a number", NULL);
            clients = parse_clients(argv[++i]);
        } else if (given < 2) {
            positional[given++] = argv[i];
        } else {
            usage_error("unexpected argument", argv[i]);
        }
    }
    const char *path = positional[0];
    const char *payload_file = positional[1];
    struct sockaddr_un addr;
    socklen_t addrlen = make_address(&addr, path);

    /* A client that goes away early must show up as a write error (EPIPE), not kill us silently. */
    signal(SIGPIPE, SIG_IGN);

    int sockfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sockfd < 0)
        die("socket");
    /* Only a stale socket goes; a live one or any other file stays, and bind then fails with
     * EADDRINUSE ("bind: Address already in use"). */
    remove_stale_socket(path);
    if (bind_address(sockfd, &addr, addrlen) < 0)
        die("bind");
    /* What bind made, to tell it from whatever someone puts at the path later. */
    if (lstat(path, &bound) == 0)
        bound_path = path;
    atexit(remove_bound_path_at_exit);
    if (listen(sockfd, 16) < 0)
        die("listen");
    for (int served = 0; served < clients; served++) {
        int connfd;
        do
            connfd = accept4(sockfd, NULL, NULL, SOCK_CLOEXEC);
        while (connfd < 0 && errno == EINTR);
        if (connfd < 0)
            die("accept");
        if (served == clients - 1) {
            /* The path is ours from bind on; remove it as soon as nobody else can connect. */
            close(sockfd);
            if (remove_bound_path() < 0 && errno != ENOENT)
                die("unlink");
        }
        serve_payload(connfd, payload_file);
        if (close(connfd) < 0)
            die("close");
    }
    return 0;
}
