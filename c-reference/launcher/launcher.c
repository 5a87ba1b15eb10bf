/*
 * uds-launcher (c-reference/launcher/, built to c-reference/bin/uds-launcher): starts subject
 * processes for the harness (suite/harness/launcher.ts), so that the harness's Node process never
 * forks itself. A fork copies the page tables of the process that forks: from the
 * harness (50 to 170 MB resident) that is 2 to 20 ms per spawn on the harness's only thread; this small
 * process spawns with posix_spawn (vfork-like, its cost does not grow with the caller's memory).
 *
 * Channel: `uds-launcher PATH` listens on the Unix socket PATH, writes "R" to stdout once listening,
 * accepts one connection (the harness's) and stops listening; that connection carries frames both
 * ways (without PATH: stdin and stdout do). Each frame is [u32 length][u8 type][u32 id][body],
 * little-endian, length counting type, id and body.
 *   request  'S' spawn   body: cwd \0 stdin-file-or-empty \0 argc \0 argv... \0 env... \0
 *   event    'P' pid     body: i32 pid
 *            'F' failed  body: i32 errno
 *            'O' / 'E'   body: bytes the child wrote to stdout / stderr
 *            'X' exit    body: i32 exit code (-1 if signalled), i32 signal (0 if none)
 * Every child gets its own process group, a socketpair as stdout and stderr (as Node's child_process
 * gives), stdin from the file or /dev/null, default signal dispositions and an empty signal mask. At a
 * child's exit its whole group is killed (as the harness did), and 'X' follows its last output.
 * When the harness goes away (EOF on stdin), every child's group is killed and the launcher exits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 1024
#define READ_CHUNK (256 * 1024)

struct child {
    uint32_t id;
    pid_t pid;
    int fd[2]; /* stdout, stderr read ends; -1 once at EOF */
    int exited, code, sig;
};

static struct child kids[MAX_CHILDREN];
static int nkids;
static unsigned char readbuf[READ_CHUNK];

static void die_all(int status) {
    for (int i = 0; i < nkids; i++) kill(-kids[i].pid, SIGKILL);
    _exit(status);
}

/* Writes a frame's header and body with as few system calls as the socket allows. */
static void event(char type, uint32_t id, const void *body, uint32_t len) {
    unsigned char head[9];
    uint32_t total = len + 5;
    memcpy(head, &total, 4);
    head[4] = (unsigned char)type;
    memcpy(head + 5, &id, 4);
    struct iovec iov[2] = {{head, 9}, {(void *)body, len}};
    int n = len ? 2 : 1;
    struct iovec *v = iov;
    while (n > 0) {
        ssize_t w = writev(1, v, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die_all(0); /* the harness is gone */
        while (n > 0 && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
}

static void event2(char type, uint32_t id, int32_t a, int32_t b) {
    int32_t v[2] = {a, b};
    event(type, id, v, type == 'X' ? 8 : 4);
}

/* execvp's search, but in the child's PATH (as Node's spawn does), not the launcher's. */
static const char *resolve(const char *file, char **env, char *buf, size_t size) {
    if (strchr(file, '/')) return file;
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (char **e = env; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)len, p, file) < size && access(buf, X_OK) == 0) return buf;
        if (!end) break;
        p = end + 1;
    }
    return file; /* posix_spawn reports ENOENT */
}

static void spawn_child(uint32_t id, char *body, uint32_t len) {
    char *fields[4096];
    int n = 0;
    for (char *p = body; p < body + len && n < 4095; p += strlen(p) + 1) fields[n++] = p;
    if (n < 3) { event2('F', id, EINVAL, 0); return; }
    int argc = atoi(fields[2]);
    if (argc < 1 || 3 + argc > n || nkids == MAX_CHILDREN) { event2('F', id, nkids == MAX_CHILDREN ? EAGAIN : EINVAL, 0); return; }
    char *argv[argc + 1];
    memcpy(argv, &fields[3], sizeof(char *) * (size_t)argc);
    argv[argc] = NULL;
    char **env = &fields[3 + argc];
    fields[n] = NULL;
    int out[2], err[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) < 0) { event2('F', id, errno, 0); return; }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, err) < 0) { close(out[0]); close(out[1]); event2('F', id, errno, 0); return; }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    if (fields[0][0]) posix_spawn_file_actions_addchdir_np(&fa, fields[0]);
    posix_spawn_file_actions_addopen(&fa, 0, fields[1][0] ? fields[1] : "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    char path[4096];
    pid_t pid;
    int rc = posix_spawn(&pid, resolve(argv[0], env, path, sizeof path), &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        event2('F', id, rc, 0);
        return;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    kids[nkids++] = (struct child){.id = id, .pid = pid, .fd = {out[0], err[0]}, .exited = 0};
    event2('P', id, pid, 0);
}

/* Sends 'X' and forgets the child once it has exited and both its outputs are at EOF. */
static void maybe_done(int i) {
    struct child *k = &kids[i];
    if (!k->exited || k->fd[0] >= 0 || k->fd[1] >= 0) return;
    event2('X', k->id, k->code, k->sig);
    kids[i] = kids[--nkids];
}

static void reap(void) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < nkids; i++) {
            if (kids[i].pid != pid) continue;
            kids[i].exited = 1;
            kids[i].code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            kids[i].sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
            /* The leader is gone: anything it left in its group goes too (and releases its outputs). */
            kill(-pid, SIGKILL);
        }
    }
}

/* Takes the harness's connection on PATH as stdin and stdout. */
static void accept_harness(const char *path) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) _exit(2);
    strcpy(addr.sun_path, path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 1) < 0) _exit(2);
    if (write(1, "R", 1) != 1) _exit(2);
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) _exit(2);
    close(l);
    unlink(path);
    dup2(c, 0);
    dup2(c, 1);
    close(c);
}

int main(int argc, char **argv) {
    if (argc > 1) accept_harness(argv[1]);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN); /* Ctrl-C is the harness's to handle; it kills the groups it knows */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    int big = 4 << 20;
    setsockopt(1, SOL_SOCKET, SO_SNDBUF, &big, sizeof big); /* fails harmlessly on a pipe */
    size_t cap = 1 << 16, have = 0;
    char *in = malloc(cap);
    struct pollfd pfd[2 + 2 * MAX_CHILDREN];
    for (;;) {
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        for (int i = 0; i < nkids; i++)
            for (int s = 0; s < 2; s++) pfd[n++] = (struct pollfd){.fd = kids[i].fd[s], .events = POLLIN};
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR) continue;
            die_all(1);
        }
        if (pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {}
            reap();
        }
        /* Outputs, walking the children as polled (maybe_done may move the last one into slot i). */
        for (int i = nkids - 1; i >= 0; i--) {
            for (int s = 0; s < 2; s++) {
                struct pollfd *p = &pfd[2 + 2 * i + s];
                if (p->fd < 0 || !p->revents || kids[i].fd[s] != p->fd) continue;
                ssize_t r = read(p->fd, readbuf, sizeof readbuf);
                if (r > 0) event(s == 0 ? 'O' : 'E', kids[i].id, readbuf, (uint32_t)r);
                else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    close(kids[i].fd[s]);
                    kids[i].fd[s] = -1;
                }
            }
            maybe_done(i);
        }
        if (pfd[0].revents) {
            if (have == cap) in = realloc(in, cap *= 2);
            ssize_t r = read(0, in + have, cap - have);
            if (r <= 0 && !(r < 0 && errno == EINTR)) die_all(0);
            if (r > 0) have += (size_t)r;
            size_t off = 0;
            while (have - off >= 4) {
                uint32_t len;
                memcpy(&len, in + off, 4);
                if (len < 5) die_all(2);
                if (have - off - 4 < len) {
                    if (len + 4 > cap) in = realloc(in, cap = len + 4 + off);
                    break;
                }
                uint32_t id;
                memcpy(&id, in + off + 5, 4);
                if (in[off + 4] == 'S') spawn_child(id, in + off + 9, len - 5);
                off += 4 + len;
            }
            memmove(in, in + off, have - off);
            have -= off;
        }
    }
}
