/*
 * The CPU a command uses, as the kernel accounts it to a reaped child (wait4's rusage): the
 * benchmark's start-up figures (`uds-conformance --help` against `node -e 0`). Node gives its own
 * rusage (process.resourceUsage) but not a child's, and /usr/bin/time is not everywhere.
 *
 *   rusage COMMAND [ARG...]
 *
 * Runs COMMAND once with stdin and stdout on /dev/null (stderr inherited) and prints one JSON line:
 * {"userMs":U,"sysMs":S,"wallMs":W,"exitCode":E} (exitCode -1 when a signal ended it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double ms(struct timeval tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: rusage COMMAND [ARG...]\n");
        return 2;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid;
    if (posix_spawnp(&pid, argv[1], &fa, NULL, argv + 1, environ) != 0) {
        perror("rusage: spawn");
        return 127;
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("rusage: wait4");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("{\"userMs\":%.3f,\"sysMs\":%.3f,\"wallMs\":%.3f,\"exitCode\":%d}\n", ms(ru.ru_utime), ms(ru.ru_stime), wall, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
