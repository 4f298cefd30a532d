/* BERT-family encoder hyper-parameters, read from a Hugging Face
 * config.json (BertModel / sentence-transformers MiniLM): hidden_size,
 * num_hidden_layers, num_attention_heads, intermediate_size, vocab_size,
 * max_position_embeddings, type_vocab_size, layer_norm_eps,
 * hidden_dropout_prob, attention_probs_dropout_prob. hidden_act must be
 * "gelu" (erf) and position_embedding_type "absolute" when present; other
 * keys are ignored. */
#ifndef THAW_BERT_CONFIG_H
#define THAW_BERT_CONFIG_H

#include "engine/core/error.h"

typedef struct {
    int vocab_size;
    int hidden_size;
    int num_layers;
    int num_heads;
    int intermediate_size;
    int max_position;
    int type_vocab_size;
    float layer_norm_eps;
    float hidden_dropout;
    float attention_dropout;
} BertConfig;

/* Parses JSON text; name is what errors call it (a path). */
int bert_config_parse(BertConfig *cfg, const char *json, const char *name,
                      ThawError *err);
int bert_config_load(BertConfig *cfg, const char *path, ThawError *err);

/* Checks sizes are positive, heads divide hidden_size, dropouts in [0, 1). */
int bert_config_check(const BertConfig *cfg, const char *name, ThawError *err);

#endif
