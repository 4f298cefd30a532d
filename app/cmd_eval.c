/* thaw eval: filled in below (placeholder keeps the build linking). */
#include <stdio.h>

#include "commands.h"

int cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("thaw eval: not built yet\n", stderr);
    return 1;
}
