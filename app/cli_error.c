#include "cli_error.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

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

int cli_usage_error(const char *verb, const char *usage, const char *msg, const char *what)
{
    char line[1024];
    snprintf(line, sizeof line, "%s%s%s%s (usage: %s)", msg, what ? " '" : "",
             what ? what : "", what ? "'" : "", usage);
    cli_error_line(verb, line);
    return 2;
}

int cli_option_error(const char *verb, const char *usage, int c, char *const *argv)
{
    if (c == ':') {
        return cli_usage_error(verb, usage, "option needs a value", argv[optind - 1]);
    }
    if (optind > 1 && strncmp(argv[optind - 1], "--", 2) == 0) {
        return cli_usage_error(verb, usage, "unknown option", argv[optind - 1]);
    }
    char shortopt[3] = {'-', (char)(optopt ? optopt : '?'), 0};
    return cli_usage_error(verb, usage, "unknown option", shortopt);
}

int cli_one_operand(const char *verb, const char *usage, const char *missing, int argc,
                    char *const *argv)
{
    if (optind >= argc) {
        return cli_usage_error(verb, usage, missing, NULL);
    }
    if (optind + 1 < argc) {
        return cli_usage_error(verb, usage, "unexpected argument", argv[optind + 1]);
    }
    return 0;
}
