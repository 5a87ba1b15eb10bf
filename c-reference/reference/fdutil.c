/* Helpers shared by the fd-passing server and client: options, failures, JSON output to a FILE
 * (built on shared.c, which c-reference's driver uses too). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "fdmode.h"

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

static void put_file(void *out, const char *s, size_t len) {
    fwrite(s, 1, len, out);
}

void json_string(FILE *out, const char *s) {
    json_quote(s, put_file, out);
}

void json_errno(FILE *out, int err) {
    json_string(out, errno_name(err));
}

/* Encodes in blocks of 3072 input bytes (4096 output characters), so a report of several MiB is
 * written in linear time with one fwrite per block. */
void json_base64(FILE *out, const unsigned char *data, size_t len) {
    char block[BASE64_ENCODED_LEN(3072)];
    fputc('"', out);
    while (len > 0) {
        size_t take = len < 3072 ? len : 3072; /* a multiple of 3: only the last block pads */
        fwrite(block, 1, base64_encode(block, data, take), out);
        data += take;
        len -= take;
    }
    fputc('"', out);
}
