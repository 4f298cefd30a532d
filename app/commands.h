/* CLI verbs. Each returns the process exit status: 0 ok, 2 bad input
 * (one line on stderr), 1 internal failure. */
#ifndef THAW_COMMANDS_H
#define THAW_COMMANDS_H

int cmd_eval(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_train(int argc, char **argv);

#endif
