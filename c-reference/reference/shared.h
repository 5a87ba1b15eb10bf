/* Helpers of c-reference's driver (c-reference/driver/, whose Makefile compiles shared.c into
 * libreference-driver.a): errno and fd-kind names, reads up to a count, and the byte-exact pieces
 * of its JSON output (string literals, base64). They were shared with the fd-passing mode of the
 * reference programs, since retired (fd passing is now exercised through the driver only), and
 * stay beside them. Nothing here exits or reports: the caller keeps its own way of failing (the
 * driver's struct failure). */
#ifndef UDS_REFERENCE_SHARED_H
#define UDS_REFERENCE_SHARED_H

#include <stddef.h>
#include <sys/types.h>

/* The symbolic name of an errno value ("EACCES"); "E<number>" when the C library has none. The
 * latter lives in a static buffer, overwritten by the next such call. */
const char *errno_name(int err);

/* The fd kind of an st_mode, as docs/driver-protocol.md's stat names it: "file", "dir", "pipe", "socket",
 * "chr", "blk", "link", else "unknown". */
const char *fd_kind(mode_t mode);

/* read(2) of up to max bytes into buf until EOF, retried on EINTR; sets *error to errno if a read
 * fails. The byte count read. */
size_t read_up_to(int fd, unsigned char *buf, size_t max, int *error);

/* Where json_quote writes: len bytes of s, in order, to ctx (a FILE, a growable buffer...). */
typedef void json_put_fn(void *ctx, const char *s, size_t len);

/* A JSON string literal of the NUL-terminated s, quotes included, handed to put in pieces: '"' and
 * '\' escaped, control bytes and DEL as \u00XX, every other byte (>= 0x80 too: paths are UTF-8 in
 * this suite) as it is. */
void json_quote(const char *s, json_put_fn *put, void *ctx);

/* The standard base64 alphabet (RFC 4648), for encoding and decoding alike. */
extern const char base64_alphabet[65];

/* How many characters base64_encode writes for len bytes. */
#define BASE64_ENCODED_LEN(len) (((len) + 2) / 3 * 4)

/* Standard base64 of len bytes, padded with '=', into out (room for BASE64_ENCODED_LEN(len)
 * characters; no quotes, no NUL). The count written. */
size_t base64_encode(char *out, const unsigned char *data, size_t len);

#endif
