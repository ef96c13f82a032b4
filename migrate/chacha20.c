/* ChaCha20 (RFC 8439 2.1-2.4), portable 32-bit integer code (pure). */
#include "migrate/chacha20.h"
#include "migrate/crypto_util.h"

/* "expand 32-byte k" as four little-endian words (RFC 8439 2.3). */
#define CHACHA_C0 0x61707865u
#define CHACHA_C1 0x3320646eu
#define CHACHA_C2 0x79622d32u
#define CHACHA_C3 0x6b206574u

/* Quarter round on four local words (RFC 8439 2.1). */
#define QR(a, b, c, d)                                                                             \
	do {                                                                                       \
		a += b;                                                                            \
		d = rotl32(d ^ a, 16);                                                             \
		c += d;                                                                            \
		b = rotl32(b ^ c, 12);                                                             \
		a += b;                                                                            \
		d = rotl32(d ^ a, 8);                                                              \
		c += d;                                                                            \
		b = rotl32(b ^ c, 7);                                                              \
	} while (0)

/* chacha20_qround: the quarter round on state words a, b, c, d (RFC 8439 2.1/2.2; for tests). */
void chacha20_qround(uint32_t s[16], unsigned int a, unsigned int b, unsigned int c, unsigned int d)
{
	QR(s[a & 15], s[b & 15], s[c & 15], s[d & 15]);
}

/*
 * chacha20_core: out = 20 rounds of in, plus in (RFC 8439 2.3). The state lives in 16 locals
 * so the compiler can keep most of it in registers.
 */
static void chacha20_core(uint32_t out[16], const uint32_t in[16])
{
	uint32_t x0 = in[0], x1 = in[1], x2 = in[2], x3 = in[3];
	uint32_t x4 = in[4], x5 = in[5], x6 = in[6], x7 = in[7];
	uint32_t x8 = in[8], x9 = in[9], x10 = in[10], x11 = in[11];
	uint32_t x12 = in[12], x13 = in[13], x14 = in[14], x15 = in[15];

	for (int i = 0; i < 10; i++) {
		QR(x0, x4, x8, x12); /* column round */
		QR(x1, x5, x9, x13);
		QR(x2, x6, x10, x14);
		QR(x3, x7, x11, x15);
		QR(x0, x5, x10, x15); /* diagonal round */
		QR(x1, x6, x11, x12);
		QR(x2, x7, x8, x13);
		QR(x3, x4, x9, x14);
	}
	out[0] = x0 + in[0];
	out[1] = x1 + in[1];
	out[2] = x2 + in[2];
	out[3] = x3 + in[3];
	out[4] = x4 + in[4];
	out[5] = x5 + in[5];
	out[6] = x6 + in[6];
	out[7] = x7 + in[7];
	out[8] = x8 + in[8];
	out[9] = x9 + in[9];
	out[10] = x10 + in[10];
	out[11] = x11 + in[11];
	out[12] = x12 + in[12];
	out[13] = x13 + in[13];
	out[14] = x14 + in[14];
	out[15] = x15 + in[15];
}

/* chacha20_setup: constants | key | counter | nonce (RFC 8439 2.3). */
static void chacha20_setup(uint32_t s[16], const uint8_t key[32], uint32_t counter,
                           const uint8_t nonce[12])
{
	s[0] = CHACHA_C0;
	s[1] = CHACHA_C1;
	s[2] = CHACHA_C2;
	s[3] = CHACHA_C3;
	for (int i = 0; i < 8; i++)
		s[4 + i] = load32_le(key + 4 * i);
	s[12] = counter;
	s[13] = load32_le(nonce);
	s[14] = load32_le(nonce + 4);
	s[15] = load32_le(nonce + 8);
}

/* chacha20_serialize: keystream bytes of a finished block (little-endian words). */
static void chacha20_serialize(uint8_t out[64], const uint32_t x[16])
{
	for (int i = 0; i < 16; i++)
		store32_le(out + 4 * i, x[i]);
}

/* chacha20_block: one 64-byte keystream block for key, counter and nonce (RFC 8439 2.3). */
void chacha20_block(uint8_t out[CHACHA20_BLOCK_SIZE], const uint8_t key[CHACHA20_KEY_SIZE],
                    uint32_t counter, const uint8_t nonce[CHACHA20_NONCE_SIZE])
{
	uint32_t s[16], x[16];
	chacha20_setup(s, key, counter, nonce);
	chacha20_core(x, s);
	chacha20_serialize(out, x);
	crypto_wipe(s, sizeof(s));
	crypto_wipe(x, sizeof(x));
}

/* chacha20_init: start a keystream at block `counter`. */
void chacha20_init(struct chacha20_ctx *ctx, const uint8_t key[CHACHA20_KEY_SIZE],
                   const uint8_t nonce[CHACHA20_NONCE_SIZE], uint32_t counter)
{
	chacha20_setup(ctx->state, key, counter, nonce);
	ctx->ks_used = CHACHA20_BLOCK_SIZE;
	ctx->blocks_left = ((uint64_t)1 << 32) - counter;
}

/* chacha20_next: generate the next keystream block into x and advance the counter. */
static inline void chacha20_next(struct chacha20_ctx *ctx, uint32_t x[16])
{
	chacha20_core(x, ctx->state);
	ctx->state[12]++;
	ctx->blocks_left--;
}

/* chacha20_xor_blocks: XOR n whole 64-byte blocks of src with fresh keystream into dst. */
static void chacha20_xor_blocks(struct chacha20_ctx *ctx, uint8_t *dst, const uint8_t *src,
                                size_t n)
{
	uint32_t x[16];
	for (; n; n--, src += 64, dst += 64) {
		chacha20_next(ctx, x);
		for (int i = 0; i < 16; i++)
			store32_le(dst + 4 * i, load32_le(src + 4 * i) ^ x[i]);
	}
	crypto_wipe(x, sizeof(x));
}

/*
 * chacha20_xor: dst = src XOR the next len keystream bytes; CRYPTO_E_TOOLONG (nothing
 * written) if the 32-bit block counter would wrap (RFC 8439 2.3: 2^32 blocks per nonce).
 */
int chacha20_xor(struct chacha20_ctx *ctx, uint8_t *dst, const uint8_t *src, size_t len)
{
	size_t avail = CHACHA20_BLOCK_SIZE - ctx->ks_used;
	if (!len)
		return CRYPTO_OK;
	if (len > avail) {
		uint64_t rest = len - avail;
		uint64_t need = rest / CHACHA20_BLOCK_SIZE + (rest % CHACHA20_BLOCK_SIZE != 0);
		if (need > ctx->blocks_left)
			return CRYPTO_E_TOOLONG;
	}

	/* 1. leftover keystream from the previous call */
	size_t n = MIN(len, avail);
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] ^ ctx->ks[ctx->ks_used + i];
	ctx->ks_used += (uint32_t)n;
	dst += n, src += n, len -= n;

	/* 2. whole blocks straight from the core */
	size_t blocks = len / CHACHA20_BLOCK_SIZE;
	if (blocks) {
		chacha20_xor_blocks(ctx, dst, src, blocks);
		dst += blocks * CHACHA20_BLOCK_SIZE;
		src += blocks * CHACHA20_BLOCK_SIZE;
		len -= blocks * CHACHA20_BLOCK_SIZE;
	}

	/* 3. a partial block: keep the unused keystream for the next call */
	if (len) {
		uint32_t x[16];
		chacha20_next(ctx, x);
		chacha20_serialize(ctx->ks, x);
		crypto_wipe(x, sizeof(x));
		for (size_t i = 0; i < len; i++)
			dst[i] = src[i] ^ ctx->ks[i];
		ctx->ks_used = (uint32_t)len;
	}
	return CRYPTO_OK;
}

/* chacha20_wipe: erase the key material held in a context. */
void chacha20_wipe(struct chacha20_ctx *ctx)
{
	crypto_wipe(ctx, sizeof(*ctx));
}

/* chacha20_xor_once: one-shot chacha20_init + chacha20_xor + chacha20_wipe. */
int chacha20_xor_once(uint8_t *dst, const uint8_t *src, size_t len,
                      const uint8_t key[CHACHA20_KEY_SIZE],
                      const uint8_t nonce[CHACHA20_NONCE_SIZE], uint32_t counter)
{
	struct chacha20_ctx ctx;
	chacha20_init(&ctx, key, nonce, counter);
	int rc = chacha20_xor(&ctx, dst, src, len);
	chacha20_wipe(&ctx);
	return rc;
}
