/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CSTOR_UTIL_STRHASH_H
#define CSTOR_UTIL_STRHASH_H

#include <stdint.h>
#include <string.h>

/* A string's hash for the lookup tables of IDs (64 hex digits) and names,
 * mixed 8 bytes at a time (byte-at-a-time FNV was most of an index build).
 * Stable across processes of one machine: the lookup index file
 * (store/recindex.c) keeps tables made with it. */
static inline uint64_t cstor_strhash(const char *s)
{
	size_t len = strlen(s);
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len;
	for (; len >= 8; s += 8, len -= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	uint64_t w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

#endif
