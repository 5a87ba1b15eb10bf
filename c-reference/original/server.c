#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

static void displayError(const char *);

/* uds-conformance: the one change from the seed is that the path comes from argv[1]. */
const char *socketPath = "/tmp/my_sock";  /* Socket With Absolute Pathname */

int main(int argc, char **argv, char **envp) {
    int sockfd;                 /* Socket File Descriptor */
    int connfd;                 /* Connection Fide Descriptor On Whch We Communicate */
    struct sockaddr_un socketAddr;      /* AF_UNIX */

    if (argc > 1)
        socketPath = argv[1];

    /* Create a AF_UNIX (aka AF_LOCAL) socket */
    if ( (sockfd = socket(AF_UNIX,SOCK_STREAM,0)) < 0 )
        displayError("socket");

    /* Here we remove name of socket from file system, in case it existed from a prior run.*/
    unlink(socketPath);

    memset( &socketAddr, 0, sizeof socketAddr);
    socketAddr.sun_family = AF_UNIX;
    strncpy( socketAddr.sun_path, socketPath,  sizeof socketAddr.sun_path-1);

    if ( bind(sockfd, (struct sockaddr *)&socketAddr, sizeof(struct sockaddr)) < 0 )
        displayError("Could not bind");

    if( ( listen( sockfd, 10)  ) < 0 )
        displayError("Could not listen");

    if( ( connfd = accept( sockfd, (struct sockaddr*)NULL, NULL) ) < 0 )
        displayError("Could not accept");

    write(connfd, "Server Message\n", strlen("Server Message\n"));

    /* Close & unlink our socket path */
    close(sockfd) ;
    unlink(socketPath);

    return 0;
}

/* This function reports the error and exits back to the shell: */
static void displayError(const char *on_what) {
    perror(on_what);
    exit(1);
}
