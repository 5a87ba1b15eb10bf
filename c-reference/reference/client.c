/* Corrected reference client of the seed protocol: copy everything the server sends to stdout,
 * binary-safe, until EOF.   usage: reference-client PATH
 * The work is done by the steps of client_steps.c (steps.h), which mutants replace one at a time. */
#include "steps.h"

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/tmp/my_sock";
    copy_to_stdout(connect_to(path));
    return 0;
}
