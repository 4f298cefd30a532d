/* thaw export for text checkpoints: the fine-tuned model as a Hugging Face
 * user expects a model folder. Next to nothing else:
 *   OUT (e.g. DIR/model.safetensors): every parameter with BertModel's
 *     names plus classifier.weight/bias, float32, no optimizer state;
 *     __metadata__ format thaw-model-1, task text_classification, arch,
 *     head (mean or cls), classes (a JSON list of names), epoch;
 *   DIR/config.json: the encoder's config.json with id2label, label2id and
 *     thaw_head added (what BertConfig.from_pretrained reads);
 *   DIR/vocab.txt: the WordPiece vocab the model was trained with.
 * Each file is written atomically (temporary name, fsync, rename); an
 * existing config.json or vocab.txt in DIR is replaced, as save_pretrained
 * does. */
#ifndef THAW_RUN_TEXT_EXPORT_H
#define THAW_RUN_TEXT_EXPORT_H

#include "engine/core/error.h"
#include "engine/run/text_checkpoint_model.h"

int text_export(const TextCheckpoint *tc, const char *out, ThawError *err);

#endif
