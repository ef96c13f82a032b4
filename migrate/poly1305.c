/*
 * Poly1305 (RFC 8439 2.5): h = (h + block) * r mod 2^130 - 5 over 16-byte blocks, tag =
 * (h + s) mod 2^128. Radix 2^64: h = h0 + h1 2^64 + h2 2^128 with h2 a few bits, r = r0 +
 * r1 2^64. Clamping leaves r1 a multiple of 4, so h1 r1 2^128 = h1 (r1 / 4) 2^130 = h1 * s1
 * mod p with s1 = 5 r1 / 4: four 64x64->128 multiplies per block. All carries are computed
 * with arithmetic, never branches.
 */
#include "migrate/poly1305.h"
#include "migrate/crypto_util.h"

typedef unsigned __int128 u128;

/* carry_of: 1 if the addition sum = a + b (mod 2^64) wrapped, without a branch. */
static inline uint64_t carry_of(uint64_t sum, uint64_t b)
{
	return (sum ^ ((sum ^ b) | ((sum - b) ^ b))) >> 63;
}

/* poly1305_init: start a MAC with a 32-byte one-time key (r is clamped here). */
void poly1305_init(struct poly1305_ctx *ctx, const uint8_t key[POLY1305_KEY_SIZE])
{
	/* r &= 0x0ffffffc0ffffffc0ffffffc0fffffff (RFC 8439 2.5) */
	ctx->r[0] = load64_le(key) & 0x0ffffffc0fffffffull;
	ctx->r[1] = load64_le(key + 8) & 0x0ffffffc0ffffffcull;
	ctx->s1 = ctx->r[1] + (ctx->r[1] >> 2);
	ctx->h[0] = ctx->h[1] = ctx->h[2] = 0;
	ctx->pad[0] = load64_le(key + 16);
	ctx->pad[1] = load64_le(key + 24);
	ctx->buflen = 0;
}

/* poly1305_blocks: absorb n 16-byte blocks; hibit is 1 (2^128) for whole blocks, 0 for the tail. */
static void poly1305_blocks(struct poly1305_ctx *ctx, const uint8_t *m, size_t n, uint64_t hibit)
{
	const uint64_t r0 = ctx->r[0], r1 = ctx->r[1], s1 = ctx->s1;
	uint64_t h0 = ctx->h[0], h1 = ctx->h[1], h2 = ctx->h[2], c;
	u128 d0, d1;

	for (; n; n--, m += POLY1305_BLOCK_SIZE) {
		/* h += m | hibit << 128 */
		d0 = (u128)h0 + load64_le(m);
		h0 = (uint64_t)d0;
		d1 = (u128)h1 + (uint64_t)(d0 >> 64) + load64_le(m + 8);
		h1 = (uint64_t)d1;
		h2 += (uint64_t)(d1 >> 64) + hibit;

		/* h *= r: 2^128 r1 folds to s1 and 2^192 to s1 2^64; h2 <= 6 keeps h2 s1 < 2^64 */
		d0 = (u128)h0 * r0 + (u128)h1 * s1;
		d1 = (u128)h0 * r1 + (u128)h1 * r0 + h2 * s1;
		h2 = h2 * r0;

		/* h = d0 + d1 2^64 + h2 2^128, then fold the bits above 2^130 back as * 5 */
		h0 = (uint64_t)d0;
		d1 += (uint64_t)(d0 >> 64);
		h1 = (uint64_t)d1;
		h2 += (uint64_t)(d1 >> 64);
		c = (h2 >> 2) + (h2 & ~(uint64_t)3); /* (h2 >> 2) * 5 */
		h2 &= 3;
		h0 += c;
		c = carry_of(h0, c);
		h1 += c;
		h2 += carry_of(h1, c);
	}
	ctx->h[0] = h0;
	ctx->h[1] = h1;
	ctx->h[2] = h2;
}

/* poly1305_update: absorb len bytes; any split of a message gives the same tag. */
void poly1305_update(struct poly1305_ctx *ctx, const void *msg, size_t len)
{
	const uint8_t *m = msg;

	if (!len)
		return;
	if (ctx->buflen) {
		size_t want = MIN(len, POLY1305_BLOCK_SIZE - ctx->buflen);
		memcpy(ctx->buf + ctx->buflen, m, want);
		ctx->buflen += want;
		m += want, len -= want;
		if (ctx->buflen < POLY1305_BLOCK_SIZE)
			return;
		poly1305_blocks(ctx, ctx->buf, 1, 1);
		ctx->buflen = 0;
	}
	size_t whole = len & ~(size_t)(POLY1305_BLOCK_SIZE - 1);
	if (whole) {
		poly1305_blocks(ctx, m, whole / POLY1305_BLOCK_SIZE, 1);
		m += whole, len -= whole;
	}
	if (len) {
		memcpy(ctx->buf, m, len);
		ctx->buflen = len;
	}
}

/* poly1305_final: write the 16-byte tag and wipe the context. */
void poly1305_final(struct poly1305_ctx *ctx, uint8_t tag[POLY1305_TAG_SIZE])
{
	uint64_t h0, h1, h2, g0, g1, g2, mask;
	u128 t;

	/* a short last block: append 0x01, pad with zeros, no 2^128 bit (RFC 8439 2.5) */
	if (ctx->buflen) {
		ctx->buf[ctx->buflen] = 1;
		for (size_t i = ctx->buflen + 1; i < POLY1305_BLOCK_SIZE; i++)
			ctx->buf[i] = 0;
		poly1305_blocks(ctx, ctx->buf, 1, 0);
	}

	/*
	 * h2 <= 4 after the partial reduction (h2 = 4 only with tiny h1, h0), so h < 2p and h mod p
	 * is h or h - p. g = h + 5
	 * reaches 2^130 exactly when h >= p, and then g mod 2^128 = (h - p) mod 2^128.
	 */
	h0 = ctx->h[0], h1 = ctx->h[1], h2 = ctx->h[2];
	t = (u128)h0 + 5;
	g0 = (uint64_t)t;
	t = (u128)h1 + (uint64_t)(t >> 64);
	g1 = (uint64_t)t;
	g2 = h2 + (uint64_t)(t >> 64);
	mask = 0 - (g2 >> 2); /* all ones if h >= p (constant-time select) */
	h0 = (h0 & ~mask) | (g0 & mask);
	h1 = (h1 & ~mask) | (g1 & mask);

	/* tag = (h + s) mod 2^128 */
	t = (u128)h0 + ctx->pad[0];
	h0 = (uint64_t)t;
	h1 = h1 + ctx->pad[1] + (uint64_t)(t >> 64);
	store64_le(tag, h0);
	store64_le(tag + 8, h1);

	crypto_wipe(ctx, sizeof(*ctx));
}

/* poly1305_auth: one-shot tag of msg under key. */
void poly1305_auth(uint8_t tag[POLY1305_TAG_SIZE], const void *msg, size_t len,
                   const uint8_t key[POLY1305_KEY_SIZE])
{
	struct poly1305_ctx ctx;
	poly1305_init(&ctx, key);
	poly1305_update(&ctx, msg, len);
	poly1305_final(&ctx, tag);
}

/* poly1305_verify: constant-time tag comparison; true if equal. */
bool poly1305_verify(const uint8_t a[POLY1305_TAG_SIZE], const uint8_t b[POLY1305_TAG_SIZE])
{
	return crypto_ct_equal(a, b, POLY1305_TAG_SIZE);
}
