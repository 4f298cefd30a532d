/* thaw predict on a text checkpoint (cmd_predict.c hands it over):
 *   thaw predict CKPT --text "..." [--text "..."] [--file F|-] [--top K] [--json]
 * Classifies each text (and each non-blank line of F, or of stdin for -)
 * in eval mode with the checkpoint's encoder, vocab and max_length. Per
 * text: the text (cut to 60 characters), then K lines (default 5, at most
 * the classes) of softmax probability and class, highest first; with
 * --json one line per text, {"text": ..., "predictions": [{"label": ...,
 * "score": ...}, ...]} (the shape of a transformers pipeline's output). */
#ifndef THAW_CMD_PREDICT_TEXT_H
#define THAW_CMD_PREDICT_TEXT_H

/* Returns the exit status (0, 2 bad input with one stderr line, 1). */
int predict_text(const char *ckpt, char **texts, int n_texts, const char *file, int top,
                 int json);

#endif
