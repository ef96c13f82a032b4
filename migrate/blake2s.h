/*
 * BLAKE2s, RFC 7693 (pure, constant time): 32-bit words, 64-byte blocks, digests of 1..32
 * bytes, optional key of 1..32 bytes (keyed mode is a MAC/PRF, RFC 7693 2.5). Used as the
 * PRF of Tern's key derivation (keys.h) and as a fast hash for page integrity/deduplication.
 */
#ifndef TERN_BLAKE2S_H
#define TERN_BLAKE2S_H

#include "kernel/compiler.h"

#define BLAKE2S_BLOCK_SIZE 64
#define BLAKE2S_OUT_MAX    32
#define BLAKE2S_KEY_MAX    32
#define BLAKE2S_256_SIZE   32

struct blake2s_ctx {
	uint32_t h[8];                   /* chained state */
	uint32_t t[2];                   /* byte counter, low and high word */
	uint8_t buf[BLAKE2S_BLOCK_SIZE]; /* pending input; the last block is compressed in final */
	uint32_t buflen;
	uint32_t outlen;
};

/*
 * blake2s_init: start a hash of outlen (1..32) bytes, keyed if keylen (0..32) > 0. Returns
 * CRYPTO_OK or CRYPTO_E_INVAL.
 */
int blake2s_init(struct blake2s_ctx *ctx, size_t outlen, const void *key, size_t keylen);

/* blake2s_update: absorb len bytes. */
void blake2s_update(struct blake2s_ctx *ctx, const void *in, size_t len);

/* blake2s_final: write ctx->outlen bytes to out and wipe the context. */
void blake2s_final(struct blake2s_ctx *ctx, uint8_t *out);

/* blake2s: one-shot (keyed if keylen > 0) hash; returns CRYPTO_OK or CRYPTO_E_INVAL. */
int blake2s(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in,
            size_t inlen);

/* blake2s_256: unkeyed 32-byte digest, e.g. of a guest page. */
void blake2s_256(uint8_t out[BLAKE2S_256_SIZE], const void *in, size_t len);

#endif
