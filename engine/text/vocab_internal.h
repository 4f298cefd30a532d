/* The vocabulary behind ThawWordPiece, shared by vocab.c (loading, lookup)
 * and wordpiece.c (tokenizing). Not part of the public API. */
#ifndef THAW_VOCAB_INTERNAL_H
#define THAW_VOCAB_INTERNAL_H

#include "engine/text/wordpiece.h"

struct ThawWordPiece {
    char *arena;            /* every token, NUL-terminated, in id order */
    size_t *offset;         /* token id -> start in arena */
    uint32_t *length;       /* token id -> bytes */
    size_t count;
    int32_t *slots;         /* open-addressing hash: id or -1 */
    size_t slot_mask;       /* slot count - 1 (a power of two) */
    size_t max_piece_cps;   /* longest entry in code points, "##" not counted */
    ThawSpecialIds special;
};

/* Id of the token whose bytes are prefix (plen, may be 0) then key, or -1. */
int32_t thaw_vocab_find(const ThawWordPiece *wp, const char *prefix, size_t plen,
                        const char *key, size_t len);

#endif
