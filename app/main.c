/* thaw: the command line. Verbs dispatch to app/cmd_*.c; only app/ exits. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "engine/cuda/cuda_device.h"
#include "tui.h"

static void usage(FILE *f)
{
    fputs("usage: thaw [RUN.json] [--out DIR]   the workbench (default run: EfficientNet-Lite0\n"
          "                                     feature extraction on Fashion-MNIST)\n"
          "            [--device cpu|cuda[:N]]  image runs on a GPU (cuda when one exists)\n"
          "       thaw <verb> [options]\n"
          "\n"
          "verbs:\n"
          "  eval      accuracy of a checkpoint (image or text) on a dataset: CKPT\n"
          "            [--split test|val|all] [--data PATH] [--batch N] [--json]\n"
          "  export    model only from a training checkpoint: CKPT --out MODEL.safetensors\n"
          "            (PyTorch names, for load_state_dict; arch/head/classes in metadata)\n"
          "  forward   eval-mode forward pass: --arch A --weights W.safetensors\n"
          "            --input X.safetensors (tensor 'input' [N,3,H,W]) --out Y.safetensors\n"
          "            (tensor 'logits' [N,C])\n"
          "  predict   classify photos: --arch A --weights W.pth|W.safetensors\n"
          "            --image P [P2 ...] [--top K (5)] [--size S (native)]\n"
          "            or a text checkpoint: CKPT --text T [--file F|-] [--top K] [--json]\n"
          "  train     train from a run file: RUN.json [--json] [--resume CKPT]\n"
          "            [--out DIR (runs/<name>)] [--device cpu|cuda[:N] (cuda when one\n"
          "            exists)]; see README, Training runs\n"
          "\n"
          "workbench keys:\n"
          TUI_KEYS_HELP
          "\n"
          "exit status: 0 ok, 2 bad input (one line on stderr), 1 internal error;\n"
          "128 + signal after SIGINT/SIGTERM/SIGHUP (checkpoint saved)\n",
          f);
    fprintf(f, "\n%s\n", thaw_cuda_build_info());
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) {
        return tui_main(argc, argv);   /* the workbench on the default run */
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
    /* No verb: the workbench on RUN.json (or options such as --out). */
    size_t len = strlen(argv[1]);
    if (argv[1][0] == '-' || (len > 5 && strcmp(argv[1] + len - 5, ".json") == 0)) {
        return tui_main(argc, argv);
    }
    fprintf(stderr, "thaw: unknown verb '%s' (try thaw --help)\n", argv[1]);
    return 2;
}
