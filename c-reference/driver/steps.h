/* The driver's replaceable steps: the kernel-facing calls of the socket and fd commands
 * (docs/driver-protocol.md, uds-driver/2). The commands (sock.c, fdops.c) parse their fields, resolve names and
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
#include <sys/socket.h> /* struct ucred (_GNU_SOURCE) */
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

/* Step of `listen`, `bind`, `connect` and `sendto` given "abstract": the address of the abstract name
 * whose bytes (those after the leading NUL, NULs among them allowed) are n bytes at name: sun_path is
 * "\0" + those bytes and *alen exactly offsetof(sun_path) + 1 + n, never padded (the length is part
 * of the name, unix(7)). n > 107 does not fit: ENAMETOOLONG from syscall, never truncated. Fills *a
 * and *alen and returns 0, or -1 with f filled. */
int driver_abstract_address(const unsigned char *name, size_t n, struct sockaddr_un *a, socklen_t *alen,
                            const char *syscall, struct failure *f);

/* Step of `bind` without an address: autobinds the unbound socket fd (bind(2) with addrlen
 * sizeof(sa_family_t): the kernel picks an abstract name of 5 hex digits, unix(7)). 0, or -1 with f
 * filled (syscall "bind"). */
int driver_autobind(int fd, struct failure *f);

/* Step of `connect`: connects a socket to the address a (alen bytes), retried on EINTR. With sock
 * >= 0 that existing socket (from `bind`) is connected and *fd is sock; else a new socket of type
 * (SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM, close-on-exec) is made, connected, and handed over in
 * *fd (closed again when connect fails). 0, or -1 with f filled (syscall "socket" or "connect").
 * With `nonblock` true, type carries SOCK_NONBLOCK (an existing sock is already O_NONBLOCK): a full
 * backlog is EAGAIN from "connect" at once. cmd_connect clears O_NONBLOCK after the step, so the
 * step itself never has to. */
int driver_connect(int type, int sock, const struct sockaddr_un *a, socklen_t alen, int *fd, struct failure *f);

/* ---- shutdown (cmd_shutdown, sock.c) ---- */

/* Step of `shutdown`: shutdown(2) of fd with how (SHUT_RD, SHUT_WR or SHUT_RDWR), the other
 * direction left as it is. 0, or -1 with f filled (syscall "shutdown"). */
int driver_shutdown(int fd, int how, struct failure *f);

/* ---- close (cmd_close and quit, driver.c) ---- */

/* Step of `close`: closes fd, which a name of this kind holds (the name's first letter: 'L' listen,
 * 'B' bind, 'C' connect or accept, 'R' received, 'F' mkfd), for real: the kernel drops the socket
 * once no fd refers to it (a peer sees EOF, its name is free again). */
void driver_close(int fd, char kind);

/* ---- send, sendto (cmd_send, cmd_sendto, sock.c) ---- */

/* Step of `send` when its `fds` is not empty and it has no `credentials`: transmits bytes [0,len) of data over the connected
 * socket sockfd with the nfds fds attached. The reference makes one sendmsg(2) carrying all of
 * them in one SCM_RIGHTS control message (driver_sendmsg), then, unless once, plain sends of
 * whatever that call left (driver_send_rest), so the fds go with the first byte. flags are the
 * command's send flags, MSG_NOSIGNAL included. Sets *sent to the total byte count and returns 0,
 * or -1 with f filled: syscall "sendmsg" (the fd-carrying call) or "send" (a plain one).
 * `send` with no fds, or with credentials, does not go through this step: it is one
 * driver_send_message, then driver_send_rest (unless once). */
int driver_send_fds(int sockfd, const unsigned char *data, size_t len, const int *fds, size_t nfds, int flags,
                    int once, size_t *sent, struct failure *f);

/* Step of `sendto`, of `send` without fds and of `send` with credentials: ONE sendmsg(2) of
 * [0,len) with flags, retried on EINTR, to the address to (tolen bytes; NULL: the connected peer),
 * with cred (NULL: none) as an SCM_CREDENTIALS message first in msg_control and the nfds fds as one
 * SCM_RIGHTS message after it (driver_sendmsg_to). A zero-length message is a real call too. The
 * byte count the kernel took, or -1 with f filled (syscall "sendmsg": its errno, such as EMSGSIZE,
 * EAGAIN, ECONNREFUSED or EPERM, is the answer). */
ssize_t driver_send_message(int sockfd, const struct sockaddr_un *to, socklen_t tolen, const unsigned char *data,
                            size_t len, const int *fds, size_t nfds, const struct ucred *cred, int flags,
                            struct failure *f);

/* Helper (not a step): one sendmsg(2) as driver_send_message describes; the byte count sent, or -1
 * with errno set. */
ssize_t driver_sendmsg_to(int sockfd, const struct sockaddr_un *to, socklen_t tolen, const unsigned char *data,
                          size_t len, const int *fds, size_t nfds, const struct ucred *cred, int flags);

/* Helper (not a step): one sendmsg(2) of [0,len) with flags, retried on EINTR; with nfds > 0 it
 * carries fds in one SCM_RIGHTS message (a control buffer of CMSG_SPACE(nfds * sizeof(int))
 * bytes), else it has no control buffer at all. The byte count sent, or -1 with errno set. */
ssize_t driver_sendmsg(int sockfd, const unsigned char *data, size_t len, const int *fds, size_t nfds, int flags);

/* Helper (not a step): plain send(2)s of data[*sent, len) with flags, retried on EINTR, advancing
 * *sent until all is sent. 0, or -1 with f filled (syscall "send"). */
int driver_send_rest(int sockfd, const unsigned char *data, size_t len, size_t *sent, int flags, struct failure *f);

/* ---- recv, recvfrom (cmd_recv, cmd_recvfrom, sock.c) ---- */

/* Step of `recv` (plain false, credentials false): one recvmsg(2) of up to size bytes into data, retried on EINTR,
 * with flags (the command's recv flags) | MSG_CMSG_CLOEXEC when cloexec. The control buffer is
 * exactly CMSG_LEN(ctl_fds * sizeof(int)) bytes (CMSG_SPACE's padding would let Linux deliver one
 * fd more than asked); with ctl_fds 0 there is none (msg_control NULL, length 0). Returns the byte
 * count (0: end of stream) with the SCM_RIGHTS fds received, in order, in *fds (malloc'd, or NULL
 * when none; the caller names them and frees the array), their count in *nfds, and msg_flags in
 * *msg_flags; or -1 with f filled (syscall "recvmsg"), *fds NULL and *nfds 0. With MSG_TRUNC in
 * flags the byte count of a packet socket is the message's full length, maybe more than size.
 * (v1's signature, kept for the mutants that replace it: it reports only SCM_RIGHTS, so a recv
 * without credentials answers its fds as one SCM_RIGHTS control message.) */
ssize_t driver_recv(int sockfd, unsigned char *data, size_t size, size_t ctl_fds, int cloexec, int flags, int **fds,
                    size_t *nfds, int *msg_flags, struct failure *f);

/* Helper (not a step): the recvmsg of driver_recv, as it describes. */
ssize_t driver_recvmsg_fds(int sockfd, unsigned char *data, size_t size, size_t ctl_fds, int cloexec, int flags,
                           int **fds, size_t *nfds, int *msg_flags, struct failure *f);

/* One control message of a recv, as the kernel wrote it: its level and type, and the bytes of its
 * data that lie inside the control buffer (SCM_RIGHTS: that many / sizeof(int) fds, now the
 * receiver's; SCM_CREDENTIALS: a struct ucred). */
struct control_msg {
    int level, type;
    unsigned char *data; /* malloc'd (NULL when len is 0) */
    size_t len;
};

/* One recv or recvfrom: what it asks for, and what the step fills. */
struct recv_call {
    unsigned char *data;      /* in: room for size bytes */
    size_t size;              /* in */
    size_t ctl_fds;           /* in: controlFds */
    int credentials;          /* in: room for one SCM_CREDENTIALS before the fds' room */
    int cloexec;              /* in: MSG_CMSG_CLOEXEC */
    int flags;                /* in: the command's recv flags */
    struct sockaddr_un *from; /* in: msg_name for recvfrom; NULL for recv */
    socklen_t fromlen;        /* out: msg_namelen (0: the kernel gave no address) */
    struct control_msg *control; /* out: malloc'd, in the kernel's order */
    size_t ncontrol;          /* out */
    int msg_flags;            /* out */
};

/* Step of `recv` with credentials true and of every `recvfrom`: one recvmsg(2) of up to
 * call->size bytes, retried on EINTR, with call->flags | MSG_CMSG_CLOEXEC when cloexec, msg_name
 * call->from. The control buffer is exactly (credentials ? CMSG_SPACE(sizeof(struct ucred)) : 0) +
 * (ctl_fds > 0 ? CMSG_LEN(ctl_fds * sizeof(int)) : 0) bytes (none at all when 0), and every control
 * message the kernel wrote is handed over in call->control, in order (the fds of SCM_RIGHTS open
 * for the caller to name). Returns recvmsg's value (with MSG_TRUNC in flags, a packet's full
 * length), or -1 with f filled (syscall "recvmsg") and no control messages. */
ssize_t driver_recv_control(int sockfd, struct recv_call *call, struct failure *f);

/* Helper (not a step): the recvmsg of driver_recv_control, as it describes. */
ssize_t driver_recvmsg_call(int sockfd, struct recv_call *call, struct failure *f);

/* Helper (not a step): frees call's control messages (closing no fd) and clears them. */
void driver_free_control(struct recv_call *call);

/* Step of `recv` with plain true: one read(2) of up to size bytes into data, retried on EINTR (the
 * kernel discards any fds passed with those bytes). The byte count (0: end of stream), or -1 with
 * f filled (syscall "read"). The answer then has no fds and no flags. */
ssize_t driver_plain_read(int sockfd, unsigned char *data, size_t size, struct failure *f);

/* ---- socket options (cmd_setsockopt, cmd_peercred, sock.c) ---- */

/* Step of `setsockopt`: setsockopt(2) at SOL_SOCKET of option (SO_PASSCRED, SO_SNDBUF or
 * SO_RCVBUF) to the int value on fd. 0, or -1 with f filled (syscall "setsockopt"). */
int driver_setsockopt(int fd, int option, int value, struct failure *f);

/* Step of `peercred`: the credentials of fd's peer as of connect (or of socketpair), by
 * getsockopt(2) SO_PEERCRED into *cred. 0, or -1 with f filled (syscall "getsockopt"). */
int driver_peercred(int fd, struct ucred *cred, struct failure *f);

/* ---- read (cmd_read, fdops.c) ---- */

/* Step of `read`: reads up to n bytes into buf through the named fd itself (a received fd: the
 * open file description the sender made, at the offset it shares), repeating read(2) until n
 * bytes, end of file or an error. The byte count read; a failed read sets *error to its errno
 * (the answer's `error`; not a failed command). */
size_t driver_read_through(int fd, unsigned char *buf, size_t n, int *error);

#endif
