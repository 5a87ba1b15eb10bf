/*
 * The floor of the sequence properties: the calls of generated sequences (suite/sequence/), made
 * directly on AF_UNIX stream sockets in this one process, with no driver, no protocol and no second
 * world. bench/sequences.ts draws the sequences from sequence.equivalent's arbitrary with the unit's
 * seed, runs them through the kernel model (suite/sequence/model.ts) to settle every step and its
 * expected answer, and writes them here, one step a line:
 *
 *   S BACKLOG FDROOM           a sequence: socket, bind at DIR/wJ, listen(BACKLOG); recvs take up to FDROOM fds
 *   C CONN NONBLOCK EXPECT     connect, the new connection CONN (0-based); NONBLOCK 1: SOCK_NONBLOCK
 *   A CONN EXPECT              accept, which gives CONN (the oldest queued connection)
 *   W CONN SIDE FDS DATA EXPECT   sendmsg(MSG_NOSIGNAL) of DATA with FDS pipe read ends (SCM_RIGHTS)
 *   R CONN SIDE SIZE FLAGS EXPECT recvmsg of SIZE bytes; FLAGS: d MSG_DONTWAIT, p MSG_PEEK, w MSG_WAITALL, or -
 *   H CONN SIDE r|w|b EXPECT   shutdown
 *   X CONN SIDE EXPECT         close
 *   K SIDE EXPECT              every fd of that side closed (the kernel's part of a SIGKILL of its driver)
 *   E                          the end: every fd left closed, the path unlinked
 *
 * SIDE is c (client) or s (server). EXPECT is ok, sent N, err NAME (errno), eof, or
 * data FDS TRUNC BYTES (TRUNC: - or t for MSG_TRUNC, c for MSG_CTRUNC). Every answer is checked
 * against EXPECT (the bytes exactly, the fds counted, the errno by name): the first difference
 * stops the floor with exit 1, so its time is the time of sequences that really ran.
 *
 *   seqfloor DIR COUNT JOBS < SEQUENCES
 *
 * Runs COUNT sequences (the input's in turn, again from the first after the last) on JOBS worker
 * processes (1: this process itself) and prints one JSON line:
 * {"sequences":N,"unique":U,"jobs":J,"steps":S,"wallMs":W,"failures":F}. Input is parsed before the
 * clock starts; the clock stops when the last worker is reaped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 4
#define MAX_FDS 3
#define RECV_MAX 65536

enum op { OP_SEQ, OP_CONNECT, OP_ACCEPT, OP_SEND, OP_RECV, OP_SHUTDOWN, OP_CLOSE, OP_KILL, OP_END };
enum expect { WANT_OK, WANT_SENT, WANT_ERR, WANT_EOF, WANT_DATA };

struct step {
    enum op op;
    int line, conn, side; /* side: 0 client, 1 server */
    int a, b;             /* S: backlog, fdroom; C: nonblock; W: fds; R: size, flags; H: how */
    const char *data;     /* W: the bytes sent */
    int len;
    enum expect expect;
    int value;            /* sent: n; err: errno; data: fds */
    int trunc;            /* data: MSG_TRUNC | MSG_CTRUNC expected */
    const char *edata;    /* data: the bytes expected */
    int elen;
};

static struct step *steps;
static int nsteps, nseq, *seqstart;
static const char *dir;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const struct { const char *name; int code; } ERRNOS[] = {
    {"EAGAIN", EAGAIN}, {"EPIPE", EPIPE}, {"ECONNRESET", ECONNRESET}, {"ECONNREFUSED", ECONNREFUSED},
    {"EMFILE", EMFILE}, {"ENOTCONN", ENOTCONN}, {"EINVAL", EINVAL}, {"ENOENT", ENOENT}, {"EBADF", EBADF},
};

static int errno_of(const char *name) {
    for (size_t i = 0; i < sizeof ERRNOS / sizeof ERRNOS[0]; i++) if (strcmp(ERRNOS[i].name, name) == 0) return ERRNOS[i].code;
    return -1;
}

static const char *errno_name(int code) {
    for (size_t i = 0; i < sizeof ERRNOS / sizeof ERRNOS[0]; i++) if (ERRNOS[i].code == code) return ERRNOS[i].name;
    return strerror(code);
}

static void bad_input(int line, const char *why) {
    fprintf(stderr, "seqfloor: input line %d: %s\n", line, why);
    exit(2);
}

static int side_of(const char *tok, int line) {
    if (tok && strcmp(tok, "c") == 0) return 0;
    if (tok && strcmp(tok, "s") == 0) return 1;
    bad_input(line, "a side is c or s");
    return -1;
}

static int int_of(const char *tok, int line) {
    char *end;
    if (!tok) bad_input(line, "a number is missing");
    long v = strtol(tok, &end, 10);
    if (*end || v < 0 || v > RECV_MAX) bad_input(line, "not a number in range");
    return (int)v;
}

/* The EXPECT tokens that end a line. */
static void parse_expect(struct step *s, char **save) {
    char *kind = strtok_r(NULL, " ", save);
    if (!kind) bad_input(s->line, "EXPECT is missing");
    if (strcmp(kind, "ok") == 0) s->expect = WANT_OK;
    else if (strcmp(kind, "eof") == 0) s->expect = WANT_EOF;
    else if (strcmp(kind, "sent") == 0) s->expect = WANT_SENT, s->value = int_of(strtok_r(NULL, " ", save), s->line);
    else if (strcmp(kind, "err") == 0) {
        char *name = strtok_r(NULL, " ", save);
        s->expect = WANT_ERR;
        if (!name || (s->value = errno_of(name)) < 0) bad_input(s->line, "an unknown errno name");
    } else if (strcmp(kind, "data") == 0) {
        s->expect = WANT_DATA;
        s->value = int_of(strtok_r(NULL, " ", save), s->line);
        char *trunc = strtok_r(NULL, " ", save), *bytes = strtok_r(NULL, " ", save);
        if (!trunc || !bytes) bad_input(s->line, "data needs FDS TRUNC BYTES");
        s->trunc = (strchr(trunc, 't') ? MSG_TRUNC : 0) | (strchr(trunc, 'c') ? MSG_CTRUNC : 0);
        s->edata = bytes;
        s->elen = (int)strlen(bytes);
    } else bad_input(s->line, "an unknown EXPECT");
}

static void parse(char *text) {
    int cap = 1024, seqcap = 64, line = 0;
    steps = malloc(sizeof *steps * cap);
    seqstart = malloc(sizeof *seqstart * seqcap);
    char *save_line;
    for (char *l = strtok_r(text, "\n", &save_line); l; l = strtok_r(NULL, "\n", &save_line)) {
        line++;
        if (nsteps == cap) steps = realloc(steps, sizeof *steps * (cap *= 2));
        struct step *s = &steps[nsteps];
        memset(s, 0, sizeof *s);
        s->line = line;
        char *save, *op = strtok_r(l, " ", &save);
        if (!op || op[1]) bad_input(line, "a step is one letter");
        switch (op[0]) {
        case 'S':
            s->op = OP_SEQ, s->a = int_of(strtok_r(NULL, " ", &save), line), s->b = int_of(strtok_r(NULL, " ", &save), line);
            if (s->b > MAX_FDS) bad_input(line, "FDROOM above 3");
            if (nseq == seqcap) seqstart = realloc(seqstart, sizeof *seqstart * (seqcap *= 2));
            seqstart[nseq++] = nsteps;
            break;
        case 'E': s->op = OP_END; break;
        case 'K': s->op = OP_KILL, s->side = side_of(strtok_r(NULL, " ", &save), line), parse_expect(s, &save); break;
        default: {
            s->conn = int_of(strtok_r(NULL, " ", &save), line);
            if (s->conn >= MAX_CONNECTIONS) bad_input(line, "CONN above 3");
            if (op[0] == 'C') s->op = OP_CONNECT, s->a = int_of(strtok_r(NULL, " ", &save), line);
            else if (op[0] == 'A') s->op = OP_ACCEPT;
            else {
                s->side = side_of(strtok_r(NULL, " ", &save), line);
                if (op[0] == 'W') {
                    s->op = OP_SEND, s->a = int_of(strtok_r(NULL, " ", &save), line);
                    if (s->a > MAX_FDS) bad_input(line, "more than 3 fds");
                    s->data = strtok_r(NULL, " ", &save);
                    if (!s->data) bad_input(line, "a send without its bytes");
                    s->len = (int)strlen(s->data);
                } else if (op[0] == 'R') {
                    s->op = OP_RECV, s->a = int_of(strtok_r(NULL, " ", &save), line);
                    const char *f = strtok_r(NULL, " ", &save);
                    if (!f) bad_input(line, "recv flags are missing");
                    s->b = (strchr(f, 'd') ? MSG_DONTWAIT : 0) | (strchr(f, 'p') ? MSG_PEEK : 0) | (strchr(f, 'w') ? MSG_WAITALL : 0);
                } else if (op[0] == 'H') {
                    const char *how = strtok_r(NULL, " ", &save);
                    s->op = OP_SHUTDOWN;
                    s->a = how && how[0] == 'r' ? SHUT_RD : how && how[0] == 'w' ? SHUT_WR : SHUT_RDWR;
                } else if (op[0] == 'X') s->op = OP_CLOSE;
                else bad_input(line, "an unknown step");
            }
            parse_expect(s, &save);
        }
        }
        nsteps++;
    }
    if (nseq == 0) bad_input(line, "no sequence");
}

/* The state of one sequence: the listener and each connection's two ends (-1: none). */
struct world {
    int listener;
    int ends[MAX_CONNECTIONS][2];
    struct sockaddr_un addr;
};

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* The socket path of the sequence running in this process: removed when a difference stops it. */
static char current_path[sizeof ((struct sockaddr_un *)0)->sun_path];

static void differs(int seq, const struct step *s, const char *what) {
    fprintf(stderr, "seqfloor: sequence %d, input line %d: %s\n", seq, s->line, what);
    if (current_path[0]) unlink(current_path);
    exit(1);
}

/* The answer of a call that returns 0 (or a count) or -1 with errno, against EXPECT ok / sent / err. */
static void check_plain(int seq, const struct step *s, long r) {
    char why[128];
    if (r >= 0 && s->expect == WANT_OK) return;
    if (r >= 0 && s->expect == WANT_SENT && r == s->value) return;
    if (r < 0 && s->expect == WANT_ERR && errno == s->value) return;
    if (r < 0) snprintf(why, sizeof why, "got %s, not the expected answer", errno_name(errno));
    else snprintf(why, sizeof why, "got %ld, not the expected answer", r);
    differs(seq, s, why);
}

static int end_fd(int seq, struct world *w, const struct step *s) {
    int fd = w->ends[s->conn][s->side];
    if (fd < 0) differs(seq, s, "a step on an end that is not open");
    return fd;
}

static void do_send(int seq, struct world *w, const struct step *s) {
    int fd = end_fd(seq, w, s), pipes[MAX_FDS];
    for (int i = 0; i < s->a; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0) differs(seq, s, "pipe2 failed");
        close(p[1]);
        pipes[i] = p[0];
    }
    struct iovec iov = {.iov_base = (void *)s->data, .iov_len = (size_t)s->len};
    union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (s->a > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)s->a);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)s->a);
        memcpy(CMSG_DATA(c), pipes, sizeof(int) * (size_t)s->a);
    }
    ssize_t r = sendmsg(fd, &msg, MSG_NOSIGNAL);
    int saved = errno;
    for (int i = 0; i < s->a; i++) close(pipes[i]);
    errno = saved;
    check_plain(seq, s, r);
}

static void do_recv(int seq, struct world *w, const struct step *s, int fdroom) {
    static char buf[RECV_MAX];
    int fd = end_fd(seq, w, s);
    struct iovec iov = {.iov_base = buf, .iov_len = (size_t)s->a};
    union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } control;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fdroom > 0) msg.msg_control = control.buf, msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)fdroom);
    ssize_t n = recvmsg(fd, &msg, s->b | MSG_CMSG_CLOEXEC);
    if (n < 0) {
        if (s->expect == WANT_ERR && errno == s->value) return;
        char why[96];
        snprintf(why, sizeof why, "recv got %s, not the expected answer", errno_name(errno));
        differs(seq, s, why);
    }
    int fds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof got);
            close(got);
        }
        fds += count;
    }
    if (n == 0 && fds == 0) {
        if (s->expect != WANT_EOF) differs(seq, s, "recv got EOF, not the expected answer");
        return;
    }
    char why[128];
    if (s->expect != WANT_DATA) snprintf(why, sizeof why, "recv got %zd bytes, not the expected answer", n);
    else if (n != s->elen) snprintf(why, sizeof why, "recv got %zd bytes, not %d", n, s->elen);
    else if (memcmp(buf, s->edata, (size_t)n) != 0) snprintf(why, sizeof why, "recv got %zd bytes that differ from the expected ones", n);
    else if (fds != s->value) snprintf(why, sizeof why, "recv got %d fds, not %d", fds, s->value);
    else if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != s->trunc) snprintf(why, sizeof why, "recv got msg_flags %#x", (unsigned)msg.msg_flags);
    else return;
    differs(seq, s, why);
}

/* Runs the sequence that starts at steps[first], as worker `job`; returns its steps. */
static int run_sequence(int seq, int first, int job) {
    struct world w;
    w.listener = -1;
    for (int c = 0; c < MAX_CONNECTIONS; c++) w.ends[c][0] = w.ends[c][1] = -1;
    const struct step *head = &steps[first];
    memset(&w.addr, 0, sizeof w.addr);
    w.addr.sun_family = AF_UNIX;
    if ((size_t)snprintf(w.addr.sun_path, sizeof w.addr.sun_path, "%s/w%d", dir, job) >= sizeof w.addr.sun_path) differs(seq, head, "DIR is too long");
    memcpy(current_path, w.addr.sun_path, sizeof current_path);
    w.listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (w.listener < 0 || bind(w.listener, (struct sockaddr *)&w.addr, sizeof w.addr) < 0 || listen(w.listener, head->a) < 0) differs(seq, head, "socket, bind or listen failed");
    int i = first + 1;
    for (; i < nsteps && steps[i].op != OP_END; i++) {
        const struct step *s = &steps[i];
        switch (s->op) {
        case OP_CONNECT: {
            int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (s->a ? SOCK_NONBLOCK : 0), 0);
            if (fd < 0) differs(seq, s, "socket failed");
            int r = connect(fd, (struct sockaddr *)&w.addr, sizeof w.addr);
            int saved = errno;
            if (r == 0) w.ends[s->conn][0] = fd;
            else close(fd);
            errno = saved;
            check_plain(seq, s, r);
            break;
        }
        case OP_ACCEPT: {
            int fd = accept4(w.listener, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) w.ends[s->conn][1] = fd;
            check_plain(seq, s, fd);
            break;
        }
        case OP_SEND: do_send(seq, &w, s); break;
        case OP_RECV: do_recv(seq, &w, s, head->b); break;
        case OP_SHUTDOWN: check_plain(seq, s, shutdown(end_fd(seq, &w, s), s->a)); break;
        case OP_CLOSE: {
            int r = close(end_fd(seq, &w, s));
            w.ends[s->conn][s->side] = -1;
            check_plain(seq, s, r);
            break;
        }
        case OP_KILL:
            if (s->side == 1) close_fd(&w.listener);
            for (int c = 0; c < MAX_CONNECTIONS; c++) close_fd(&w.ends[c][s->side]);
            break;
        default: differs(seq, s, "a step out of place");
        }
    }
    close_fd(&w.listener);
    for (int c = 0; c < MAX_CONNECTIONS; c++) close_fd(&w.ends[c][0]), close_fd(&w.ends[c][1]);
    if (unlink(w.addr.sun_path) < 0) differs(seq, head, "unlink failed");
    current_path[0] = 0;
    return i - first - 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: seqfloor DIR COUNT JOBS < SEQUENCES\n");
        return 2;
    }
    dir = argv[1];
    int count = atoi(argv[2]), jobs = atoi(argv[3]);
    if (count < 1 || jobs < 1 || jobs > 64) return 2;
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    size_t n;
    while ((n = fread(text + len, 1, cap - len - 1, stdin)) > 0)
        if ((len += n) == cap - 1) text = realloc(text, cap *= 2);
    text[len] = 0;
    parse(text);
    long total = 0; /* the steps COUNT sequences run, known from the input: workers report only failure */
    int *lengths = malloc(sizeof *lengths * (size_t)nseq);
    for (int q = 0; q < nseq; q++) {
        int end = q + 1 < nseq ? seqstart[q + 1] : nsteps;
        lengths[q] = end - seqstart[q] - 2;
    }
    for (int i = 0; i < count; i++) total += lengths[i % nseq];
    double t0 = now_ms();
    int failures = 0;
    if (jobs == 1) {
        alarm(120); /* a blocking call the model got wrong would hang: SIGALRM ends the floor, not 0 */
        for (int i = 0; i < count; i++) run_sequence(i % nseq, seqstart[i % nseq], 0);
    } else {
        pid_t workers[64];
        for (int j = 0; j < jobs; j++) {
            workers[j] = fork();
            if (workers[j] == 0) {
                alarm(120);
                for (int i = j; i < count; i += jobs) run_sequence(i % nseq, seqstart[i % nseq], j);
                _exit(0);
            }
        }
        for (int j = 0; j < jobs; j++) {
            int status;
            if (!(workers[j] > 0 && waitpid(workers[j], &status, 0) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)) failures++;
        }
    }
    double wall = now_ms() - t0;
    printf("{\"sequences\":%d,\"unique\":%d,\"jobs\":%d,\"steps\":%ld,\"wallMs\":%.3f,\"failures\":%d}\n", count, nseq, jobs, total, wall, failures);
    return failures ? 1 : 0;
}
