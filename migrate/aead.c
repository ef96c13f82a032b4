/*
 * AEAD_CHACHA20_POLY1305 (RFC 8439 2.8): Poly1305 key = ChaCha20 block 0, ciphertext =
 * plaintext XOR keystream from block 1, tag = Poly1305(aad | pad16 | ct | pad16 |
 * le64(aad_len) | le64(ct_len)).
 */
#include "migrate/aead.h"
#include "migrate/crypto_util.h"

enum { PHASE_AAD = 1, PHASE_TEXT, PHASE_DONE };

/* Sealing works in chunks this size so the ciphertext is still in L1 when Poly1305 reads it. */
#define AEAD_CHUNK 4096

static const uint8_t zero_pad[16];

/* aead_start: key Poly1305 from block 0 and position the keystream at block 1. */
static void aead_start(struct chacha20_ctx *chacha, struct poly1305_ctx *poly,
                       const uint8_t key[AEAD_KEY_SIZE], const uint8_t nonce[AEAD_NONCE_SIZE])
{
	uint8_t block0[CHACHA20_BLOCK_SIZE];
	chacha20_block(block0, key, 0, nonce);
	poly1305_init(poly, block0); /* first 32 bytes: r | s (RFC 8439 2.6) */
	crypto_wipe(block0, sizeof(block0));
	chacha20_init(chacha, key, nonce, 1);
}

/* pad16: zero bytes bringing a section of length len to a multiple of 16. */
static void pad16(struct poly1305_ctx *poly, uint64_t len)
{
	if (len % 16)
		poly1305_update(poly, zero_pad, 16 - (size_t)(len % 16));
}

/* aead_tag: finish the MAC input with the padded text and both lengths, write the tag. */
static void aead_tag(struct poly1305_ctx *poly, uint64_t aad_len, uint64_t text_len,
                     uint8_t tag[AEAD_TAG_SIZE])
{
	uint8_t lens[16];
	pad16(poly, text_len);
	store64_le(lens, aad_len);
	store64_le(lens + 8, text_len);
	poly1305_update(poly, lens, sizeof(lens));
	poly1305_final(poly, tag);
}

/* aead_init: start sealing one message under key and nonce. */
void aead_init(struct aead_ctx *ctx, const uint8_t key[AEAD_KEY_SIZE],
               const uint8_t nonce[AEAD_NONCE_SIZE])
{
	aead_start(&ctx->chacha, &ctx->poly, key, nonce);
	ctx->aad_len = ctx->text_len = 0;
	ctx->phase = PHASE_AAD;
}

/* aead_aad: add associated data (any number of calls, all before the first text). */
int aead_aad(struct aead_ctx *ctx, const void *aad, size_t len)
{
	if (ctx->phase != PHASE_AAD || (len && !aad))
		return CRYPTO_E_INVAL;
	if (add_overflows(ctx->aad_len, len))
		return CRYPTO_E_TOOLONG;
	poly1305_update(&ctx->poly, aad, len);
	ctx->aad_len += len;
	return CRYPTO_OK;
}

/* aead_seal_update: encrypt the next len bytes (ct == pt allowed). */
int aead_seal_update(struct aead_ctx *ctx, uint8_t *ct, const uint8_t *pt, size_t len)
{
	if (ctx->phase == PHASE_AAD) {
		pad16(&ctx->poly, ctx->aad_len);
		ctx->phase = PHASE_TEXT;
	}
	if (ctx->phase != PHASE_TEXT || (len && (!ct || !pt)))
		return CRYPTO_E_INVAL;
	if (len > AEAD_MAX_TEXT - ctx->text_len)
		return CRYPTO_E_TOOLONG;
	while (len) {
		size_t n = MIN(len, (size_t)AEAD_CHUNK);
		int rc = chacha20_xor(&ctx->chacha, ct, pt, n);
		if (rc != CRYPTO_OK) /* unreachable: bounded by AEAD_MAX_TEXT above */
			return rc;
		poly1305_update(&ctx->poly, ct, n);
		ctx->text_len += n;
		ct += n, pt += n, len -= n;
	}
	return CRYPTO_OK;
}

/* aead_seal_final: write the tag and wipe the context. */
int aead_seal_final(struct aead_ctx *ctx, uint8_t tag[AEAD_TAG_SIZE])
{
	if (ctx->phase == PHASE_AAD) {
		pad16(&ctx->poly, ctx->aad_len);
		ctx->phase = PHASE_TEXT;
	}
	if (ctx->phase != PHASE_TEXT || !tag) {
		aead_abort(ctx);
		return CRYPTO_E_INVAL;
	}
	aead_tag(&ctx->poly, ctx->aad_len, ctx->text_len, tag);
	aead_abort(ctx);
	return CRYPTO_OK;
}

/* aead_abort: wipe a context that will not be finished. */
void aead_abort(struct aead_ctx *ctx)
{
	crypto_wipe(ctx, sizeof(*ctx));
	ctx->phase = PHASE_DONE;
}

/* aead_seal: one-shot encrypt pt (len bytes) into ct and compute tag (ct == pt allowed). */
int aead_seal(uint8_t *ct, uint8_t tag[AEAD_TAG_SIZE], const uint8_t *pt, size_t len,
              const void *aad, size_t aad_len, const uint8_t nonce[AEAD_NONCE_SIZE],
              const uint8_t key[AEAD_KEY_SIZE])
{
	struct aead_ctx ctx;
	int rc;

	if (!key || !nonce || !tag)
		return CRYPTO_E_INVAL;
	if (len > AEAD_MAX_TEXT)
		return CRYPTO_E_TOOLONG;
	aead_init(&ctx, key, nonce);
	rc = aead_aad(&ctx, aad, aad_len);
	if (rc == CRYPTO_OK)
		rc = aead_seal_update(&ctx, ct, pt, len);
	if (rc == CRYPTO_OK)
		return aead_seal_final(&ctx, tag);
	aead_abort(&ctx);
	return rc;
}

/*
 * aead_open: MAC aad and ct, compare with the received tag in constant time and only then
 * decrypt into pt. Nothing is written to pt unless the tag is right.
 */
int aead_open(uint8_t *pt, const uint8_t *ct, size_t len, const uint8_t tag[AEAD_TAG_SIZE],
              const void *aad, size_t aad_len, const uint8_t nonce[AEAD_NONCE_SIZE],
              const uint8_t key[AEAD_KEY_SIZE])
{
	struct chacha20_ctx chacha;
	struct poly1305_ctx poly;
	uint8_t want[AEAD_TAG_SIZE];
	int rc = CRYPTO_OK;

	if (!key || !nonce || !tag || (len && (!pt || !ct)) || (aad_len && !aad))
		return CRYPTO_E_INVAL;
	if (len > AEAD_MAX_TEXT)
		return CRYPTO_E_TOOLONG;

	aead_start(&chacha, &poly, key, nonce);
	poly1305_update(&poly, aad, aad_len);
	pad16(&poly, aad_len);
	poly1305_update(&poly, ct, len);
	aead_tag(&poly, aad_len, len, want);

	if (!crypto_ct_equal(want, tag, AEAD_TAG_SIZE))
		rc = CRYPTO_E_AUTH;
	else
		rc = chacha20_xor(&chacha, pt, ct, len);

	crypto_wipe(want, sizeof(want));
	chacha20_wipe(&chacha);
	return rc;
}
