/* The reference programs' replaceable steps. Each role is a fixed sequence of calls (server.c,
 * client.c) into the steps declared here; a mutant in fixtures/mutants/ is the reference with
 * exactly one step defined again, differently. (fd passing is exercised through c-reference's
 * driver instead, whose steps are c-reference/driver/steps.h.)
 *
 * Declarations carry no attribute: only the reference definitions are STEP (weak), so a mutant
 * that includes this header gets its signature checked and still defines a strong symbol. */
#ifndef UDS_REFERENCE_STEPS_H
#define UDS_REFERENCE_STEPS_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

/* Weak so that a mutant in fixtures/mutants/ can replace exactly one step by linking its own
 * definition: the linker keeps a strong definition over a weak one, and GCC never inlines or
 * constant-propagates a weak function, so every call of the step goes to whichever one was linked. */
#define STEP __attribute__((weak))

/* ---- server (server_steps.c) ---- */

/* Removes a socket left at path by a dead server (socket_is_stale), never a live socket and never
 * another kind of file (lstat(2): a symlink is not followed). */
void remove_stale_socket(const char *path);
/* Whether the socket at path is stale: a non-blocking connect(2) probe to it fails with
 * ECONNREFUSED. */
int socket_is_stale(const char *path);
/* bind(2) of the listening socket to the address make_address built; bind's result and errno. */
int bind_address(int sockfd, const struct sockaddr_un *addr, socklen_t addrlen);
/* Whether the file at path is still the socket this server bound: a socket with bound's device and
 * inode (lstat(2) right after bind). Someone may have moved it aside and bound another since. */
int path_is_ours(const char *path, const struct stat *bound);
/* unlink(2) of the server's own socket path: after the last accept, and on a failure after bind,
 * each only when path_is_ours; unlink's result. */
int unlink_path(const char *path);

/* Sends the payload file, or the default message when payload_file is NULL; dies on failure. */
void serve_payload(int connfd, const char *payload_file);
/* Sends the fixed "Server Message\n"; dies on failure. */
void send_default_message(int connfd);
/* Sends everything in payload_file, binary-safe, in chunks; dies on failure. */
void send_payload_file(int connfd, const char *payload_file);

/* ---- client (client_steps.c) ---- */

/* connect(2) to the server, retried on EINTR; dies ("connect: ...") on failure. */
void connect_path(int sockfd, const struct sockaddr_un *addr, socklen_t addrlen);
/* Helper (not a step): make_address, socket(2) and connect_path; the connected socket. Dies on
 * failure (a path that does not fit sun_path is refused before any socket exists). */
int connect_to(const char *path);

/* Copies everything the server sends to stdout until EOF, then calls finish_client; dies on
 * failure. */
void copy_to_stdout(int sockfd);
/* At EOF, after copied bytes in all: closes sockfd (the client then exits 0). An empty stream is
 * a normal one, so the reference has no use for copied. */
void finish_client(int sockfd, size_t copied);

#endif
