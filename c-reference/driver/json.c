/* A parser for the driver protocol's flat command objects, and the answer buffer (json.h). */
#include "json.h"
#include "../reference/shared.h" /* json_quote, base64 (with the reference) */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *p, *end;
    char *arena; /* next free byte; decoded text is never longer than its source */
    const char *why;
};

static void skip_ws(struct parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n'))
        ps->p++;
}

static int fail(struct parser *ps, const char *why) {
    ps->why = why;
    return -1;
}

static int hex4(struct parser *ps, unsigned *out) {
    if (ps->end - ps->p < 4)
        return fail(ps, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return fail(ps, "bad \\u escape");
    }
    *out = v;
    return 0;
}

static void put_utf8(char **o, unsigned cp) {
    char *w = *o;
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xc0 | cp >> 6);
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xe0 | cp >> 12);
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *w++ = (char)(0xf0 | cp >> 18);
        *w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    }
    *o = w;
}

/* A string literal at ps->p, decoded into the arena. */
static int parse_string(struct parser *ps, char **out, size_t *out_len) {
    if (ps->p >= ps->end || *ps->p != '"')
        return fail(ps, "expected a string");
    ps->p++;
    char *start = ps->arena, *o = ps->arena;
    for (;;) {
        if (ps->p >= ps->end)
            return fail(ps, "unterminated string");
        unsigned char c = (unsigned char)*ps->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(ps, "control character in a string");
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        if (ps->p >= ps->end)
            return fail(ps, "unterminated escape");
        char e = *ps->p++;
        unsigned cp;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u':
            if (hex4(ps, &cp) < 0)
                return -1;
            if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair */
                unsigned lo;
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u')
                    return fail(ps, "lone surrogate in a string");
                ps->p += 2;
                if (hex4(ps, &lo) < 0)
                    return -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(ps, "lone surrogate in a string");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return fail(ps, "lone surrogate in a string");
            }
            put_utf8(&o, cp); /* a NUL is kept: field_str refuses it, with the field's name */
            break;
        default:
            return fail(ps, "bad escape in a string");
        }
    }
    *o++ = '\0';
    ps->arena = o;
    *out = start;
    if (out_len)
        *out_len = (size_t)(o - start - 1);
    return 0;
}

static int parse_members(struct parser *ps, struct jobject *obj, int depth);

static int parse_value(struct parser *ps, struct jfield *f, int depth) {
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "expected a value");
    char c = *ps->p;
    if (c == '"') {
        f->type = J_STR;
        return parse_string(ps, &f->str, &f->len);
    }
    if (c == '[') {
        f->type = J_STRS;
        size_t cap = 0;
        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return 0;
        }
        for (;;) {
            skip_ws(ps);
            if (f->len == cap) {
                cap = cap ? cap * 2 : 16;
                char **grown = realloc(f->strs, cap * sizeof *grown);
                if (grown == NULL)
                    return fail(ps, "out of memory");
                f->strs = grown;
            }
            if (parse_string(ps, &f->strs[f->len], NULL) < 0)
                return fail(ps, "an array may hold only strings");
            f->len++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ',') {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
                return 0;
            }
            return fail(ps, "expected , or ] in an array");
        }
    }
    static const struct {
        const char *word;
        enum jtype type;
        long long v;
    } words[] = {{"true", J_BOOL, 1}, {"false", J_BOOL, 0}, {"null", J_NULL, 0}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t n = strlen(words[i].word);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i].word, n) == 0) {
            ps->p += n;
            f->type = words[i].type;
            f->num = words[i].v;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char tmp[32];
        size_t n = 0;
        while (ps->p < ps->end && n < sizeof tmp - 1 &&
               (*ps->p == '-' || *ps->p == '+' || *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' ||
                (*ps->p >= '0' && *ps->p <= '9')))
            tmp[n++] = *ps->p++;
        tmp[n] = '\0';
        char *endp;
        long long v = strtoll(tmp, &endp, 10);
        if (*endp != '\0')
            return fail(ps, "only integers are understood");
        f->type = J_NUM;
        f->num = v;
        return 0;
    }
    if (c == '{') {
        /* One level only: send's `credentials` {pid, uid, gid}. */
        if (depth > 0)
            return fail(ps, "objects inside an object's object are not understood");
        if ((f->obj = calloc(1, sizeof *f->obj)) == NULL)
            return fail(ps, "out of memory");
        f->type = J_OBJ;
        return parse_members(ps, f->obj, depth + 1);
    }
    return fail(ps, "not a JSON value");
}

/* The members of the object whose '{' is at ps->p, up to and including its '}'. */
static int parse_members(struct parser *ps, struct jobject *obj, int depth) {
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    for (;;) {
        skip_ws(ps);
        if (obj->n == JSON_MAX_FIELDS)
            return fail(ps, "too many fields");
        struct jfield *f = &obj->fields[obj->n++];
        if (parse_string(ps, &f->key, NULL) < 0)
            return -1;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            return fail(ps, "expected :");
        ps->p++;
        if (parse_value(ps, f, depth) < 0)
            return -1;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return 0;
        }
        return fail(ps, "expected , or } in the object");
    }
}

int json_parse(const char *text, size_t len, struct jobject *obj, const char **why) {
    memset(obj, 0, sizeof *obj);
    obj->arena = malloc(len + 1);
    if (obj->arena == NULL) {
        *why = "out of memory";
        return -1;
    }
    struct parser ps = {.p = text, .end = text + len, .arena = obj->arena};
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p != '{')
        return *why = "a command is a JSON object", -1;
    if (parse_members(&ps, obj, 0) < 0)
        return *why = ps.why, -1;
    skip_ws(&ps);
    if (ps.p != ps.end)
        return *why = "text after the object", -1;
    return 0;
}

void json_free(struct jobject *obj) {
    for (size_t i = 0; i < obj->n; i++) {
        free(obj->fields[i].strs);
        if (obj->fields[i].obj) {
            json_free(obj->fields[i].obj);
            free(obj->fields[i].obj);
        }
    }
    free(obj->arena);
    memset(obj, 0, sizeof *obj);
}

const struct jfield *json_get(const struct jobject *obj, const char *key) {
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->fields[i].key, key) == 0)
            return &obj->fields[i];
    return NULL;
}

static void reserve(struct buf *b, size_t more) {
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        fputs("reference-driver: out of memory\n", stderr);
        exit(1);
    }
    b->data = p;
    b->cap = cap;
}

void buf_raw(struct buf *b, const char *s, size_t len) {
    reserve(b, len);
    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void buf_cstr(struct buf *b, const char *s) {
    buf_raw(b, s, strlen(s));
}

void buf_fmt(struct buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void put_buf(void *b, const char *s, size_t len) {
    buf_raw(b, s, len);
}

void buf_jstr(struct buf *b, const char *s) {
    json_quote(s, put_buf, b);
}

void buf_b64(struct buf *b, const unsigned char *data, size_t len) {
    reserve(b, BASE64_ENCODED_LEN(len) + 2);
    b->data[b->len++] = '"';
    b->len += base64_encode(b->data + b->len, data, len);
    b->data[b->len++] = '"';
    b->data[b->len] = '\0';
}

unsigned char *base64_decode(const char *text, size_t len, size_t *out_len) {
    while (len > 0 && text[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    static signed char value[256];
    if (value['B'] == 0) { /* first call: build the reverse table */
        memset(value, -1, sizeof value);
        for (int i = 0; i < 64; i++)
            value[(unsigned char)base64_alphabet[i]] = (signed char)i;
    }
    unsigned char *out = malloc(len / 4 * 3 + 3);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = value[(unsigned char)text[i]];
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *out_len = o;
    return out;
}
