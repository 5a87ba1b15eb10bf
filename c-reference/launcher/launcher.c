/*
 * uds-launcher (c-reference/launcher/, built to c-reference/bin/uds-launcher): starts every subject
 * process for the harness (suite/harness/launcher.ts), so that the harness's Node process never forks
 * itself, and contains what they start (docs/architecture.md, Containment). Over 400 lines because the
 * spawn, the relay and the containment share one poll loop and one table of children.
 *
 * Why a process of its own: a fork copies the page tables of the process that forks: from the harness
 * (50 to 170 MB resident) that is 2 to 20 ms per spawn on the harness's only thread; this small
 * process spawns with vfork (its cost does not grow with the caller's memory).
 *
 * Containment. The launcher is a child subreaper (PR_SET_CHILD_SUBREAPER): a process of a subject
 * whose parent dies is re-parented to the launcher, not to init, so every process of every case stays
 * in the launcher's tree, whatever it does with its process group or session. Each child gets
 * PR_SET_PDEATHSIG(SIGKILL); the launcher gets PR_SET_PDEATHSIG(SIGTERM) and, like EOF on the
 * harness's connection, takes it as "the harness is gone": it kills its whole tree and exits.
 * Where the harness says so (a cgroup dir in the request), the child joins a cgroup v2 of its own
 * before exec, and is ended with cgroup.kill: that catches everything it started, exactly.
 * Without a cgroup, the processes of a child are known by ancestry: its tree (walked in /proc) and, for
 * the orphans re-parented to the launcher, what the launcher recorded of that tree while it ran
 * (pid, start time, session and group), walked every RECORD_MS and at every SIGCHLD.
 *
 * Channel: `uds-launcher PATH PARENT-PID [OWN-CGROUP BASE-CGROUP]` listens on the Unix socket PATH,
 * writes "R" to stdout once listening, accepts one connection (the harness's) and stops listening;
 * that connection carries frames both ways. Each frame is [u32 length][u8 type][u32 id][body],
 * little-endian, length counting type, id and body.
 *   request  'S' spawn   body: cwd \0 stdin \0 cgroup-dir \0 uid \0 gid \0 argc \0 argv... \0 env... \0
 *                        stdin: "n" /dev/null, "p" a pipe fed by 'I' frames, "f" + path a file;
 *                        cgroup-dir, uid and gid: empty for none.
 *            'I' input   body: bytes for the child's stdin (buffered here, never blocking the loop)
 *            'C' close   the child's stdin, once what was sent is written
 *            'K' kill    the child's tree now; its outputs are no longer waited for
 *            'H' ping    answered by an 'H' with the same id (the harness's watchdog)
 *   event    'P' pid     body: i32 pid
 *            'F' failed  body: i32 errno
 *            'O' / 'E'   body: bytes the child wrote to stdout / stderr
 *            'X' exit    body: i32 exit code (-1 if signalled), i32 signal (0 if none)
 *            'H' pong
 * Every child gets its own process group, a socketpair as stdout and stderr (as Node's child_process
 * gives), default signal dispositions, an empty signal mask and no other fd (the launcher closes what
 * it inherited from the harness at start, and makes its own close-on-exec). At a child's exit its tree is killed
 * (its group, its cgroup, what is known of its tree), and 'X' follows its last output. OWN-CGROUP is
 * where the harness moved the launcher; at exit the launcher moves itself to BASE-CGROUP and removes
 * OWN-CGROUP and its parent (the run's cgroup) if empty.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 1024
#define READ_CHUNK (256 * 1024)
#define MAX_MEMBERS 256
#define MAX_PIDS 4096
#define RECORD_MS 20
#define RMDIR_RETRY_MS 20

struct member {
    pid_t pid;
    unsigned long long start;
};

struct child {
    uint32_t id;
    pid_t pid;
    int fd[2]; /* stdout, stderr read ends; -1 once at EOF (or killed) */
    int in;    /* stdin write end for "p"; -1 otherwise or once closed */
    char *inbuf;
    size_t inlen, inoff, incap;
    int inclose; /* close stdin once inbuf is written */
    int exited, code, sig, killed;
    char *cg; /* the child's cgroup dir, or NULL */
    struct member members[MAX_MEMBERS];
    int nmembers;
};

static struct child kids[MAX_CHILDREN];
static int nkids;
static unsigned char readbuf[READ_CHUNK];
static const char *own_cg, *base_cg;
static char *pending_rmdir[MAX_CHILDREN];
static int npending;

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int write_file(const char *dir, const char *name, const char *text) {
    char path[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) return -1;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t w = write(fd, text, strlen(text));
    close(fd);
    return w < 0 ? -1 : 0;
}

/* /proc/<pid>/stat: state, process group, session and start time (0 if the process is gone). */
static int proc_stat(pid_t pid, char *state, pid_t *pgrp, pid_t *sid, unsigned long long *start) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold anything but ends at the last ')' */
    if (!p) return -1;
    int ppid, pg, s;
    unsigned long long st = 0;
    char c;
    if (sscanf(p + 2, "%c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &c, &ppid, &pg, &s, &st) != 5) return -1;
    if (state) *state = c;
    if (pgrp) *pgrp = pg;
    if (sid) *sid = s;
    if (start) *start = st;
    return 0;
}

/* Appends pid's children (from each thread's children list) not already in out[0..n); returns the new n. */
static int add_children(pid_t pid, pid_t *out, int n, int max) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char cpath[320], buf[8192];
        snprintf(cpath, sizeof cpath, "/proc/%d/task/%s/children", (int)pid, e->d_name);
        int fd = open(cpath, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t r = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (r <= 0) continue;
        buf[r] = 0;
        for (char *s = buf; *s;) {
            char *end;
            long c = strtol(s, &end, 10);
            if (end == s) break;
            int seen = 0;
            for (int i = 0; i < n && !seen; i++) seen = out[i] == c;
            if (!seen && n < max) out[n++] = (pid_t)c;
            s = end;
        }
    }
    closedir(d);
    return n;
}

/* pid's tree, pid first (at most max pids); processes that are gone are left out. */
static int tree(pid_t root, pid_t *out, int max) {
    int n = max > 0, next = 0;
    if (n) out[0] = root;
    while (next < n) n = add_children(out[next++], out, n, max);
    return n;
}

static void kill_tree(pid_t root) {
    pid_t pids[MAX_PIDS];
    int n = tree(root, pids, MAX_PIDS);
    for (int i = 0; i < n; i++) kill(pids[i], SIGKILL);
}

/* The launcher's own children that are not live leaders (nor zombies): orphans re-parented to it. */
static int adopted(pid_t *out, int max) {
    pid_t pids[MAX_PIDS];
    int n = add_children(getpid(), pids, 0, MAX_PIDS), m = 0;
    for (int i = 0; i < n && m < max; i++) {
        char state;
        if (proc_stat(pids[i], &state, NULL, NULL, NULL) < 0 || state == 'Z') continue;
        int leader = 0;
        for (int k = 0; k < nkids && !leader; k++) leader = !kids[k].exited && kids[k].pid == pids[i];
        if (!leader) out[m++] = pids[i];
    }
    return m;
}

/* Whether an orphan belongs to child k by what was recorded of k's tree. */
static int belongs(const struct child *k, pid_t pid) {
    pid_t pg, sid;
    unsigned long long start;
    if (proc_stat(pid, NULL, &pg, &sid, &start) < 0) return 0;
    if (pg == k->pid || sid == k->pid) return 1;
    for (int i = 0; i < k->nmembers; i++) {
        const struct member *m = &k->members[i];
        if ((m->pid == pid && m->start == start) || m->pid == pg || m->pid == sid) return 1;
    }
    return 0;
}

/* Records the trees of the live children that have no cgroup (see the header). */
static void record(void) {
    for (int k = 0; k < nkids; k++) {
        struct child *c = &kids[k];
        if (c->exited || c->cg) continue;
        pid_t pids[MAX_PIDS];
        int n = tree(c->pid, pids, MAX_PIDS);
        for (int i = 1; i < n; i++) {
            unsigned long long start;
            if (proc_stat(pids[i], NULL, NULL, NULL, &start) < 0) continue;
            int known = 0;
            for (int j = 0; j < c->nmembers && !known; j++) known = c->members[j].pid == pids[i] && c->members[j].start == start;
            if (known) continue;
            if (c->nmembers == MAX_MEMBERS) memmove(c->members, c->members + 1, sizeof c->members[0] * (MAX_MEMBERS - 1)), c->nmembers--;
            c->members[c->nmembers++] = (struct member){pids[i], start};
        }
    }
}

/* Ends child k's processes: its group, its cgroup, its tree, and the orphans that are known to be its. */
static void end_tree(struct child *k) {
    if (k->cg) write_file(k->cg, "cgroup.kill", "1");
    kill(-k->pid, SIGKILL);
    if (!k->exited) kill_tree(k->pid);
    if (k->cg) return;
    pid_t orphans[MAX_PIDS];
    int n = adopted(orphans, MAX_PIDS);
    int others = 0; /* other live leaders without a cgroup: their orphans must not be taken for k's */
    for (int i = 0; i < nkids; i++) others += &kids[i] != k && !kids[i].exited && !kids[i].cg;
    for (int i = 0; i < n; i++)
        if (!others || belongs(k, orphans[i])) kill_tree(orphans[i]);
}

static void rmdir_later(char *cg) {
    if (rmdir(cg) == 0 || errno == ENOENT || npending == MAX_CHILDREN) {
        free(cg);
        return;
    }
    pending_rmdir[npending++] = cg;
}

static void retry_rmdirs(void) {
    for (int i = npending - 1; i >= 0; i--) {
        if (rmdir(pending_rmdir[i]) == 0 || errno == ENOENT) {
            free(pending_rmdir[i]);
            pending_rmdir[i] = pending_rmdir[--npending];
        }
    }
}

/* The harness is gone: kill every process of the tree (re-parented ones come back to us), then exit. */
static void die_all(int status) {
    int sfd_wait = -1;
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sfd_wait = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    long long until = now_ms() + 2000;
    for (;;) {
        for (int i = 0; i < nkids; i++) {
            if (kids[i].cg) write_file(kids[i].cg, "cgroup.kill", "1");
            kill(-kids[i].pid, SIGKILL);
        }
        pid_t pids[MAX_PIDS];
        int n = tree(getpid(), pids, MAX_PIDS);
        for (int i = 1; i < n; i++) kill(pids[i], SIGKILL);
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        if (n <= 1 && waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD) break;
        if (now_ms() > until) break;
        struct pollfd p = {.fd = sfd_wait, .events = POLLIN};
        poll(&p, 1, 10); /* the next SIGCHLD, or a look again soon: a dying tree sends no other event */
        struct signalfd_siginfo si;
        while (sfd_wait >= 0 && read(sfd_wait, &si, sizeof si) > 0) {}
    }
    for (int i = 0; i < nkids; i++)
        if (kids[i].cg) rmdir(kids[i].cg);
    retry_rmdirs();
    if (own_cg && base_cg) {
        char pid[32];
        snprintf(pid, sizeof pid, "%d", (int)getpid());
        if (write_file(base_cg, "cgroup.procs", pid) == 0) {
            rmdir(own_cg);
            char run[4096];
            snprintf(run, sizeof run, "%s", own_cg);
            char *slash = strrchr(run, '/');
            if (slash) *slash = 0, rmdir(run);
        }
    }
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
    return file; /* execve reports ENOENT */
}

/* What the vfork child needs, prepared by the parent: the child only makes system calls. */
struct exec_spec {
    const char *cwd, *stdin_file, *cgprocs, *file;
    char **argv, **env;
    int in, out, err;
    int uid, gid; /* -1: unchanged */
    pid_t parent;
};

static volatile int child_errno;

static void __attribute__((noreturn)) exec_child(const struct exec_spec *s) {
    sigset_t none;
    sigemptyset(&none);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, NULL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (s->cgprocs) {
        /* Best effort: a child that cannot join still runs, contained by ancestry. */
        int fd = open(s->cgprocs, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (write(fd, "0", 1) < 0) {}
            close(fd);
        }
    }
    setpgid(0, 0);
    int in = s->in;
    if (in < 0) in = open(s->stdin_file, O_RDONLY | O_CLOEXEC);
    if (in < 0 || dup2(in, 0) < 0 || dup2(s->out, 1) < 0 || dup2(s->err, 2) < 0) goto fail;
    if (s->cwd[0] && chdir(s->cwd) < 0) goto fail;
    /* As libuv does for child_process's uid/gid: no supplementary groups either way. */
    if ((s->gid >= 0 || s->uid >= 0) && setgroups(0, NULL) < 0 && errno != EPERM) goto fail;
    if (s->gid >= 0 && setgid((gid_t)s->gid) < 0) goto fail;
    if (s->uid >= 0 && setuid((uid_t)s->uid) < 0) goto fail;
    /* After the uid change, which clears it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != s->parent) _exit(127);
    execve(s->file, s->argv, s->env);
fail:
    child_errno = errno ? errno : EINVAL;
    _exit(127);
}

static pid_t start_child(const struct exec_spec *s) {
    child_errno = 0;
    pid_t pid = vfork();
    if (pid == 0) exec_child(s);
    return pid;
}

static void spawn_child(uint32_t id, char *body, uint32_t len) {
    char *fields[4096];
    int n = 0;
    for (char *p = body; p < body + len && n < 4095; p += strlen(p) + 1) fields[n++] = p;
    if (n < 6) { event2('F', id, EINVAL, 0); return; }
    int argc = atoi(fields[5]);
    if (argc < 1 || 6 + argc > n || nkids == MAX_CHILDREN) { event2('F', id, nkids == MAX_CHILDREN ? EAGAIN : EINVAL, 0); return; }
    char *argv[argc + 1];
    memcpy(argv, &fields[6], sizeof(char *) * (size_t)argc);
    argv[argc] = NULL;
    char **env = &fields[6 + argc];
    fields[n] = NULL;
    const char *stdin_spec = fields[1];
    int pipe_in = stdin_spec[0] == 'p';
    int out[2], err[2], in[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) < 0) { event2('F', id, errno, 0); return; }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, err) < 0) { close(out[0]); close(out[1]); event2('F', id, errno, 0); return; }
    if (pipe_in && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0) {
        int e = errno;
        close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        event2('F', id, e, 0);
        return;
    }
    char *cg = NULL, cgprocs[4200];
    if (fields[2][0] && (mkdir(fields[2], 0755) == 0 || errno == EEXIST) &&
        (size_t)snprintf(cgprocs, sizeof cgprocs, "%s/cgroup.procs", fields[2]) < sizeof cgprocs)
        cg = strdup(fields[2]);
    char path[4096];
    struct exec_spec s = {
        .cwd = fields[0],
        .stdin_file = stdin_spec[0] == 'f' ? stdin_spec + 1 : "/dev/null",
        .cgprocs = cg ? cgprocs : NULL,
        .file = resolve(argv[0], env, path, sizeof path),
        .argv = argv,
        .env = env,
        .in = pipe_in ? in[1] : -1,
        .out = out[1],
        .err = err[1],
        .uid = fields[3][0] ? atoi(fields[3]) : -1,
        .gid = fields[4][0] ? atoi(fields[4]) : -1,
        .parent = getpid(),
    };
    pid_t pid = start_child(&s);
    int failed = pid < 0 ? errno : child_errno;
    close(out[1]);
    close(err[1]);
    if (pipe_in) close(in[1]);
    if (pid > 0 && failed) waitpid(pid, NULL, 0); /* it has exited: vfork returned */
    if (failed) {
        close(out[0]), close(err[0]);
        if (pipe_in) close(in[0]);
        if (cg) rmdir(cg), free(cg);
        event2('F', id, failed, 0);
        return;
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    if (pipe_in) fcntl(in[0], F_SETFL, O_NONBLOCK);
    struct child *k = &kids[nkids++];
    memset(k, 0, sizeof *k);
    *k = (struct child){.id = id, .pid = pid, .fd = {out[0], err[0]}, .in = pipe_in ? in[0] : -1, .cg = cg};
    event2('P', id, pid, 0);
}

static struct child *find(uint32_t id) {
    for (int i = 0; i < nkids; i++)
        if (kids[i].id == id) return &kids[i];
    return NULL;
}

static void close_input(struct child *k) {
    if (k->in >= 0) close(k->in);
    k->in = -1;
    free(k->inbuf);
    k->inbuf = NULL;
    k->inlen = k->inoff = k->incap = 0;
}

static void flush_input(struct child *k) {
    while (k->in >= 0 && k->inoff < k->inlen) {
        ssize_t w = write(k->in, k->inbuf + k->inoff, k->inlen - k->inoff);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) return;
        if (w <= 0) { close_input(k); return; } /* the child stopped reading for good (EPIPE) */
        k->inoff += (size_t)w;
    }
    if (k->in >= 0) k->inlen = k->inoff = 0;
    if (k->in >= 0 && k->inclose) close_input(k);
}

static void add_input(struct child *k, const char *data, size_t len) {
    if (k->in < 0) return;
    if (k->inlen + len > k->incap) {
        size_t cap = k->incap ? k->incap : 65536;
        while (cap < k->inlen + len) cap *= 2;
        k->inbuf = realloc(k->inbuf, cap);
        k->incap = cap;
    }
    memcpy(k->inbuf + k->inlen, data, len);
    k->inlen += len;
    flush_input(k);
}

/* Sends 'X' and forgets the child once it has exited and both its outputs are at EOF (or it was killed). */
static void maybe_done(int i) {
    struct child *k = &kids[i];
    if (!k->exited || k->fd[0] >= 0 || k->fd[1] >= 0) return;
    event2('X', k->id, k->code, k->sig);
    close_input(k);
    if (k->cg) rmdir_later(k->cg);
    kids[i] = kids[--nkids];
}

static void stop_reading(struct child *k) {
    for (int s = 0; s < 2; s++) {
        if (k->fd[s] >= 0) close(k->fd[s]);
        k->fd[s] = -1;
    }
}

static void reap(void) {
    int status;
    pid_t pid;
    record();
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < nkids; i++) {
            if (kids[i].pid != pid || kids[i].exited) continue;
            kids[i].exited = 1;
            kids[i].code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            kids[i].sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
            /* The leader is gone: anything it left goes too (and releases its outputs). */
            end_tree(&kids[i]);
        }
    }
    /* Orphans of children that are all gone belong to nobody alive: kill them. */
    int live = 0;
    for (int i = 0; i < nkids; i++) live += !kids[i].exited;
    if (!live) {
        pid_t orphans[MAX_PIDS];
        int n = adopted(orphans, MAX_PIDS);
        for (int i = 0; i < n; i++) kill_tree(orphans[i]);
    }
}

/* Takes the harness's connection on PATH as stdin and stdout. */
static void accept_harness(const char *path, int sfd) {
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof addr.sun_path) _exit(2);
    strcpy(addr.sun_path, path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 1) < 0) _exit(2);
    if (write(1, "R", 1) != 1) _exit(2);
    /* The harness's connection, or its death: PR_SET_PDEATHSIG's SIGTERM (blocked, so it waits on the
       signalfd) or its end of stdout closed. A blocking accept(2) here outlived a harness that died
       before it connected, for good. */
    for (;;) {
        struct pollfd p[3] = {{.fd = l, .events = POLLIN}, {.fd = sfd, .events = POLLIN}, {.fd = 1, .events = 0}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR) continue;
            _exit(2);
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                if (si.ssi_signo == SIGTERM) {
                    unlink(path);
                    _exit(0);
                }
        }
        if (p[2].revents & (POLLERR | POLLHUP)) {
            unlink(path);
            _exit(0);
        }
        if (p[0].revents) break;
    }
    int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) _exit(2);
    close(l);
    unlink(path);
    dup2(c, 0);
    dup2(c, 1);
    close(c);
}

static void request(char type, uint32_t id, char *body, uint32_t len) {
    struct child *k = type == 'S' || type == 'H' ? NULL : find(id);
    if (type == 'S') spawn_child(id, body, len);
    else if (type == 'H') event('H', id, NULL, 0);
    else if (!k) return;
    else if (type == 'I') add_input(k, body, len);
    else if (type == 'C') {
        k->inclose = 1;
        flush_input(k);
    } else if (type == 'K') {
        k->killed = 1;
        end_tree(k);
        stop_reading(k);
    }
}

int main(int argc, char **argv) {
    /* Whatever the harness had open without close-on-exec stays with the harness: no subject inherits it. */
    close_range(3, ~0U, 0);
    /* Before anything else, so that no orphan can slip past (see the header). */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (argc > 2 && getppid() != (pid_t)atoi(argv[2])) _exit(0); /* the harness died before the prctl */
    if (argc > 4) own_cg = argv[3], base_cg = argv[4];
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN); /* Ctrl-C is the harness's to handle; it ends the launcher by EOF */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (argc > 1) accept_harness(argv[1], sfd);
    int big = 4 << 20;
    setsockopt(1, SOL_SOCKET, SO_SNDBUF, &big, sizeof big); /* fails harmlessly on a pipe */
    size_t cap = 1 << 16, have = 0;
    char *in = malloc(cap);
    static struct pollfd pfd[2 + 3 * MAX_CHILDREN];
    long long last_record = 0;
    for (;;) {
        int n = 0, uncontained = 0;
        pfd[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        for (int i = 0; i < nkids; i++) {
            for (int s = 0; s < 2; s++) pfd[n++] = (struct pollfd){.fd = kids[i].fd[s], .events = POLLIN};
            pfd[n++] = (struct pollfd){.fd = kids[i].inlen > kids[i].inoff ? kids[i].in : -1, .events = POLLOUT};
            uncontained += !kids[i].exited && !kids[i].cg;
        }
        /* Not a delay: how often a tree without a cgroup is recorded, and a busy cgroup is removed. */
        int timeout = npending ? RMDIR_RETRY_MS : -1;
        if (uncontained) {
            long long left = last_record + RECORD_MS - now_ms();
            if (left <= 0) {
                record();
                last_record = now_ms();
                left = RECORD_MS;
            }
            if (timeout < 0 || left < timeout) timeout = (int)left;
        }
        int ready = poll(pfd, (nfds_t)n, timeout);
        if (ready < 0) {
            if (errno == EINTR) continue;
            die_all(1);
        }
        if (npending) retry_rmdirs();
        if (pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                if (si.ssi_signo == SIGTERM) die_all(0); /* PR_SET_PDEATHSIG: the harness is gone */
            reap();
        }
        /* Outputs, walking the children as polled (maybe_done may move the last one into slot i). */
        for (int i = nkids - 1; i >= 0; i--) {
            for (int s = 0; s < 2; s++) {
                struct pollfd *p = &pfd[2 + 3 * i + s];
                if (p->fd < 0 || !p->revents || kids[i].fd[s] != p->fd) continue;
                ssize_t r = read(p->fd, readbuf, sizeof readbuf);
                if (r > 0) event(s == 0 ? 'O' : 'E', kids[i].id, readbuf, (uint32_t)r);
                else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    close(kids[i].fd[s]);
                    kids[i].fd[s] = -1;
                }
            }
            struct pollfd *w = &pfd[2 + 3 * i + 2];
            if (w->fd >= 0 && w->revents && kids[i].in == w->fd) flush_input(&kids[i]);
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
                request(in[off + 4], id, in + off + 9, len - 5);
                off += 4 + len;
            }
            memmove(in, in + off, have - off);
            have -= off;
            /* A killed child's 'X' may be due now. */
            for (int i = nkids - 1; i >= 0; i--) maybe_done(i);
        }
    }
}
