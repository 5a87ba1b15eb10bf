#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

static void displayError(const char *on_what);

/* uds-conformance: the one change from the seed is that the path comes from argv[1]. */
const char *socketPath = "/tmp/my_sock";

int main(int argc, char **argv, char **envp) {
    int n = 0;
    char recvBuff[1024];
    int sockfd;                 
    struct sockaddr_un socketAddr;          

    if (argc > 1)
        socketPath = argv[1];

    /* Create a AF_UNIX (aka AF_LOCAL) socket: */
    if ( (sockfd = socket(AF_UNIX,SOCK_STREAM,0)) < 0 )
        displayError("socket");

    memset( &socketAddr, 0, sizeof socketAddr);
    socketAddr.sun_family = AF_UNIX;
    strncpy( socketAddr.sun_path, socketPath,  sizeof socketAddr.sun_path-1);

    if( connect(sockfd, (struct sockaddr *)&socketAddr, sizeof(socketAddr)) < 0)
        displayError("Connect Failed");

    while ( (n = read(sockfd, recvBuff, sizeof(recvBuff)-1)) > 0)
    {
        recvBuff[n] = 0;
        if(fputs(recvBuff, stdout) == EOF)
            displayError("fputs error");
    }

    if(n < 0)
        displayError("Read error");

    /* Close and unlink our socket path: */
    close(sockfd) ;
    unlink(socketPath);

    return 0;
 }


/* This function reports the error and exits back to the shell: */
static void displayError(const char *on_what) {
    perror(on_what);
    exit(1);
}
