/* Helpers shared by the fd-passing server and client: options, reads, errno names, JSON output. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fdmode.h"
#include "steps.h"

int fd_mode_requested(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0)
            return 1;
    return 0;
}

void fail_errno(const char *what, int err) {
    fprintf(stderr, "%s: %s\n", what, strerror(err));
    exit(1);
}

const char *option_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        char what[128];
        snprintf(what, sizeof what, "option %.100s needs a value", argv[*i]);
        fail_errno(what, EINVAL);
    }
    return argv[++*i];
}

unsigned long long parse_number(const char *name, const char *text, unsigned long long min,
                                unsigned long long max) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max) {
        char what[200];
        snprintf(what, sizeof what, "%s %.60s (want a number from %llu to %llu)", name, text, min, max);
        fail_errno(what, errno == ERANGE ? ERANGE : EINVAL);
    }
    return v;
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

const char *errno_name(int err) {
    static char unknown[32];
    const char *name = strerrorname_np(err);
    if (name != NULL)
        return name;
    snprintf(unknown, sizeof unknown, "E%d", err);
    return unknown;
}

void json_string(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out); /* bytes >= 0x80 pass through: paths are UTF-8 in this suite */
    }
    fputc('"', out);
}

void json_errno(FILE *out, int err) {
    json_string(out, errno_name(err));
}

/* Encodes in blocks of 3072 input bytes (4096 output characters), so a report of several MiB is
 * written in linear time with one fwrite per block. */
void json_base64(FILE *out, const unsigned char *data, size_t len) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char block[4096];
    fputc('"', out);
    while (len > 0) {
        size_t take = len < 3072 ? len : 3072, o = 0, i = 0;
        for (; i + 3 <= take; i += 3) {
            unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
            block[o++] = alphabet[v >> 18];
            block[o++] = alphabet[(v >> 12) & 63];
            block[o++] = alphabet[(v >> 6) & 63];
            block[o++] = alphabet[v & 63];
        }
        if (i < take) { /* only in the last block: 1 or 2 bytes left */
            unsigned v = (unsigned)data[i] << 16 | (i + 1 < take ? (unsigned)data[i + 1] << 8 : 0);
            block[o++] = alphabet[v >> 18];
            block[o++] = alphabet[(v >> 12) & 63];
            block[o++] = i + 1 < take ? alphabet[(v >> 6) & 63] : '=';
            block[o++] = '=';
        }
        fwrite(block, 1, o, out);
        data += take;
        len -= take;
    }
    fputc('"', out);
}
