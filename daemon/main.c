/* main.c: thin entry point; the daemon lives in daemon.c. */
#include "daemon.h"

int main(int argc, char **argv)
{
        return daemon_main(argc, argv);
}
