/*
 * Poly1305 (RFC 8439 2.5): h = (h + block) * r mod 2^130 - 5 over 16-byte blocks, tag =
 * (h + s) mod 2^128. The accumulator and r use three limbs of 44, 44 and 42 bits (the
 * "donna-64" layout), so each product fits a 64x64->128 multiply and 2^130 folds back as 5.
 */
#include "migrate/poly1305.h"
#include "migrate/crypto_util.h"

typedef unsigned __int128 u128;

#define M44	  0xfffffffffffull /* low 44 bits */
#define M42	  0x3ffffffffffull /* low 42 bits */
#define HIBIT_128 (1ull << 40)	   /* 2^128 in the top limb (bit 88 + 40) */

/* poly1305_init: start a MAC with a 32-byte one-time key (r is clamped here). */
void poly1305_init(struct poly1305_ctx *ctx, const uint8_t key[POLY1305_KEY_SIZE])
{
	uint64_t t0 = load64_le(key), t1 = load64_le(key + 8);

	/* r &= 0x0ffffffc0ffffffc0ffffffc0fffffff (RFC 8439 2.5), split into limbs */
	ctx->r[0] = t0 & 0xffc0fffffffull;
	ctx->r[1] = ((t0 >> 44) | (t1 << 20)) & 0xfffffc0ffffull;
	ctx->r[2] = (t1 >> 24) & 0x00ffffffc0full;
	/* 2^130 = 5 mod p; a limb product landing at 2^132 becomes 4 * 5 = 20 at 2^0/2^44 */
	ctx->s[0] = ctx->r[1] * 20;
	ctx->s[1] = ctx->r[2] * 20;
	ctx->h[0] = ctx->h[1] = ctx->h[2] = 0;
	ctx->pad[0] = load64_le(key + 16);
	ctx->pad[1] = load64_le(key + 24);
	ctx->buflen = 0;
}

/* poly1305_blocks: absorb n 16-byte blocks; hibit is 2^128 for whole blocks, 0 for the tail. */
static void poly1305_blocks(struct poly1305_ctx *ctx, const uint8_t *m, size_t n, uint64_t hibit)
{
	const uint64_t r0 = ctx->r[0], r1 = ctx->r[1], r2 = ctx->r[2];
	const uint64_t s1 = ctx->s[0], s2 = ctx->s[1];
	uint64_t h0 = ctx->h[0], h1 = ctx->h[1], h2 = ctx->h[2];

	for (; n; n--, m += POLY1305_BLOCK_SIZE) {
		uint64_t t0 = load64_le(m), t1 = load64_le(m + 8), c;

		/* h += m (with the 2^128 "one more byte" bit) */
		h0 += t0 & M44;
		h1 += ((t0 >> 44) | (t1 << 20)) & M44;
		h2 += ((t1 >> 24) & M42) | hibit;

		/* h *= r, folding everything above 2^130 back with * 5 */
		u128 d0 = (u128)h0 * r0 + (u128)h1 * s2 + (u128)h2 * s1;
		u128 d1 = (u128)h0 * r1 + (u128)h1 * r0 + (u128)h2 * s2;
		u128 d2 = (u128)h0 * r2 + (u128)h1 * r1 + (u128)h2 * r0;

		/* partial reduction: carry the limbs back to 44/44/42 bits (+ small excess) */
		c = (uint64_t)(d0 >> 44);
		h0 = (uint64_t)d0 & M44;
		d1 += c;
		c = (uint64_t)(d1 >> 44);
		h1 = (uint64_t)d1 & M44;
		d2 += c;
		c = (uint64_t)(d2 >> 42);
		h2 = (uint64_t)d2 & M42;
		h0 += c * 5;
		c = h0 >> 44;
		h0 &= M44;
		h1 += c;
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
		poly1305_blocks(ctx, ctx->buf, 1, HIBIT_128);
		ctx->buflen = 0;
	}
	size_t whole = len & ~(size_t)(POLY1305_BLOCK_SIZE - 1);
	if (whole) {
		poly1305_blocks(ctx, m, whole / POLY1305_BLOCK_SIZE, HIBIT_128);
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
	uint64_t h0, h1, h2, g0, g1, g2, c, t0, t1;

	/* a short last block: append 0x01, pad with zeros, no 2^128 bit (RFC 8439 2.5) */
	if (ctx->buflen) {
		ctx->buf[ctx->buflen] = 1;
		for (size_t i = ctx->buflen + 1; i < POLY1305_BLOCK_SIZE; i++)
			ctx->buf[i] = 0;
		poly1305_blocks(ctx, ctx->buf, 1, 0);
	}

	/* fully carry h */
	h0 = ctx->h[0], h1 = ctx->h[1], h2 = ctx->h[2];
	c = h1 >> 44, h1 &= M44;
	h2 += c, c = h2 >> 42, h2 &= M42;
	h0 += c * 5, c = h0 >> 44, h0 &= M44;
	h1 += c, c = h1 >> 44, h1 &= M44;
	h2 += c, c = h2 >> 42, h2 &= M42;
	h0 += c * 5, c = h0 >> 44, h0 &= M44;
	h1 += c;

	/* g = h + 5 - 2^130 = h - p; keep it if it did not go negative (constant-time select) */
	g0 = h0 + 5, c = g0 >> 44, g0 &= M44;
	g1 = h1 + c, c = g1 >> 44, g1 &= M44;
	g2 = h2 + c - (1ull << 42);
	c = (g2 >> 63) - 1; /* all ones if h >= p */
	g0 &= c, g1 &= c, g2 &= c;
	c = ~c;
	h0 = (h0 & c) | g0;
	h1 = (h1 & c) | g1;
	h2 = (h2 & c) | g2;

	/* tag = (h + s) mod 2^128 */
	t0 = ctx->pad[0], t1 = ctx->pad[1];
	h0 += t0 & M44, c = h0 >> 44, h0 &= M44;
	h1 += (((t0 >> 44) | (t1 << 20)) & M44) + c, c = h1 >> 44, h1 &= M44;
	h2 += ((t1 >> 24) & M42) + c, h2 &= M42;
	store64_le(tag, h0 | (h1 << 44));
	store64_le(tag + 8, (h1 >> 20) | (h2 << 24));

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
