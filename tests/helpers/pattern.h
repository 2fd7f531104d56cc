/*
 * pattern.h - the byte stream every test sender sends and every test
 * receiver checks.
 *
 * Byte i of a stream is byte (i % 8) of the little-endian 64-bit word
 * pat_word(i / 8), a bijection of the word index.  So any run of 16 or more
 * received bytes can be checked in place AND located: pat_locate finds the
 * stream offset it came from.  That lets a test with several reader threads
 * prove that together they got every byte exactly once.
 */
#ifndef ZCSHIM_PATTERN_H
#define ZCSHIM_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PAT_MUL 0x9E3779B97F4A7C15ull
#define PAT_ADD 0x632BE59BD9B4E019ull

static inline uint64_t pat_word(uint64_t k)
{
	return k * PAT_MUL + PAT_ADD;
}

static inline uint64_t pat_inverse(void)
{
	uint64_t inv = PAT_MUL;	/* Newton: each step doubles the correct bits */
	for (int i = 0; i < 6; i++)
		inv *= 2 - PAT_MUL * inv;
	return inv;
}

static inline uint8_t pat_byte(uint64_t i)
{
	return (uint8_t)(pat_word(i >> 3) >> ((i & 7) * 8));
}

/* Stream bytes [off, off + n) into buf. */
static inline void pat_fill(uint8_t *buf, uint64_t off, size_t n)
{
	while (n && (off & 7)) {
		*buf++ = pat_byte(off++);
		n--;
	}
	uint64_t k = off >> 3;
	for (; n >= 8; n -= 8, buf += 8, off += 8) {
		uint64_t w = pat_word(k++);
		memcpy(buf, &w, 8);
	}
	while (n) {
		*buf++ = pat_byte(off++);
		n--;
	}
}

/* Index of the first byte of buf that is not stream byte off + index, or n. */
static inline size_t pat_check(const uint8_t *buf, uint64_t off, size_t n)
{
	size_t i = 0;
	for (; i < n && ((off + i) & 7); i++)
		if (buf[i] != pat_byte(off + i))
			return i;
	uint64_t k = (off + i) >> 3;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, buf + i, 8);
		if (w != pat_word(k++)) {
			for (size_t j = i; j < i + 8; j++)
				if (buf[j] != pat_byte(off + j))
					return j;
		}
	}
	for (; i < n; i++)
		if (buf[i] != pat_byte(off + i))
			return i;
	return n;
}

/* Finds the stream offset of buf (n >= 16).  0 on success, -1 if none. */
static inline int pat_locate(const uint8_t *buf, size_t n, uint64_t *off)
{
	uint64_t inv = pat_inverse();
	if (n < 16)
		return -1;
	for (unsigned s = 0; s < 8; s++) {
		uint64_t w, w2;
		memcpy(&w, buf + s, 8);
		memcpy(&w2, buf + s + 8, 8);
		uint64_t k = (w - PAT_ADD) * inv;
		if (pat_word(k + 1) == w2 && k * 8 >= s) {
			*off = k * 8 - s;
			return 0;
		}
	}
	return -1;
}

#endif
