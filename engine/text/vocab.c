/* vocab.txt loading and lookup for the WordPiece tokenizer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/text/utf8.h"
#include "engine/text/vocab_internal.h"

static uint64_t hash_bytes(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {   /* FNV-1a */
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define HASH_SEED 0xcbf29ce484222325ull

int32_t thaw_vocab_find(const ThawWordPiece *wp, const char *prefix, size_t plen,
                        const char *key, size_t len)
{
    uint64_t h = hash_bytes(hash_bytes(HASH_SEED, prefix, plen), key, len);
    for (size_t s = (size_t)h & wp->slot_mask;; s = (s + 1) & wp->slot_mask) {
        int32_t id = wp->slots[s];
        if (id < 0) return -1;
        const char *tok = wp->arena + wp->offset[id];
        if (wp->length[id] == plen + len && memcmp(tok, prefix, plen) == 0 &&
            memcmp(tok + plen, key, len) == 0)
            return id;
    }
}

static size_t count_cps(const char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; i++) cps += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cps;
}

void thaw_wordpiece_free(ThawWordPiece *wp)
{
    if (!wp) return;
    free(wp->arena);
    free(wp->offset);
    free(wp->length);
    free(wp->slots);
    free(wp);
}

/* Adds token id to the hash; a clash means a duplicate line. */
static int insert(ThawWordPiece *wp, int32_t id, const char *name, ThawError *err)
{
    const char *tok = wp->arena + wp->offset[id];
    uint64_t h = hash_bytes(HASH_SEED, tok, wp->length[id]);
    for (size_t s = (size_t)h & wp->slot_mask;; s = (s + 1) & wp->slot_mask) {
        int32_t other = wp->slots[s];
        if (other < 0) {
            wp->slots[s] = id;
            return THAW_OK;
        }
        if (wp->length[other] == wp->length[id] &&
            memcmp(wp->arena + wp->offset[other], tok, wp->length[id]) == 0)
            return thaw_fail(err, THAW_ERR_FORMAT,
                             "%s:%d: duplicate token \"%s\" (first on line %d)", name,
                             id + 1, tok, other + 1);
    }
}

static int find_special(ThawWordPiece *wp, const char *token, int required, int32_t *id,
                        const char *name, ThawError *err)
{
    *id = thaw_vocab_find(wp, "", 0, token, strlen(token));
    if (*id < 0 && required)
        return thaw_fail(err, THAW_ERR_FORMAT,
                         "%s: no %s token (a BERT vocab needs [PAD], [UNK], [CLS] and [SEP])",
                         name, token);
    return THAW_OK;
}

/* Splits the arena copy of the file into NUL-terminated lines, checking each. */
static int split_lines(ThawWordPiece *wp, size_t len, const char *name, ThawError *err)
{
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += wp->arena[i] == '\n';
    if (len > 0 && wp->arena[len - 1] != '\n') lines++;
    if (lines > INT32_MAX / 2)
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: too many lines (%zu)", name, lines);
    wp->offset = malloc((lines ? lines : 1) * sizeof *wp->offset);
    wp->length = malloc((lines ? lines : 1) * sizeof *wp->length);
    if (!wp->offset || !wp->length)
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", name);
    size_t start = 0;
    for (size_t i = 0; i <= len && wp->count < lines; i++) {
        if (i < len && wp->arena[i] != '\n') continue;
        size_t n = i - start;
        int line = (int)wp->count + 1;
        if (n == 0)
            return thaw_fail(err, THAW_ERR_FORMAT, "%s:%d: empty line", name, line);
        if (wp->arena[i - 1] == '\r')
            return thaw_fail(err, THAW_ERR_FORMAT,
                             "%s:%d: line ends in \\r (CRLF line ends are not supported)", name, line);
        if (n > UINT32_MAX || !thaw_utf8_valid(wp->arena + start, n))
            return thaw_fail(err, THAW_ERR_FORMAT, "%s:%d: not valid UTF-8", name, line);
        if (memchr(wp->arena + start, '\0', n))
            return thaw_fail(err, THAW_ERR_FORMAT, "%s:%d: NUL byte in token", name, line);
        wp->arena[i] = '\0';   /* the arena has one spare byte for a last line without '\n' */
        wp->offset[wp->count] = start;
        wp->length[wp->count] = (uint32_t)n;
        size_t cps = count_cps(wp->arena + start, n);
        if (n >= 2 && memcmp(wp->arena + start, "##", 2) == 0) cps -= 2;
        if (cps > wp->max_piece_cps) wp->max_piece_cps = cps;
        wp->count++;
        start = i + 1;
    }
    if (wp->count == 0)
        return thaw_fail(err, THAW_ERR_FORMAT, "%s: empty vocab file", name);
    return THAW_OK;
}

int thaw_wordpiece_load_memory(ThawWordPiece **out, const char *data, size_t len,
                               const char *name, ThawError *err)
{
    *out = NULL;
    ThawWordPiece *wp = calloc(1, sizeof *wp);
    if (!wp || !(wp->arena = malloc(len + 1))) {
        free(wp);
        return thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(wp->arena, data, len);
    wp->arena[len] = '\0';
    int rc = split_lines(wp, len, name, err);
    if (rc == THAW_OK) {
        size_t slots = 16;
        while (slots < 2 * wp->count) slots *= 2;
        wp->slot_mask = slots - 1;
        wp->slots = malloc(slots * sizeof *wp->slots);
        if (!wp->slots) rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", name);
        else memset(wp->slots, 0xFF, slots * sizeof *wp->slots);   /* all -1 */
    }
    for (size_t id = 0; rc == THAW_OK && id < wp->count; id++)
        rc = insert(wp, (int32_t)id, name, err);
    ThawSpecialIds *sp = &wp->special;
    if (rc == THAW_OK) rc = find_special(wp, "[PAD]", 1, &sp->pad, name, err);
    if (rc == THAW_OK) rc = find_special(wp, "[UNK]", 1, &sp->unk, name, err);
    if (rc == THAW_OK) rc = find_special(wp, "[CLS]", 1, &sp->cls, name, err);
    if (rc == THAW_OK) rc = find_special(wp, "[SEP]", 1, &sp->sep, name, err);
    if (rc == THAW_OK) rc = find_special(wp, "[MASK]", 0, &sp->mask, name, err);
    if (rc != THAW_OK) {
        thaw_wordpiece_free(wp);
        return rc;
    }
    *out = wp;
    return THAW_OK;
}

int thaw_wordpiece_load(ThawWordPiece **out, const char *path, ThawError *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return thaw_fail(err, THAW_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = THAW_OK;
    for (;;) {
        if (len == cap) {
            size_t cap2 = cap ? cap * 2 : 1 << 18;
            char *p = realloc(buf, cap2);
            if (!p) {
                rc = thaw_fail(err, THAW_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buf = p;
            cap = cap2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) rc = thaw_fail(err, THAW_ERR_IO, "%s: read failed", path);
            break;
        }
    }
    fclose(f);
    if (rc == THAW_OK) rc = thaw_wordpiece_load_memory(out, buf ? buf : "", len, path, err);
    free(buf);
    return rc;
}

size_t thaw_wordpiece_vocab_size(const ThawWordPiece *wp) { return wp->count; }

ThawSpecialIds thaw_wordpiece_special_ids(const ThawWordPiece *wp) { return wp->special; }

int32_t thaw_wordpiece_token_id(const ThawWordPiece *wp, const char *token, size_t len)
{
    return thaw_vocab_find(wp, "", 0, token, len);
}

const char *thaw_wordpiece_token(const ThawWordPiece *wp, int32_t id)
{
    if (id < 0 || (size_t)id >= wp->count) return NULL;
    return wp->arena + wp->offset[id];
}
