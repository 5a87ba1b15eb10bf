/* The driver's replaceable steps: the kernel-facing calls of the commands that pass fds
 * (docs/driver-protocol.md). The commands (sock.c, fdops.c) parse their fields, resolve names and
 * build the answer; the system calls under test are made only through the steps declared here. A
 * driver mutant in fixtures/mutants/ (driver-*.c) is the reference driver with exactly one step
 * defined again, differently: it is linked first, then ../bin/libreference-driver.a, and the linker
 * keeps its strong definition over the archive's weak one (steps.c).
 *
 * Declarations carry no attribute: only the reference definitions are DRIVER_STEP (weak), so a
 * mutant that includes this header gets its signature checked and still defines a strong symbol.
 * Every step fails by filling f (fail_errno, fail_with: driver.h) and returning -1; its syscall is
 * the one the protocol names for that command's failure. */
#ifndef UDS_DRIVER_STEPS_H
#define UDS_DRIVER_STEPS_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include "driver.h"

/* Weak, as c-reference/reference/steps.h's STEP: GCC never inlines or constant-propagates a weak
 * function, so every call of the step goes to whichever definition was linked. */
#define DRIVER_STEP __attribute__((weak))

/* ---- listen, connect (cmd_listen, cmd_connect, sock.c) ---- */

/* Step of `listen` and `connect`: the exact-length address of the pathname socket named by the
 * command's "path" field, whose decoded JSON string is len bytes at path (NUL-terminated after them,
 * and possibly holding a NUL of its own: "\u0000"). A path holding a NUL is refused (EINVAL from
 * "driver": no prefix of it is ever bound or connected to, cf. python/cpython#99599); so is an
 * empty one (ENOENT from syscall) and one that does not fit sun_path with its NUL (ENAMETOOLONG from
 * syscall), never truncated. Fills *a and *alen and returns 0, or -1 with f filled. */
int driver_path_address(const char *path, size_t len, struct sockaddr_un *a, socklen_t *alen, const char *syscall,
                        struct failure *f);

/* ---- send (cmd_send, sock.c) ---- */

/* Step of `send` when its `fds` is not empty: transmits bytes [0,len) of data over the connected
 * socket sockfd with the nfds fds attached. The reference makes one sendmsg(2) carrying all of
 * them in one SCM_RIGHTS control message (driver_sendmsg), then, unless once, plain sends of
 * whatever that call left (driver_send_rest), so the fds go with the first byte. flags are the
 * command's send flags, MSG_NOSIGNAL included. Sets *sent to the total byte count and returns 0,
 * or -1 with f filled: syscall "sendmsg" (the fd-carrying call) or "send" (a plain one).
 * `send` with no fds does not go through this step: it is one driver_sendmsg without a control
 * message, then driver_send_rest. */
int driver_send_fds(int sockfd, const unsigned char *data, size_t len, const int *fds, size_t nfds, int flags,
                    int once, size_t *sent, struct failure *f);

/* Helper (not a step): one sendmsg(2) of [0,len) with flags, retried on EINTR; with nfds > 0 it
 * carries fds in one SCM_RIGHTS message (a control buffer of CMSG_SPACE(nfds * sizeof(int))
 * bytes), else it has no control buffer at all. The byte count sent, or -1 with errno set. */
ssize_t driver_sendmsg(int sockfd, const unsigned char *data, size_t len, const int *fds, size_t nfds, int flags);

/* Helper (not a step): plain send(2)s of data[*sent, len) with flags, retried on EINTR, advancing
 * *sent until all is sent. 0, or -1 with f filled (syscall "send"). */
int driver_send_rest(int sockfd, const unsigned char *data, size_t len, size_t *sent, int flags, struct failure *f);

/* ---- recv (cmd_recv, sock.c) ---- */

/* Step of `recv` (plain false): one recvmsg(2) of up to size bytes into data, retried on EINTR,
 * with flags (the command's recv flags) | MSG_CMSG_CLOEXEC when cloexec. The control buffer is
 * exactly CMSG_LEN(ctl_fds * sizeof(int)) bytes (CMSG_SPACE's padding would let Linux deliver one
 * fd more than asked); with ctl_fds 0 there is none (msg_control NULL, length 0). Returns the byte
 * count (0: end of stream) with the SCM_RIGHTS fds received, in order, in *fds (malloc'd, or NULL
 * when none; the caller names them and frees the array), their count in *nfds, and msg_flags in
 * *msg_flags; or -1 with f filled (syscall "recvmsg"), *fds NULL and *nfds 0. */
ssize_t driver_recv(int sockfd, unsigned char *data, size_t size, size_t ctl_fds, int cloexec, int flags, int **fds,
                    size_t *nfds, int *msg_flags, struct failure *f);

/* Step of `recv` with plain true: one read(2) of up to size bytes into data, retried on EINTR (the
 * kernel discards any fds passed with those bytes). The byte count (0: end of stream), or -1 with
 * f filled (syscall "read"). The answer then has no fds and no flags. */
ssize_t driver_plain_read(int sockfd, unsigned char *data, size_t size, struct failure *f);

/* ---- read (cmd_read, fdops.c) ---- */

/* Step of `read`: reads up to n bytes into buf through the named fd itself (a received fd: the
 * open file description the sender made, at the offset it shares), repeating read(2) until n
 * bytes, end of file or an error. The byte count read; a failed read sets *error to its errno
 * (the answer's `error`; not a failed command). */
size_t driver_read_through(int fd, unsigned char *buf, size_t n, int *error);

#endif
