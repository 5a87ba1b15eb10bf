/* Helpers of c-reference's driver (shared.h), compiled by c-reference/driver/Makefile. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "shared.h"

const char *errno_name(int err) {
    static char unknown[32];
    const char *name = strerrorname_np(err);
    if (name != NULL)
        return name;
    snprintf(unknown, sizeof unknown, "E%d", err);
    return unknown;
}

const char *fd_kind(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFREG: return "file";
    case S_IFDIR: return "dir";
    case S_IFIFO: return "pipe";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFLNK: return "link";
    default: return "unknown";
    }
}

size_t read_up_to(int fd, unsigned char *buf, size_t max, int *error) {
    size_t got = 0;
    while (got < max) {
        ssize_t n = read(fd, buf + got, max - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            *error = errno;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* Bytes that need no escape go to put in runs, each escape on its own. */
void json_quote(const char *s, json_put_fn *put, void *ctx) {
    const char *run = s;
    put(ctx, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char esc[8];
        int n;
        if (c == '"' || c == '\\')
            n = snprintf(esc, sizeof esc, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            n = snprintf(esc, sizeof esc, "\\u%04x", c);
        else
            continue;
        put(ctx, run, (size_t)(p - run));
        put(ctx, esc, (size_t)n);
        run = p + 1;
    }
    put(ctx, run, strlen(run));
    put(ctx, "\"", 1);
}

const char base64_alphabet[65] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(char *out, const unsigned char *data, size_t len) {
    const char *a = base64_alphabet;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = a[(v >> 6) & 63];
        out[o++] = a[v & 63];
    }
    if (i < len) { /* 1 or 2 bytes left */
        unsigned v = (unsigned)data[i] << 16 | (i + 1 < len ? (unsigned)data[i + 1] << 8 : 0);
        out[o++] = a[v >> 18];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < len ? a[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}
