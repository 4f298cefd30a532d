/* One-line error output for CLI verbs: "thaw VERB: message", with control
 * characters from file names or keys escaped so the line stays one line. */
#ifndef THAW_CLI_ERROR_H
#define THAW_CLI_ERROR_H

void cli_error_line(const char *verb, const char *msg);

#endif
