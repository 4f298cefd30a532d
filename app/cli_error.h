/* One-line error output for CLI verbs: "thaw VERB: message", with control
 * characters from file names or keys escaped so the line stays one line. */
#ifndef THAW_CLI_ERROR_H
#define THAW_CLI_ERROR_H

void cli_error_line(const char *verb, const char *msg);

/* A bad command line is bad input too: one line, "thaw VERB: MSG 'WHAT'
 * (usage: USAGE)" (WHAT may be NULL); returns 2, the exit status. */
int cli_usage_error(const char *verb, const char *usage, const char *msg, const char *what);

/* The line for what getopt_long (optstring ":...", opterr 0) returned and
 * the verb has no case for: ':' is an option without its value, anything
 * else an unknown option, named as typed (a long one is the whole
 * argument; a short one is optopt, getopt may be inside a "-xy" cluster).
 * Returns 2. */
int cli_option_error(const char *verb, const char *usage, int c, char *const *argv);

/* After the options: exactly one operand (argv[optind]) must be left, else
 * the usage line, with missing as the message when there is none. Returns
 * 0 or 2. */
int cli_one_operand(const char *verb, const char *usage, const char *missing, int argc,
                    char *const *argv);

#endif
