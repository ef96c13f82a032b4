/*
 * Poly1305 one-time authenticator, RFC 8439 section 2.5. A key (r, s) must authenticate only
 * one message: in Tern it always comes from ChaCha20 block 0 of a fresh nonce (aead.c).
 * Radix 2^64 (two 64-bit limbs plus a few top bits) with 64x64->128-bit multiplies (no 128-bit
 * division), constant time.
 */
#ifndef TERN_POLY1305_H
#define TERN_POLY1305_H

#include "kernel/compiler.h"

#define POLY1305_KEY_SIZE   32
#define POLY1305_TAG_SIZE   16
#define POLY1305_BLOCK_SIZE 16

struct poly1305_ctx {
	uint64_t r[2];                    /* clamped r, low and high 64 bits */
	uint64_t s1;                      /* r[1] + r[1] / 4 = 5/4 r[1]: folds 2^128 * r[1] mod p */
	uint64_t h[3];                    /* accumulator h0 + h1 2^64 + h2 2^128, partly reduced */
	uint64_t pad[2];                  /* s half of the key, added at the end */
	uint8_t buf[POLY1305_BLOCK_SIZE]; /* pending bytes of an incomplete block */
	size_t buflen;
};

/* poly1305_init: start a MAC with a 32-byte one-time key (r is clamped here). */
void poly1305_init(struct poly1305_ctx *ctx, const uint8_t key[POLY1305_KEY_SIZE]);

/* poly1305_update: absorb len bytes; any split of a message gives the same tag. */
void poly1305_update(struct poly1305_ctx *ctx, const void *msg, size_t len);

/* poly1305_final: write the 16-byte tag and wipe the context. */
void poly1305_final(struct poly1305_ctx *ctx, uint8_t tag[POLY1305_TAG_SIZE]);

/* poly1305_auth: one-shot tag of msg under key. */
void poly1305_auth(uint8_t tag[POLY1305_TAG_SIZE], const void *msg, size_t len,
                   const uint8_t key[POLY1305_KEY_SIZE]);

/* poly1305_verify: constant-time tag comparison; true if equal. */
bool poly1305_verify(const uint8_t a[POLY1305_TAG_SIZE], const uint8_t b[POLY1305_TAG_SIZE]);

#endif
