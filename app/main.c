#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    puts("thaw: transfer-learning workbench (under construction)");
    return 0;
}
