/* The little JSON the driver protocol needs (docs/driver-protocol.md): a command is one object
 * whose values are strings, integers, booleans, null, arrays of strings, or (send's `credentials`)
 * an object of such values; an answer is built into a growable buffer. Bytes travel as base64. */
#ifndef UDS_DRIVER_JSON_H
#define UDS_DRIVER_JSON_H

#include <stddef.h>

#define JSON_MAX_FIELDS 32

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_STRS, J_OBJ };

struct jobject;

struct jfield {
    char *key;
    enum jtype type;
    long long num; /* J_NUM (integers only), J_BOOL (0/1) */
    char *str;     /* J_STR: decoded and NUL-terminated (it may hold a NUL of its own: see len) */
    size_t len;    /* J_STR length; J_STRS count */
    char **strs;   /* J_STRS */
    struct jobject *obj; /* J_OBJ: malloc'd; its strings live in the outer object's arena */
};

struct jobject {
    struct jfield fields[JSON_MAX_FIELDS];
    size_t n;
    char *arena; /* every decoded string lives here: one free (NULL in a nested object) */
};

/* Parses one line into obj. 0 on success; -1 with a static description in *why. */
int json_parse(const char *text, size_t len, struct jobject *obj, const char **why);
void json_free(struct jobject *obj);
/* The field named key, or NULL. */
const struct jfield *json_get(const struct jobject *obj, const char *key);

/* A growable output buffer; every append aborts the driver on out-of-memory. */
struct buf {
    char *data;
    size_t len, cap;
};
void buf_raw(struct buf *b, const char *s, size_t len);
void buf_cstr(struct buf *b, const char *s);
void buf_fmt(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal of the NUL-terminated s (bytes >= 0x80 pass through as UTF-8). */
void buf_jstr(struct buf *b, const char *s);
/* A JSON string literal holding the base64 of len bytes. */
void buf_b64(struct buf *b, const unsigned char *data, size_t len);

/* Decodes standard base64 (padding optional) into a malloc'd buffer; NULL on bad input. */
unsigned char *base64_decode(const char *text, size_t len, size_t *out_len);

#endif
