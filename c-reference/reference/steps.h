/* The reference programs' replaceable steps. Each role is a fixed sequence of calls (server.c,
 * client.c, fdmode_server.c, fdmode_client.c) into the steps declared here; a mutant in
 * fixtures/mutants/ is the reference with exactly one step defined again, differently.
 *
 * Declarations carry no attribute: only the reference definitions are STEP (weak), so a mutant
 * that includes this header gets its signature checked and still defines a strong symbol. */
#ifndef UDS_REFERENCE_STEPS_H
#define UDS_REFERENCE_STEPS_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include "shared.h"

/* Weak so that a mutant in fixtures/mutants/ can replace exactly one step by linking its own
 * definition: the linker keeps a strong definition over a weak one, and GCC never inlines or
 * constant-propagates a weak function, so every call of the step goes to whichever one was linked. */
#define STEP __attribute__((weak))

/* ---- server, both modes (server_steps.c) ---- */

/* Removes a socket left at path by a dead server, never another kind of file. */
void remove_stale_socket(const char *path);
/* bind(2) of the listening socket to the address make_address built; bind's result and errno. */
int bind_address(int sockfd, const struct sockaddr_un *addr, socklen_t addrlen);
/* unlink(2) of the server's own socket path: after accept, on a failure after bind, and from the
 * fd mode's exit and signal handlers (so it must stay async-signal-safe); unlink's result. */
int unlink_path(const char *path);

/* ---- server, plain protocol (server_steps.c) ---- */

/* Sends the payload file, or the default message when payload_file is NULL; dies on failure. */
void serve_payload(int connfd, const char *payload_file);
/* Sends the fixed "Server Message\n"; dies on failure. */
void send_default_message(int connfd);
/* Sends everything in payload_file, binary-safe, in chunks; dies on failure. */
void send_payload_file(int connfd, const char *payload_file);

/* ---- server, fd mode (server_steps.c) ---- */

/* Sends all of data with plain writes; exits 1 ("write: ...") on failure. */
void send_plain(int connfd, const unsigned char *data, size_t len);
/* Sends bytes [0,len) with the nfds fds attached to the first byte in one SCM_RIGHTS message,
 * then whatever that sendmsg left plainly; exits 1 ("sendmsg: ...") on failure. */
void send_with_fds(int connfd, const unsigned char *data, size_t len, const int *fds, size_t nfds);
/* Helper (not a step): one sendmsg of [0,len) carrying fds in one SCM_RIGHTS message, retried on
 * EINTR; the byte count sent, or -1 with errno set. */
ssize_t send_rights(int connfd, const unsigned char *data, size_t len, const int *fds, size_t nfds);

/* ---- client, both modes (client_steps.c) ---- */

/* connect(2) to the server, retried on EINTR; dies ("connect: ...") on failure. */
void connect_path(int sockfd, const struct sockaddr_un *addr, socklen_t addrlen);
/* Helper (not a step): make_address, socket(2) and connect_path; the connected socket. Dies on
 * failure (a path that does not fit sun_path is refused before any socket exists). */
int connect_to(const char *path);

/* ---- client, plain protocol (client_steps.c) ---- */

/* Copies everything the server sends to stdout until EOF, then calls finish_client; dies on
 * failure. */
void copy_to_stdout(int sockfd);
/* At EOF, after copied bytes in all: closes sockfd (the client then exits 0). An empty stream is
 * a normal one, so the reference has no use for copied. */
void finish_client(int sockfd, size_t copied);

/* ---- client, fd mode ---- */

/* What the fd-mode client knows about one received fd (filled in after EOF by inspect_fd). */
struct fd_rec {
    int fd;
    size_t read; /* index in reads of the call that delivered it */
    const char *kind;
    int has_stat, cloexec, accmode, error;
    unsigned long long dev, ino;
    off_t offset;
    unsigned char *data;
    size_t data_len;
};

/* client_steps.c: */
/* Size of the control buffer for at most ctl_fds fds (--ctl-fds). */
size_t control_buffer_size(size_t ctl_fds);
/* One recvmsg(2) into msg (data and control buffer set by the caller) with flags, retried on
 * EINTR; the byte count (0 at EOF). Exits 1 ("recvmsg: ...") on failure. */
ssize_t receive_message(int sockfd, struct msghdr *msg, int flags);
/* One read(2) (--plain-read), retried on EINTR; the byte count. Exits 1 ("read: ...") on failure. */
ssize_t read_chunk(int sockfd, void *buf, size_t len);
/* Reads up to max bytes through a received fd at its offset; sets *error to errno if a read fails.
 * The byte count read. */
size_t read_through_fd(int fd, unsigned char *buf, size_t max, int *error);
/* fstat/fcntl/lseek of r->fd, then up to max bytes read through it (buf has room for max). */
void inspect_fd(struct fd_rec *r, unsigned char *buf, size_t max);

/* fdmode_client.c (they fill the report's lists): */
/* Receives until EOF (recvmsg, or read with plain), recording bytes, reads and fds. */
void receive_all(int sockfd, size_t recv_buf, size_t ctl_fds, int cloexec, int plain);
/* Records the SCM_RIGHTS fds msg delivered as fds of read number read_index; their count. */
size_t take_fds(struct msghdr *msg, size_t read_index);

/* Helper (not a step): read_up_to, declared in shared.h (included above). */

#endif
