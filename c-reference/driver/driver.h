/* c-reference's driver (docs/driver-protocol.md, uds-driver/2): shared declarations of the command
 * loop (driver.c), the socket commands (sock.c), the transfers (msg.c) and the fd commands
 * (fdops.c). The system calls under test are the replaceable steps of steps.h (steps.c). */
#ifndef UDS_DRIVER_H
#define UDS_DRIVER_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "json.h"
#include "../reference/shared.h" /* errno_name, fd_kind, read_up_to (with the reference) */

/* Why a command failed: an errno from a call, or the driver's own refusal (syscall "driver"). */
struct failure {
    int err;             /* errno value */
    const char *syscall; /* the call that failed, or "driver" */
    const char *code;    /* NULL: the errno's name; else this code (ENOTSUP for "cannot do") */
    char message[256];   /* empty: strerror(err) */
};

/* Each command appends its answer's fields (",\"key\":value"...) to ans and returns 0, or fills f
 * and returns -1. */
typedef int (*command_fn)(const struct jobject *cmd, struct buf *ans, struct failure *f);

int fail_errno(struct failure *f, const char *syscall);                   /* f from errno */
int fail_with(struct failure *f, int err, const char *syscall);           /* f from err */
int fail_proto(struct failure *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fail_unsupported(struct failure *f, const char *what);

/* Command fields. A missing optional field takes def; a present field of the wrong type or out of
 * range is a protocol error (EINVAL, syscall "driver"). Each returns 0 or -1 (f filled). */
int field_str(const struct jobject *c, const char *key, const char **out, struct failure *f);
int field_str_opt(const struct jobject *c, const char *key, const char **out, const char *def,
                  struct failure *f);
int field_num(const struct jobject *c, const char *key, long long *out, long long def, long long min,
              long long max, int required, struct failure *f);
int field_bool(const struct jobject *c, const char *key, int *out, int def, struct failure *f);
int field_strs(const struct jobject *c, const char *key, char ***out, size_t *n, struct failure *f);

/* Names: every fd the driver hands out is named by a short string it chose ("L1", "C2", "F3",
 * "R4", "B5"), never reused; its letter says what made it (steps.h, driver_close). A name may own a second fd (peer), closed with it. */
struct named {
    char name[24];
    int fd, peer;
};
/* Registers fd under a new name with the given prefix letter; the entry, or NULL (ENOMEM). */
struct named *name_add(char prefix, int fd, int peer);
/* The entry of name, or NULL with errno EBADF (an unknown or closed name). */
struct named *name_find(const char *name);
/* Looks up the field key as a name; -1 with f = EBADF from syscall when it names nothing. */
int field_name(const struct jobject *c, const char *key, const char *syscall, struct named **out,
               struct failure *f);

/* The command's address: exactly one of "path" (driver_path_address) and "abstract" (base64 of the
 * name's bytes, driver_abstract_address); both is a protocol error. With none NULL, neither is one
 * too ("path" is missing); else *none says neither was given (bind: autobind). 0, or -1 with f. */
int field_address(const struct jobject *c, struct sockaddr_un *a, socklen_t *len, int *none, const char *syscall,
                  struct failure *f);
/* The optional "type": stream (the default), seqpacket or dgram, as SOCK_*; another is ENOTSUP. */
int field_type(const struct jobject *c, int *type, struct failure *f);
/* Appends {"length":len,"bytes":base64 of sun_path's first len - 2 bytes}: an address as the
 * kernel reported it. */
void answer_address(struct buf *ans, const struct sockaddr_un *a, socklen_t len);

/* sock.c */
int cmd_listen(const struct jobject *, struct buf *, struct failure *);
int cmd_bind(const struct jobject *, struct buf *, struct failure *);
int cmd_accept(const struct jobject *, struct buf *, struct failure *);
int cmd_connect(const struct jobject *, struct buf *, struct failure *);
int cmd_shutdown(const struct jobject *, struct buf *, struct failure *);
int cmd_getsockname(const struct jobject *, struct buf *, struct failure *);
int cmd_getpeername(const struct jobject *, struct buf *, struct failure *);
int cmd_setsockopt(const struct jobject *, struct buf *, struct failure *);
int cmd_getsockopt(const struct jobject *, struct buf *, struct failure *);
int cmd_peercred(const struct jobject *, struct buf *, struct failure *);

/* msg.c */
int cmd_send(const struct jobject *, struct buf *, struct failure *);
int cmd_sendto(const struct jobject *, struct buf *, struct failure *);
int cmd_recv(const struct jobject *, struct buf *, struct failure *);
int cmd_recvfrom(const struct jobject *, struct buf *, struct failure *);

/* fdops.c */
int cmd_mkfd(const struct jobject *, struct buf *, struct failure *);
int cmd_stat(const struct jobject *, struct buf *, struct failure *);
int cmd_read(const struct jobject *, struct buf *, struct failure *);
int cmd_fds(const struct jobject *, struct buf *, struct failure *);
int cmd_open(const struct jobject *, struct buf *, struct failure *);
int cmd_whoami(const struct jobject *, struct buf *, struct failure *);
int cmd_setrlimit(const struct jobject *, struct buf *, struct failure *);

#endif
