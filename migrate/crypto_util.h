/*
 * Helpers shared by Tern's crypto (pure): error codes, little-endian loads and stores, a
 * constant-time comparison and a secret wipe the compiler cannot remove. See docs/crypto.md.
 */
#ifndef TERN_CRYPTO_UTIL_H
#define TERN_CRYPTO_UTIL_H

#include "kernel/compiler.h"
#include "kernel/string.h"

/* Error codes returned (negated) by every migrate/ crypto function; 0 is success. */
enum crypto_err {
	CRYPTO_OK = 0,
	CRYPTO_E_AUTH = -1,      /* tag mismatch: forged, corrupted, wrong key/nonce/AAD */
	CRYPTO_E_TOOLONG = -2,   /* message longer than the construction or caller allows */
	CRYPTO_E_INVAL = -3,     /* bad argument (NULL, bad size, API misuse/ordering) */
	CRYPTO_E_REPLAY = -4,    /* sequence number already seen or below the replay window */
	CRYPTO_E_ORDER = -5,     /* stream record out of order (sequence number ahead) */
	CRYPTO_E_EXHAUSTED = -6, /* sequence/nonce space used up: rekey */
	CRYPTO_E_DEAD = -7,      /* stream failed earlier (auth error): it stays closed */
	CRYPTO_E_FORMAT = -8,    /* malformed key string or datagram header */
	CRYPTO_E_WEAK = -9,      /* key material rejected (passphrase too short, zero key) */
	CRYPTO_E_SPACE = -10,    /* output buffer too small */
	CRYPTO_E_PEER = -11,     /* datagram from a sender this context does not serve */
};

/* crypto_strerror: a short constant description of an enum crypto_err value. */
const char *crypto_strerror(int err);

/* crypto_wipe: zero n bytes holding secrets; never optimised away (memzero_explicit). */
void crypto_wipe(void *p, size_t n);

/* crypto_ct_equal: true if the n bytes at a and b match; time depends only on n. */
bool crypto_ct_equal(const void *a, const void *b, size_t n);

/*
 * Little-endian loads and stores. The kernel builds with -ffreestanding (so -fno-builtin): a
 * plain memcpy() would be a real call per word; __builtin_memcpy of a constant size is always
 * a single unaligned mov on x86-64.
 */

/* load32_le: read a little-endian 32-bit word from any alignment. */
static inline uint32_t load32_le(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return v;
#else
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
#endif
}

/* load64_le: read a little-endian 64-bit word from any alignment. */
static inline uint64_t load64_le(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	__builtin_memcpy(&v, p, sizeof(v));
	return v;
#else
	return (uint64_t)load32_le(p) | (uint64_t)load32_le(p + 4) << 32;
#endif
}

/* store32_le: write a 32-bit word little-endian to any alignment. */
static inline void store32_le(uint8_t *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	__builtin_memcpy(p, &v, sizeof(v));
#else
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
#endif
}

/* store64_le: write a 64-bit word little-endian to any alignment. */
static inline void store64_le(uint8_t *p, uint64_t v)
{
	store32_le(p, (uint32_t)v);
	store32_le(p + 4, (uint32_t)(v >> 32));
}

/* rotl32: rotate a 32-bit word left by n (0 < n < 32). */
static inline uint32_t rotl32(uint32_t v, unsigned int n)
{
	return (v << n) | (v >> (32 - n));
}

/* rotr32: rotate a 32-bit word right by n (0 < n < 32). */
static inline uint32_t rotr32(uint32_t v, unsigned int n)
{
	return (v >> n) | (v << (32 - n));
}

#endif
