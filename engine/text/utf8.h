/* UTF-8 decoding and encoding for the tokenizer. Decoding is strict
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF);
 * each maximal invalid subpart becomes U+FFFD, as Python's
 * bytes.decode("utf-8", errors="replace") does. */
#ifndef THAW_UTF8_H
#define THAW_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define THAW_UTF8_REPLACEMENT 0xFFFDu

/* Decodes one code point at s[0..len) (len >= 1) into *cp; returns the bytes
 * consumed (1..4). An invalid sequence yields U+FFFD and consumes its
 * maximal invalid subpart (at least one byte). */
size_t thaw_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* True when s[0..len) is entirely valid UTF-8. */
int thaw_utf8_valid(const char *s, size_t len);

/* Writes cp (a valid scalar value) as 1..4 bytes into out; returns the count. */
size_t thaw_utf8_encode(uint32_t cp, char out[4]);

#endif
