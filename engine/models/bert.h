/* BERT-family encoder (BertModel: MiniLM, BERT-base, ...) with an optional
 * classification head, forward and backward on the CPU, written layer by
 * layer like llm.c's gpt2: activations live in one arena planned for a
 * batch and sequence length, backward walks the layers in reverse.
 *
 * Parameters carry Hugging Face BertModel's state_dict names
 * (embeddings.word_embeddings.weight, encoder.layer.N.attention.self.query.
 * weight, ..., pooler.dense.weight) plus classifier.weight/.bias, in groups
 * "embeddings", "encoder.layer.0" .. "encoder.layer.{L-1}", "pooler",
 * "classifier". A frozen group gets no gradient, and backward stops below
 * the lowest trainable group.
 *
 * Inputs are token ids [B, T] (int32), optional token types [B, T] (NULL:
 * all 0) and an optional attention mask [B, T] (1 token, 0 padding; NULL:
 * all tokens). Padded positions still get hidden states (as in PyTorch);
 * they are ignored as attention keys and by the mean pooling. */
#ifndef THAW_BERT_H
#define THAW_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/error.h"
#include "engine/core/params.h"
#include "engine/models/bert_config.h"

typedef enum {
    BERT_HEAD_NONE,  /* encoder only: hidden states, pooler, embeddings */
    BERT_HEAD_MEAN,  /* classifier Linear(hidden, C) on the masked mean of
                        the last hidden states (sentence-transformers
                        pooling); the pooler gets no gradient */
    BERT_HEAD_CLS,   /* classifier on dropout(tanh pooler of [CLS]), as
                        BertForSequenceClassification */
} BertHead;

typedef struct BertLayerActs BertLayerActs;  /* bert_internal.h */
typedef struct BertBackScratch BertBackScratch;

typedef struct {
    BertConfig cfg;
    BertHead head;
    int num_classes;            /* 0 with BERT_HEAD_NONE */
    ParamTable params;
    /* plan (bert_plan) */
    int batch, seq;
    int training;               /* 1: dropout as in cfg, 0: eval */
    float *arena;               /* every forward activation */
    size_t arena_floats;
    int32_t *ints;              /* ids, positions, types, mask: 4 x B*T */
    BertLayerActs *layers;      /* num_layers + 1 (0: embeddings) */
    float *pooled_mean;         /* [B, C] masked mean of the last layer */
    float *cls, *pooled;        /* [B, C] [CLS] hidden, tanh pooler */
    float *pooled_drop, *pooled_drop_mask;  /* classifier input (CLS head) */
    float *logits, *probs;      /* [B, classes] */
    BertBackScratch *back;      /* gradient buffers, allocated on first use */
    uint64_t rng;               /* dropout stream */
} BertModel;

/* Registers the parameters (Hugging Face names and groups), allocates them
 * and initialises them as transformers does (normal(0, 0.02) weights and
 * embeddings, zero biases, LayerNorm 1 / 0; the classifier like
 * torch.nn.Linear, uniform(+-1/sqrt(hidden))). seed drives init and
 * dropout. */
int bert_create(BertModel *m, const BertConfig *cfg, BertHead head,
                int num_classes, uint64_t seed, ThawError *err);
void bert_free(BertModel *m);

/* What bert_load_weights did beyond loading the encoder, for the caller's
 * log: note is "; "-separated clauses such as "new classifier (3 classes)",
 * "classifier from the file (3 classes)", "new classifier (3 classes; the
 * file's has 2, not loaded)", "new pooler (none in the file)", "5
 * pre-training head keys ignored (cls.*)" ("" when there is nothing to
 * say: no head and a plain BertModel file). */
typedef struct {
    int classifier;     /* 1: classifier.* came from the file */
    int ignored;        /* keys skipped: cls.*, position_ids, token_type_ids */
    char note[256];
} BertLoadInfo;

/* Loads a Hugging Face BERT checkpoint in any format weights_open reads
 * (model.safetensors, pytorch_model.bin zip or legacy): a BertModel
 * state_dict (sentence-transformers, MiniLM) or one with the "bert." prefix
 * (BertForPreTraining, BertForSequenceClassification, bert-base-uncased),
 * with LayerNorm.weight/.bias or the old .gamma/.beta names. Pre-training
 * heads (cls.*) and the position_ids/token_type_ids buffers are ignored.
 * Every encoder parameter must be there with its shape; the pooler may be
 * absent (kept at init). classifier.weight/.bias are loaded when the model
 * has a head with that many classes; for another class count the new head
 * is kept (said in info->note). Errors are one line naming the file and
 * the key: an unknown key, a missing key, a wrong shape. info may be
 * NULL. On error the model is partly loaded. */
int bert_load_weights(BertModel *m, const char *path, BertLoadInfo *info,
                      ThawError *err);

/* bert_load_weights without the info (the name of the first loader). */
int bert_load_safetensors(BertModel *m, const char *path, ThawError *err);

/* The checkpoint of a Hugging Face model folder (config.json, vocab.txt):
 * <folder>/model.safetensors if present, else <folder>/pytorch_model.bin,
 * written into path (cap bytes). Neither: an error naming the folder and
 * both names. */
int bert_weights_file(const char *folder, char *path, size_t cap, ThawError *err);

/* Plans the arena for batch x seq (seq <= max_position). training = 1 runs
 * dropout with cfg's probabilities (set them to 0 for deterministic train
 * mode). Call again to change any of them; weights are kept. */
int bert_plan(BertModel *m, int batch, int seq, int training, ThawError *err);

/* Checks ids, types and mask of the planned batch and copies them (with
 * the positions) into m->ints, which forward and backward read; the GPU
 * executor uploads them from there. Errors name the offending position. */
int bert_set_inputs(BertModel *m, const int32_t *ids, const int32_t *types,
                    const int32_t *mask, ThawError *err);

/* Forward of the planned batch. Errors (ids, types or mask out of range)
 * name the offending position; nothing is computed then. */
int bert_forward(BertModel *m, const int32_t *ids, const int32_t *types,
                 const int32_t *mask, ThawError *err);

/* Hidden states after the forward: layer 0 is the embeddings output, layer
 * L the last layer ([B, T, hidden], HF's hidden_states[l]). */
const float *bert_hidden(const BertModel *m, int layer);
/* Masked mean of the last hidden states, [B, hidden]. */
const float *bert_mean_pooled(const BertModel *m);
/* tanh(pooler.dense([CLS])), [B, hidden]. */
const float *bert_pooler_output(const BertModel *m);
/* [B, classes]; NULL with BERT_HEAD_NONE. */
const float *bert_logits(const BertModel *m);

/* Mean softmax cross-entropy of the last forward's logits. */
float bert_loss(BertModel *m, const int32_t *labels, float smoothing);

/* Backward from bert_loss (same labels and smoothing): accumulates (+=) into
 * m->params.grads of every trainable parameter. Needs a classifier head. */
int bert_backward(BertModel *m, const int32_t *labels, float smoothing,
                  ThawError *err);

/* L2-normalises rows in place (sentence-transformers' Normalize module). */
void bert_l2_normalize(float *rows, int n, int dim);

#endif
