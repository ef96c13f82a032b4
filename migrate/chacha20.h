/*
 * ChaCha20 stream cipher, RFC 8439 sections 2.1-2.4: 256-bit key, 96-bit nonce, 32-bit block
 * counter (at most 2^32 blocks = 256 GiB of keystream per key and nonce). Pure, constant time
 * (additions, XORs and fixed rotations only). A nonce must never repeat under one key.
 */
#ifndef TERN_CHACHA20_H
#define TERN_CHACHA20_H

#include "kernel/compiler.h"

#define CHACHA20_KEY_SIZE   32
#define CHACHA20_NONCE_SIZE 12
#define CHACHA20_BLOCK_SIZE 64

/* Streaming state: keystream position survives between chacha20_xor calls. */
struct chacha20_ctx {
	uint32_t state[16];              /* constants | key | counter | nonce (RFC 2.3) */
	uint8_t ks[CHACHA20_BLOCK_SIZE]; /* keystream of the last, partly used block */
	uint32_t ks_used;                /* bytes of ks already consumed (64: none left) */
	uint64_t blocks_left;            /* blocks the 32-bit counter can still give */
};

/* chacha20_qround: the quarter round on state words a, b, c, d (RFC 8439 2.1/2.2; for tests). */
void chacha20_qround(uint32_t s[16], unsigned int a, unsigned int b, unsigned int c,
                     unsigned int d);

/* chacha20_block: one 64-byte keystream block for key, counter and nonce (RFC 8439 2.3). */
void chacha20_block(uint8_t out[CHACHA20_BLOCK_SIZE], const uint8_t key[CHACHA20_KEY_SIZE],
                    uint32_t counter, const uint8_t nonce[CHACHA20_NONCE_SIZE]);

/* chacha20_init: start a keystream at block `counter`. */
void chacha20_init(struct chacha20_ctx *ctx, const uint8_t key[CHACHA20_KEY_SIZE],
                   const uint8_t nonce[CHACHA20_NONCE_SIZE], uint32_t counter);

/*
 * chacha20_xor: dst = src XOR the next len keystream bytes (RFC 8439 2.4); dst == src is
 * allowed, other overlap is not. Returns CRYPTO_OK, or CRYPTO_E_TOOLONG (nothing written) if
 * the 32-bit block counter would wrap.
 */
int chacha20_xor(struct chacha20_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len);

/* chacha20_wipe: erase the key material held in a context. */
void chacha20_wipe(struct chacha20_ctx *ctx);

/* chacha20_xor_once: one-shot chacha20_init + chacha20_xor + chacha20_wipe. */
int chacha20_xor_once(uint8_t *dst, const uint8_t *src, size_t len,
                      const uint8_t key[CHACHA20_KEY_SIZE],
                      const uint8_t nonce[CHACHA20_NONCE_SIZE], uint32_t counter);

#endif
