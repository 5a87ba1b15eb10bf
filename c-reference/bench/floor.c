/*
 * The floors for one case of a pairing: the harness's cycle with nothing else around it.
 *
 *   floor [--bare] SERVER CLIENT CASES JOBS
 *
 * The design floor (default), the cycle as the harness designs it: for each case a private temp dir
 * (mkdtemp, 0700), the server started in it with a short relative socket name (its own process group,
 * cwd in the dir), a wait until /proc/net/unix shows that name listening (flag __SO_ACCEPTCON,
 * 00010000) driven by an inotify watch on the dir (then re-read, yielding the CPU between reads), the
 * client started with its stdout on a pipe read to EOF (and checked: "Server Message\n"), both
 * reaped, the dir removed.
 *
 * The bare floor (--bare), what any harness must do at least: the same spawns, the same output check
 * (it is the case's verdict) and the same /proc/net/unix test for listening, but no temp dir per case
 * (the workers share one dir, made once per invocation, and each case's socket name is unique in it)
 * and no inotify: /proc/net/unix is re-read from the server's spawn on, yielding the CPU between
 * reads. So the two floors differ only in the design's choices, and their gap is what those cost.
 *
 * JOBS worker processes share the CASES, as the harness's runner shares its units.
 *
 * Prints one JSON line: {"mode":"design"|"bare","cases":N,"jobs":J,"wallMs":W,"perCaseMs":W/N,"failures":F}.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Whether /proc/net/unix lists `name` (a relative path, as bound) in the listening state. */
static int listening(const char *name) {
    static char buf[1 << 20];
    int fd = open("/proc/net/unix", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    size_t len = 0;
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
    close(fd);
    buf[len] = 0;
    size_t nlen = strlen(name);
    for (char *line = strchr(buf, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char *end = strchr(line + 1, '\n');
        size_t l = end ? (size_t)(end - line - 1) : strlen(line + 1);
        /* "Num: RefCount Protocol Flags Type St Inode Path": the path is the last field. */
        if (l > nlen + 1 && line[l + 1 - nlen - 1] == ' ' && memcmp(line + 1 + l - nlen, name, nlen) == 0) {
            unsigned long refs, proto, flags;
            if (sscanf(line + 1, "%*x: %lx %lx %lx", &refs, &proto, &flags) == 3 && (flags & 0x10000)) return 1;
        }
    }
    return 0;
}

static pid_t spawn_in(const char *dir, const char *prog, const char *arg, int out_fd) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    if (dir) posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    char *argv[] = {(char *)prog, (char *)arg, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, prog, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc == 0 ? pid : -1;
}

/* Reads inotify events until `wd` reports a creation (0), or gives up at the deadline (-1). */
static int wait_created(int ino, int wd, double deadline) {
    char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        struct pollfd p = {.fd = ino, .events = POLLIN};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0) return -1;
        ssize_t n = read(ino, ev, sizeof ev);
        if (n <= 0) return -1;
        for (char *p = ev; p < ev + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            if (e->wd == wd && (e->mask & IN_CREATE)) return 0;
            p += sizeof *e + e->len;
        }
    }
}

/*
 * One case; returns 0 when the client printed exactly the server's message. `ino` is the worker's one
 * inotify instance (closing an inotify fd waits for an RCU grace period, about 10 ms here, so one per
 * case would measure that instead; libuv, under fs.watch, also keeps one per event loop); -1 for the
 * bare floor, which has no temp dir and no watch: the case runs in the worker's cwd, the shared dir.
 */
static int one_case(int ino, const char *server, const char *client, int job, int i) {
    int bare = ino < 0;
    char dir[] = "/tmp/udsfloor-XXXXXX";
    char name[32];
    if (!bare && !mkdtemp(dir)) return 1;
    const char *cwd = bare ? NULL : dir;
    /* Unique among all live cases of all runs: /proc/net/unix is matched by name alone here. */
    snprintf(name, sizeof name, "f%d_%d_%d", (int)getpid(), job, i);
    int wd = bare ? -1 : inotify_add_watch(ino, dir, IN_CREATE);
    pid_t sp = spawn_in(cwd, server, name, -1);
    int failed = sp < 0;
    double limit = now_ms() + 5000;
    /* bind(2) creates the node (the event); listen(2) follows within microseconds: re-read until then. */
    if (!failed && (bare || wd < 0 || wait_created(ino, wd, limit) == 0)) {
        while (!listening(name)) {
            if (now_ms() > limit || waitpid(sp, NULL, WNOHANG) == sp) { failed = 1; sp = -sp; break; }
            /* Give the CPU to the server (it may share this core) rather than spin against it. */
            sched_yield();
        }
    }
    else failed = 1;
    if (wd >= 0) inotify_rm_watch(ino, wd);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) return 1;
    pid_t cp = failed ? -1 : spawn_in(cwd, client, name, pipefd[1]);
    close(pipefd[1]);
    char out[256];
    size_t got = 0;
    ssize_t n;
    while ((n = read(pipefd[0], out + got, sizeof out - 1 - got)) > 0) got += (size_t)n;
    close(pipefd[0]);
    int status = 0;
    if (cp > 0) waitpid(cp, &status, 0);
    out[got] = 0;
    if (!failed && strcmp(out, "Server Message\n") != 0) {
        fprintf(stderr, "floor: case %d: the client printed %zu bytes instead of the message (status %d)\n", i, got, status);
        failed = 1;
    } else if (failed) {
        fprintf(stderr, "floor: case %d: the server did not listen\n", i);
    }
    if (sp > 0) {
        if (failed) kill(-sp, SIGKILL); /* it may wait for a client that will not come */
        waitpid(sp, NULL, 0);
        kill(-sp, SIGKILL);
    }
    char sock[64];
    snprintf(sock, sizeof sock, "%s/%s", bare ? "." : dir, name);
    unlink(sock);
    if (!bare) rmdir(dir);
    return failed;
}

int main(int argc, char **argv) {
    int bare = argc > 1 && strcmp(argv[1], "--bare") == 0;
    argv += bare;
    argc -= bare;
    if (argc != 5) {
        fprintf(stderr, "usage: floor [--bare] SERVER CLIENT CASES JOBS\n");
        return 2;
    }
    int cases = atoi(argv[3]), jobs = atoi(argv[4]);
    if (cases < 1 || jobs < 1) return 2;
    /* The bare floor's one dir for every case of this invocation: made and removed outside the timing. */
    char shared[] = "/tmp/udsfloor-bare-XXXXXX";
    if (bare && (!mkdtemp(shared) || chdir(shared) != 0)) {
        perror("floor: shared dir");
        return 1;
    }
    double t0 = now_ms();
    int failures = 0;
    pid_t workers[64];
    if (jobs > 64) jobs = 64;
    for (int j = 0; j < jobs; j++) {
        workers[j] = fork();
        if (workers[j] == 0) {
            int bad = 0;
            int ino = bare ? -1 : inotify_init1(IN_CLOEXEC);
            for (int i = j; i < cases; i += jobs) bad += one_case(ino, argv[1], argv[2], j, i);
            _exit(bad > 255 ? 255 : bad);
        }
    }
    for (int j = 0; j < jobs; j++) {
        int status;
        if (workers[j] > 0 && waitpid(workers[j], &status, 0) > 0 && WIFEXITED(status)) failures += WEXITSTATUS(status);
        else failures++;
    }
    double wall = now_ms() - t0;
    if (bare && (chdir("/") != 0 || rmdir(shared) != 0)) perror("floor: removing the shared dir");
    printf("{\"mode\":\"%s\",\"cases\":%d,\"jobs\":%d,\"wallMs\":%.3f,\"perCaseMs\":%.4f,\"failures\":%d}\n", bare ? "bare" : "design", cases, jobs, wall, wall / cases, failures);
    return failures ? 1 : 0;
}
