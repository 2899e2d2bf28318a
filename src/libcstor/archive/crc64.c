/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two implementations, picked at run time:
 *
 * - Slicing-by-8: eight 256-entry tables fold 8 input bytes per iteration
 *   with independent lookups (~1.5 GB/s). Portable, and used for short
 *   inputs and tails.
 * - Carry-less multiplication (x86 PCLMULQDQ, ~8 GB/s): the assembler
 *   checksums every file it copies, so the CRC sets its speed. Four 128-bit
 *   accumulators are folded forward by 512 bits per iteration, then into
 *   one, and the last 128 bits are reduced by running them through the
 *   table with a zero register (that computes X * x^64 mod P exactly,
 *   which saves the Barrett step).
 *
 * Bit order: the CRC is reflected, so in a little-endian 64-bit word bit i
 * is the coefficient of x^(63-i). A carry-less product of two reflected
 * words is the reflected product times x, hence the "- 1" in the folding
 * constants x^(D+64-1) and x^(D-1) mod P for a fold over D bits.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_CLMUL 1
#endif

#include "util/macro.h"

#include "crc64.h"

#define CRC64_ISO_POLY UINT64_C(0xD800000000000000) /* reflected */
#define CRC64_ISO_LOW 0x1B /* x^4 + x^3 + x + 1, normal order */

static uint64_t table[8][256];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
#ifdef HAVE_CLMUL
static bool use_clmul;
static uint64_t k128[2], k512[2];
#endif

static uint64_t reflect64(uint64_t v)
{
	uint64_t r = 0;
	for (int i = 0; i < 64; i++)
		if (v >> i & 1)
			r |= UINT64_C(1) << (63 - i);
	return r;
}

/* x^e mod P, reflected. */
_unused_ static uint64_t xpow_mod(unsigned e)
{
	uint64_t v = 1;
	for (unsigned i = 0; i < e; i++) {
		bool top = v >> 63;
		v <<= 1;
		if (top)
			v ^= CRC64_ISO_LOW;
	}
	return reflect64(v);
}

static void crc_init(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint64_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC64_ISO_POLY : c >> 1;
		table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
#ifdef HAVE_CLMUL
	k128[0] = xpow_mod(128 + 64 - 1);
	k128[1] = xpow_mod(128 - 1);
	k512[0] = xpow_mod(512 + 64 - 1);
	k512[1] = xpow_mod(512 - 1);
	/* One CPUID here, at the first checksum, rather than
	 * __builtin_cpu_supports(): that links libgcc's constructor, which
	 * runs a dozen CPUIDs at the start of every process, and in a VM each
	 * is a trap to the hypervisor (7 us here: 80 us a command,
	 * docs/performance.md "The CLI's own cost"). */
	unsigned eax, ebx, ecx, edx;
	use_clmul = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_PCLMUL) && (edx & bit_SSE2);
#endif
}

static inline uint64_t load_le64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

/* The register update without the initial and final inversion. */
static uint64_t update_table(uint64_t crc, const unsigned char *p, size_t len)
{
	while (len >= 8) {
		crc ^= load_le64(p);
		crc = table[7][crc & 0xff] ^ table[6][(crc >> 8) & 0xff] ^
		      table[5][(crc >> 16) & 0xff] ^ table[4][(crc >> 24) & 0xff] ^
		      table[3][(crc >> 32) & 0xff] ^ table[2][(crc >> 40) & 0xff] ^
		      table[1][(crc >> 48) & 0xff] ^ table[0][crc >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#ifdef HAVE_CLMUL
__attribute__((target("pclmul,sse2"))) static inline __m128i fold(__m128i x, __m128i k)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))

/* Needs len >= 64; returns the register after all full 16-byte blocks and
 * advances *pp / *lenp past them. */
__attribute__((target("pclmul,sse2"))) static uint64_t update_clmul(uint64_t crc,
								   const unsigned char **pp,
								   size_t *lenp)
{
	const unsigned char *p = *pp;
	size_t len = *lenp;
	const __m128i K4 = _mm_set_epi64x((long long)k512[1], (long long)k512[0]);
	const __m128i K1 = _mm_set_epi64x((long long)k128[1], (long long)k128[0]);
	__m128i x0 = _mm_xor_si128(LOAD(p), _mm_set_epi64x(0, (long long)crc));
	__m128i x1 = LOAD(p + 16), x2 = LOAD(p + 32), x3 = LOAD(p + 48);
	p += 64;
	len -= 64;
	while (len >= 64) {
		x0 = _mm_xor_si128(fold(x0, K4), LOAD(p));
		x1 = _mm_xor_si128(fold(x1, K4), LOAD(p + 16));
		x2 = _mm_xor_si128(fold(x2, K4), LOAD(p + 32));
		x3 = _mm_xor_si128(fold(x3, K4), LOAD(p + 48));
		p += 64;
		len -= 64;
	}
	__m128i x = _mm_xor_si128(fold(x0, K1), x1);
	x = _mm_xor_si128(fold(x, K1), x2);
	x = _mm_xor_si128(fold(x, K1), x3);
	while (len >= 16) {
		x = _mm_xor_si128(fold(x, K1), LOAD(p));
		p += 16;
		len -= 16;
	}
	unsigned char last[16];
	_mm_storeu_si128((__m128i *)(void *)last, x);
	*pp = p;
	*lenp = len;
	return update_table(0, last, sizeof(last));
}
#endif

uint64_t cstor_crc64_update(uint64_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	pthread_once(&init_once, crc_init);
	crc = ~crc;
#ifdef HAVE_CLMUL
	if (use_clmul && len >= 64)
		crc = update_clmul(crc, &p, &len);
#endif
	return ~update_table(crc, p, len);
}
