/* thaw: the command line. Verbs dispatch to app/cmd_*.c; only app/ exits. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static void usage(FILE *f)
{
    fputs("usage: thaw <verb> [options]\n"
          "\n"
          "verbs:\n"
          "  eval      accuracy of a checkpoint on a dataset: CKPT [--split test|val|all]\n"
          "            [--data PATH] [--batch N] [--json]; see README, thaw eval\n"
          "  export    model only from a training checkpoint: CKPT --out MODEL.safetensors\n"
          "            (PyTorch names, for load_state_dict; arch/head/classes in metadata)\n"
          "  forward   eval-mode forward pass: --arch A --weights W.safetensors\n"
          "            --input X.safetensors (tensor 'input' [N,3,H,W]) --out Y.safetensors\n"
          "            (tensor 'logits' [N,C])\n"
          "  predict   classify photos: --arch A --weights W.pth|W.safetensors\n"
          "            --image P [P2 ...] [--top K (5)] [--size S (native)]\n"
          "  train     train from a run file: RUN.json [--json] [--resume CKPT]\n"
          "            [--out DIR (runs/<name>)]; see README, Training runs\n"
          "\n"
          "exit status: 0 ok, 2 bad input (one line on stderr), 1 internal error\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "eval") == 0) {
        return cmd_eval(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "export") == 0) {
        return cmd_export(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "forward") == 0) {
        return cmd_forward(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "predict") == 0) {
        return cmd_predict(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "train") == 0) {
        return cmd_train(argc - 1, argv + 1);
    }
    fprintf(stderr, "thaw: unknown verb '%s' (try thaw --help)\n", argv[1]);
    return 2;
}
