#include "cli_error.h"

#include <stdio.h>

void cli_error_line(const char *verb, const char *msg)
{
    fprintf(stderr, "thaw %s: ", verb);
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fprintf(stderr, "\\x%02x", *p);
        } else {
            fputc(*p, stderr);
        }
    }
    fputc('\n', stderr);
}
