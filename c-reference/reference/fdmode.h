/* The fd-passing mode of the reference programs (docs/fd-passing.md): entry points and the small
 * helpers both roles share (option parsing, JSON and base64 streamed to a FILE); errno names and the
 * rest they share with c-reference's driver are in shared.h. */
#ifndef UDS_REFERENCE_FDMODE_H
#define UDS_REFERENCE_FDMODE_H

#include <stddef.h>
#include <stdio.h>
#include "shared.h"

/* True when an argument after PATH starts with "--": the plain protocol takes no options, so any
 * option selects the fd-passing mode (unknown options are then refused, not ignored). */
int fd_mode_requested(int argc, char **argv);

/* Each runs the whole role and returns the exit status (errors exit 1 directly). */
int fd_server_main(int argc, char **argv);
int fd_client_main(int argc, char **argv);

/* "<what>: <strerror(err)>" on stderr, exit 1; exit() runs the server's atexit cleanup. */
void fail_errno(const char *what, int err) __attribute__((noreturn));

/* The value of option argv[*i] (advancing *i), or a usage error when it is missing. */
const char *option_value(int argc, char **argv, int *i);

/* A decimal number in [min, max] for option name, or a usage error (exit 1). */
unsigned long long parse_number(const char *name, const char *text, unsigned long long min,
                                unsigned long long max);

/* JSON output: a quoted, escaped string; a quoted errno name; quoted base64 of len bytes. */
void json_string(FILE *out, const char *s);
void json_errno(FILE *out, int err);
void json_base64(FILE *out, const unsigned char *data, size_t len);

#endif
