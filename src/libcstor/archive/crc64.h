/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC-64/GO-ISO: the checksum tar-split stores for every file payload
 * (Go's hash/crc64 with crc64.ISO: reflected polynomial 0xD800000000000000,
 * init and final xor all ones). The value composes like Go's crc64.Update:
 *
 *     uint64_t c = 0;
 *     c = cstor_crc64_update(c, a, alen);
 *     c = cstor_crc64_update(c, b, blen);   // == crc of a||b
 *
 * tar-split writes it big-endian as the 8-byte File payload.
 */
#ifndef CSTOR_ARCHIVE_CRC64_H
#define CSTOR_ARCHIVE_CRC64_H

#include <stddef.h>
#include <stdint.h>

uint64_t cstor_crc64_update(uint64_t crc, const void *buf, size_t len);

static inline void cstor_crc64_to_be(uint64_t crc, uint8_t out[8])
{
	for (int i = 7; i >= 0; i--) {
		out[i] = (uint8_t)crc;
		crc >>= 8;
	}
}

#endif
