/* BLAKE2s (RFC 7693), portable 32-bit integer code (pure). */
#include "migrate/blake2s.h"
#include "migrate/crypto_util.h"

/* Initialisation vector, the SHA-256 IV (RFC 7693 2.6). */
static const uint32_t blake2s_iv[8] = {
    0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19,
};

/* Message word schedule SIGMA (RFC 7693 2.7); BLAKE2s uses rows 0..9. */
static const uint8_t blake2s_sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

/* Mixing function G with BLAKE2s rotations R1..R4 = 16, 12, 8, 7 (RFC 7693 3.1). */
#define G(a, b, c, d, x, y)                                                                        \
	do {                                                                                       \
		a = a + b + (x);                                                                   \
		d = rotr32(d ^ a, 16);                                                             \
		c = c + d;                                                                         \
		b = rotr32(b ^ c, 12);                                                             \
		a = a + b + (y);                                                                   \
		d = rotr32(d ^ a, 8);                                                              \
		c = c + d;                                                                         \
		b = rotr32(b ^ c, 7);                                                              \
	} while (0)

/* blake2s_compress: compression function F over one 64-byte block (RFC 7693 3.2). */
static void blake2s_compress(struct blake2s_ctx *ctx, const uint8_t block[64], bool last)
{
	uint32_t m[16], v[16];

	for (int i = 0; i < 16; i++)
		m[i] = load32_le(block + 4 * i);
	for (int i = 0; i < 8; i++) {
		v[i] = ctx->h[i];
		v[i + 8] = blake2s_iv[i];
	}
	v[12] ^= ctx->t[0];
	v[13] ^= ctx->t[1];
	if (last)
		v[14] = ~v[14];

	for (int r = 0; r < 10; r++) {
		const uint8_t *s = blake2s_sigma[r];
		G(v[0], v[4], v[8], v[12], m[s[0]], m[s[1]]);
		G(v[1], v[5], v[9], v[13], m[s[2]], m[s[3]]);
		G(v[2], v[6], v[10], v[14], m[s[4]], m[s[5]]);
		G(v[3], v[7], v[11], v[15], m[s[6]], m[s[7]]);
		G(v[0], v[5], v[10], v[15], m[s[8]], m[s[9]]);
		G(v[1], v[6], v[11], v[12], m[s[10]], m[s[11]]);
		G(v[2], v[7], v[8], v[13], m[s[12]], m[s[13]]);
		G(v[3], v[4], v[9], v[14], m[s[14]], m[s[15]]);
	}
	for (int i = 0; i < 8; i++)
		ctx->h[i] ^= v[i] ^ v[i + 8];

	crypto_wipe(m, sizeof(m));
	crypto_wipe(v, sizeof(v));
}

/* blake2s_count: add n bytes to the 64-bit message counter t. */
static inline void blake2s_count(struct blake2s_ctx *ctx, uint32_t n)
{
	ctx->t[0] += n;
	if (ctx->t[0] < n)
		ctx->t[1]++;
}

/*
 * blake2s_init: parameter block word 0 = 0x0101kknn (depth 1, fanout 1, key length kk, digest
 * length nn), other words zero (RFC 7693 2.5); a key is padded to one block and absorbed first.
 */
int blake2s_init(struct blake2s_ctx *ctx, size_t outlen, const void *key, size_t keylen)
{
	if (outlen < 1 || outlen > BLAKE2S_OUT_MAX || keylen > BLAKE2S_KEY_MAX || (keylen && !key))
		return CRYPTO_E_INVAL;
	for (int i = 0; i < 8; i++)
		ctx->h[i] = blake2s_iv[i];
	ctx->h[0] ^= 0x01010000u ^ ((uint32_t)keylen << 8) ^ (uint32_t)outlen;
	ctx->t[0] = ctx->t[1] = 0;
	ctx->buflen = 0;
	ctx->outlen = (uint32_t)outlen;
	if (keylen) {
		memset(ctx->buf, 0, sizeof(ctx->buf));
		memcpy(ctx->buf, key, keylen);
		ctx->buflen = BLAKE2S_BLOCK_SIZE;
	}
	return CRYPTO_OK;
}

/* blake2s_update: absorb len bytes; a full buffer is compressed only once more input comes. */
void blake2s_update(struct blake2s_ctx *ctx, const void *in, size_t len)
{
	const uint8_t *p = in;

	if (!len)
		return;
	/* top up the buffer; compress it only if more input follows */
	if (ctx->buflen) {
		size_t want = MIN(len, BLAKE2S_BLOCK_SIZE - ctx->buflen);
		memcpy(ctx->buf + ctx->buflen, p, want);
		ctx->buflen += (uint32_t)want;
		p += want, len -= want;
		if (!len)
			return;
		blake2s_count(ctx, BLAKE2S_BLOCK_SIZE);
		blake2s_compress(ctx, ctx->buf, false);
		ctx->buflen = 0;
	}
	/* whole blocks straight from the input, keeping the last (possibly final) one back */
	while (len > BLAKE2S_BLOCK_SIZE) {
		blake2s_count(ctx, BLAKE2S_BLOCK_SIZE);
		blake2s_compress(ctx, p, false);
		p += BLAKE2S_BLOCK_SIZE, len -= BLAKE2S_BLOCK_SIZE;
	}
	memcpy(ctx->buf, p, len);
	ctx->buflen = (uint32_t)len;
}

/* blake2s_final: pad the last block with zeros, compress it as final, output outlen bytes. */
void blake2s_final(struct blake2s_ctx *ctx, uint8_t *out)
{
	uint8_t digest[32];

	blake2s_count(ctx, ctx->buflen);
	memset(ctx->buf + ctx->buflen, 0, BLAKE2S_BLOCK_SIZE - ctx->buflen);
	blake2s_compress(ctx, ctx->buf, true);
	for (int i = 0; i < 8; i++)
		store32_le(digest + 4 * i, ctx->h[i]);
	memcpy(out, digest, ctx->outlen);
	crypto_wipe(digest, sizeof(digest));
	crypto_wipe(ctx, sizeof(*ctx));
}

/* blake2s: one-shot (keyed if keylen > 0) hash; returns CRYPTO_OK or CRYPTO_E_INVAL. */
int blake2s(uint8_t *out, size_t outlen, const void *key, size_t keylen, const void *in,
            size_t inlen)
{
	struct blake2s_ctx ctx;
	if (!out || (inlen && !in))
		return CRYPTO_E_INVAL;
	int rc = blake2s_init(&ctx, outlen, key, keylen);
	if (rc != CRYPTO_OK)
		return rc;
	blake2s_update(&ctx, in, inlen);
	blake2s_final(&ctx, out);
	return CRYPTO_OK;
}

/* blake2s_256: unkeyed 32-byte digest, e.g. of a guest page. */
void blake2s_256(uint8_t out[BLAKE2S_256_SIZE], const void *in, size_t len)
{
	blake2s(out, BLAKE2S_256_SIZE, NULL, 0, in, len);
}
