/*
 * AEAD_CHACHA20_POLY1305, RFC 8439 section 2.8 (pure; detached 16-byte tags).
 *
 *   one-shot:     aead_seal() / aead_open()
 *   incremental:  aead_init(); aead_aad()*; aead_seal_update()*; aead_seal_final()
 *                 (scatter/gather sealing of a record: header, then page data, no copy)
 *
 * aead_open() checks the tag in constant time over AAD and ciphertext BEFORE it decrypts: on
 * any failure the output buffer is not written at all (with pt == ct the ciphertext stays).
 * A (key, nonce) pair must never seal two messages: keys.h builds nonces from counters.
 */
#ifndef TERN_AEAD_H
#define TERN_AEAD_H

#include "kernel/compiler.h"
#include "migrate/chacha20.h"
#include "migrate/poly1305.h"

#define AEAD_KEY_SIZE   32
#define AEAD_NONCE_SIZE 12
#define AEAD_TAG_SIZE   16
/* P_MAX of RFC 8439 2.8: 2^32 - 1 blocks of 64 bytes (block 0 makes the Poly1305 key). */
#define AEAD_MAX_TEXT (((1ull << 32) - 1) * 64)

struct aead_ctx {
	struct chacha20_ctx chacha; /* keystream from block 1 */
	struct poly1305_ctx poly;   /* keyed with block 0 */
	uint64_t aad_len, text_len;
	uint32_t phase; /* private: AAD, then text, then done */
};

/* aead_init: start sealing one message under key and nonce. */
void aead_init(struct aead_ctx *ctx, const uint8_t key[AEAD_KEY_SIZE],
               const uint8_t nonce[AEAD_NONCE_SIZE]);

/* aead_aad: add associated data (any number of calls, all before the first text). */
int aead_aad(struct aead_ctx *ctx, const void *aad, size_t len);

/* aead_seal_update: encrypt the next len bytes (ct == pt allowed). */
int aead_seal_update(struct aead_ctx *ctx, uint8_t *ct, const uint8_t *pt, size_t len);

/* aead_seal_final: write the tag and wipe the context. */
int aead_seal_final(struct aead_ctx *ctx, uint8_t tag[AEAD_TAG_SIZE]);

/* aead_abort: wipe a context that will not be finished. */
void aead_abort(struct aead_ctx *ctx);

/* aead_seal: one-shot encrypt pt (len bytes) into ct and compute tag (ct == pt allowed). */
int aead_seal(uint8_t *ct, uint8_t tag[AEAD_TAG_SIZE], const uint8_t *pt, size_t len,
              const void *aad, size_t aad_len, const uint8_t nonce[AEAD_NONCE_SIZE],
              const uint8_t key[AEAD_KEY_SIZE]);

/*
 * aead_open: verify tag over aad and ct (constant time), then decrypt ct into pt (pt == ct
 * allowed). Returns CRYPTO_OK, CRYPTO_E_AUTH (pt untouched), CRYPTO_E_TOOLONG or
 * CRYPTO_E_INVAL.
 */
int aead_open(uint8_t *pt, const uint8_t *ct, size_t len, const uint8_t tag[AEAD_TAG_SIZE],
              const void *aad, size_t aad_len, const uint8_t nonce[AEAD_NONCE_SIZE],
              const uint8_t key[AEAD_KEY_SIZE]);

#endif
