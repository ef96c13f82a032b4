/*
 * Unit tests for migrate/aead.c: RFC 8439 2.6.2, 2.8.2, A.4, A.5; libsodium cross-checks in
 * both directions; tamper tests (no plaintext released); API misuse; a seal/open benchmark.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>

#include "migrate/aead.h"
#include "migrate/crypto_util.h"
#include "tests/unit/crypto_test_util.h"

static const char key_80[] = "80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f"
                             "90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f";
static const char key_1c[] = "1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0"
                             "47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 70 75 c0";

/* RFC 8439 2.6.2 and A.4 #1..#3: the Poly1305 key is the first half of ChaCha20 block 0. */
static void test_poly1305_keygen(void **state)
{
	static const struct {
		const char *key, *nonce, *otk;
	} v[] = {
	    {key_80, "00 00 00 00 00 01 02 03 04 05 06 07",
	     "8a d5 a0 8b 90 5f 81 cc 81 50 40 27 4a b2 94 71 a8 33 b6 37 e3 fd 0d a5 08 db b8 "
	     "e2 fd d1 a6 46"},
	    {"0000000000000000000000000000000000000000000000000000000000000000",
	     "000000000000000000000000",
	     "76 b8 e0 ad a0 f1 3d 90 40 5d 6a e5 53 86 bd 28 bd d2 19 b8 a0 8d ed 1a a8 36 ef "
	     "cc 8b 77 0d c7"},
	    {"0000000000000000000000000000000000000000000000000000000000000001",
	     "000000000000000000000002",
	     "ec fa 25 4f 84 5f 64 74 73 d3 cb 14 0d a9 e8 76 06 cb 33 06 6c 44 7b 87 bc 26 66 "
	     "dd e3 fb b7 39"},
	    {key_1c, "000000000000000000000002",
	     "96 5e 3b c6 f9 ec 7e d9 56 08 08 f4 d2 29 f9 4b 13 7f f2 75 ca 9b 3f cb dd 59 de "
	     "aa d2 33 10 ae"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		uint8_t key[32], nonce[12], want[32], block[64];
		assert_int_equal(unhex(key, 32, v[i].key), 32);
		assert_int_equal(unhex(nonce, 12, v[i].nonce), 12);
		assert_int_equal(unhex(want, 32, v[i].otk), 32);
		chacha20_block(block, key, 0, nonce);
		assert_memory_equal(block, want, 32);
	}
}

/* RFC 8439 2.8.2: seal (and open back). */
static void test_rfc_seal(void **state)
{
	uint8_t key[32], nonce[12], aad[12], pt[114], ct[114], want[114], tag[16], want_tag[16];
	assert_int_equal(unhex(key, 32, key_80), 32);
	/* nonce = 32-bit constant 07 00 00 00 | IV 40..47 */
	assert_int_equal(unhex(nonce, 12, "07 00 00 00 40 41 42 43 44 45 46 47"), 12);
	assert_int_equal(unhex(aad, 12, "50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7"), 12);
	assert_int_equal(unhex(pt, 114,
	                       "4c 61 64 69 65 73 20 61 6e 64 20 47 65 6e 74 6c 65 6d 65 6e 20 6f "
	                       "66 20 74 68 65 20 63 6c 61 73 73 20 6f 66 20 27 39 39 3a 20 49 66 "
	                       "20 49 20 63 6f 75 6c 64 20 6f 66 66 65 72 20 79 6f 75 20 6f 6e 6c "
	                       "79 20 6f 6e 65 20 74 69 70 20 66 6f 72 20 74 68 65 20 66 75 74 75 "
	                       "72 65 2c 20 73 75 6e 73 63 72 65 65 6e 20 77 6f 75 6c 64 20 62 65 "
	                       "20 69 74 2e"),
	                 114);
	assert_int_equal(unhex(want, 114,
	                       "d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2 a4 ad ed 51 29 6e "
	                       "08 fe a9 e2 b5 a7 36 ee 62 d6 3d be a4 5e 8c a9 67 12 82 fa fb 69 "
	                       "da 92 72 8b 1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36 92 dd "
	                       "bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58 fa b3 24 e4 fa d6 75 94 "
	                       "55 85 80 8b 48 31 d7 bc 3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce "
	                       "c6 4b 61 16"),
	                 114);
	assert_int_equal(unhex(want_tag, 16, "1a:e1:0b:59:4f:09:e2:6a:7e:90:2e:cb:d0:60:06:91"),
	                 16);

	assert_int_equal(aead_seal(ct, tag, pt, 114, aad, 12, nonce, key), CRYPTO_OK);
	assert_memory_equal(ct, want, 114);
	assert_memory_equal(tag, want_tag, 16);

	uint8_t back[114];
	assert_int_equal(aead_open(back, ct, 114, tag, aad, 12, nonce, key), CRYPTO_OK);
	assert_memory_equal(back, pt, 114);
}

/* RFC 8439 A.5: open (verify, then decrypt). */
static void test_rfc_open(void **state)
{
	uint8_t key[32], nonce[12], aad[12], ct[265], pt[265], want[265], tag[16];
	assert_int_equal(unhex(key, 32, key_1c), 32);
	assert_int_equal(unhex(nonce, 12, "00 00 00 00 01 02 03 04 05 06 07 08"), 12);
	assert_int_equal(unhex(aad, 12, "f3 33 88 86 00 00 00 00 00 00 4e 91"), 12);
	assert_int_equal(unhex(tag, 16, "ee ad 9d 67 89 0c bb 22 39 23 36 fe a1 85 1f 38"), 16);
	assert_int_equal(
	    unhex(ct, 265,
	          "64 a0 86 15 75 86 1a f4 60 f0 62 c7 9b e6 43 bd 5e 80 5c fd 34 5c f3 89 f1 08 "
	          "67 0a c7 6c 8c b2 4c 6c fc 18 75 5d 43 ee a0 9e e9 4e 38 2d 26 b0 bd b7 b7 3c "
	          "32 1b 01 00 d4 f0 3b 7f 35 58 94 cf 33 2f 83 0e 71 0b 97 ce 98 c8 a8 4a bd 0b "
	          "94 81 14 ad 17 6e 00 8d 33 bd 60 f9 82 b1 ff 37 c8 55 97 97 a0 6e f4 f0 ef 61 "
	          "c1 86 32 4e 2b 35 06 38 36 06 90 7b 6a 7c 02 b0 f9 f6 15 7b 53 c8 67 e4 b9 16 "
	          "6c 76 7b 80 4d 46 a5 9b 52 16 cd e7 a4 e9 90 40 c5 a4 04 33 22 5e e2 82 a1 b0 "
	          "a0 6c 52 3e af 45 34 d7 f8 3f a1 15 5b 00 47 71 8c bc 54 6a 0d 07 2b 04 b3 56 "
	          "4e ea 1b 42 22 73 f5 48 27 1a 0b b2 31 60 53 fa 76 99 19 55 eb d6 31 59 43 4e "
	          "ce bb 4e 46 6d ae 5a 10 73 a6 72 76 27 09 7a 10 49 e6 17 d9 1d 36 10 94 fa 68 "
	          "f0 ff 77 98 71 30 30 5b ea ba 2e da 04 df 99 7b 71 4d 6c 6f 2c 29 a6 ad 5c b4 "
	          "02 2b 02 70 9b"),
	    265);
	assert_int_equal(
	    unhex(want, 265,
	          "49 6e 74 65 72 6e 65 74 2d 44 72 61 66 74 73 20 61 72 65 20 64 72 61 66 74 20 "
	          "64 6f 63 75 6d 65 6e 74 73 20 76 61 6c 69 64 20 66 6f 72 20 61 20 6d 61 78 69 "
	          "6d 75 6d 20 6f 66 20 73 69 78 20 6d 6f 6e 74 68 73 20 61 6e 64 20 6d 61 79 20 "
	          "62 65 20 75 70 64 61 74 65 64 2c 20 72 65 70 6c 61 63 65 64 2c 20 6f 72 20 6f "
	          "62 73 6f 6c 65 74 65 64 20 62 79 20 6f 74 68 65 72 20 64 6f 63 75 6d 65 6e 74 "
	          "73 20 61 74 20 61 6e 79 20 74 69 6d 65 2e 20 49 74 20 69 73 20 69 6e 61 70 70 "
	          "72 6f 70 72 69 61 74 65 20 74 6f 20 75 73 65 20 49 6e 74 65 72 6e 65 74 2d 44 "
	          "72 61 66 74 73 20 61 73 20 72 65 66 65 72 65 6e 63 65 20 6d 61 74 65 72 69 61 "
	          "6c 20 6f 72 20 74 6f 20 63 69 74 65 20 74 68 65 6d 20 6f 74 68 65 72 20 74 68 "
	          "61 6e 20 61 73 20 2f e2 80 9c 77 6f 72 6b 20 69 6e 20 70 72 6f 67 72 65 73 73 "
	          "2e 2f e2 80 9d"),
	    265);
	assert_int_equal(aead_open(pt, ct, 265, tag, aad, 12, nonce, key), CRYPTO_OK);
	assert_memory_equal(pt, want, 265);

	/* and in place */
	assert_int_equal(aead_open(ct, ct, 265, tag, aad, 12, nonce, key), CRYPTO_OK);
	assert_memory_equal(ct, want, 265);
}

/* seal_random: aead_seal, or the incremental API with random AAD/text splits. */
static void seal_random(uint8_t *ct, uint8_t tag[16], const uint8_t *pt, size_t len,
                        const uint8_t *aad, size_t aad_len, const uint8_t nonce[12],
                        const uint8_t key[32], int incremental)
{
	if (!incremental) {
		assert_int_equal(aead_seal(ct, tag, pt, len, aad, aad_len, nonce, key), CRYPTO_OK);
		return;
	}
	struct aead_ctx ctx;
	aead_init(&ctx, key, nonce);
	for (size_t off = 0; off < aad_len;) {
		size_t r = rnd_below(40), k = MIN(aad_len - off, r);
		assert_int_equal(aead_aad(&ctx, aad + off, k), CRYPTO_OK);
		off += k;
	}
	for (size_t off = 0; off < len;) {
		size_t r = rnd_below(len / 3 + 70), k = MIN(len - off, r);
		assert_int_equal(aead_seal_update(&ctx, ct + off, pt + off, k), CRYPTO_OK);
		off += k;
	}
	assert_int_equal(aead_seal_final(&ctx, tag), CRYPTO_OK);
	assert_true(all_bytes_are(&ctx.chacha, sizeof(ctx.chacha), 0));
}

/* Random messages both ways against crypto_aead_chacha20poly1305_ietf_*_detached. */
static void test_vs_libsodium(void **state)
{
	enum { MAX = 3000 };
	uint8_t *pt = malloc(MAX), *ct = malloc(MAX), *ref = malloc(MAX), *back = malloc(MAX);
	uint8_t aad[300];
	assert_true(pt && ct && ref && back);
	for (int iter = 0; iter < 600; iter++) {
		uint8_t key[32], nonce[12], tag[16], rtag[16];
		unsigned long long mlen;
		size_t len = iter < 200 ? (size_t)iter : rnd_below(MAX + 1);
		size_t aad_len = rnd_below(iter % 4 ? 40 : sizeof(aad) + 1);
		rnd_bytes(key, 32);
		rnd_bytes(nonce, 12);
		rnd_bytes(pt, len);
		rnd_bytes(aad, aad_len);

		crypto_aead_chacha20poly1305_ietf_encrypt_detached(ref, rtag, &mlen, pt, len, aad,
		                                                   aad_len, NULL, nonce, key);
		seal_random(ct, tag, pt, len, aad, aad_len, nonce, key, iter & 1);
		assert_memory_equal(ct, ref, len);
		assert_memory_equal(tag, rtag, 16);

		/* ours opens libsodium's, libsodium opens ours */
		assert_int_equal(aead_open(back, ref, len, rtag, aad, aad_len, nonce, key),
		                 CRYPTO_OK);
		assert_memory_equal(back, pt, len);
		assert_int_equal(crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		                     back, NULL, ct, len, tag, aad, aad_len, nonce, key),
		                 0);
		assert_memory_equal(back, pt, len);
	}
	free(pt);
	free(ct);
	free(ref);
	free(back);
}

/* A 1 MiB record (the migration stream's largest) round-trips and matches libsodium. */
static void test_large_record(void **state)
{
	const size_t len = 1 << 20;
	uint8_t *pt = malloc(len), *ct = malloc(len), *ref = malloc(len), *back = malloc(len);
	uint8_t key[32], nonce[12], aad[16], tag[16], rtag[16];
	assert_true(pt && ct && ref && back);
	rnd_bytes(key, 32);
	rnd_bytes(nonce, 12);
	rnd_bytes(aad, 16);
	rnd_bytes(pt, len);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(ref, rtag, NULL, pt, len, aad, 16, NULL,
	                                                   nonce, key);
	seal_random(ct, tag, pt, len, aad, 16, nonce, key, 1);
	assert_memory_equal(ct, ref, len);
	assert_memory_equal(tag, rtag, 16);
	assert_int_equal(aead_open(back, ct, len, tag, aad, 16, nonce, key), CRYPTO_OK);
	assert_memory_equal(back, pt, len);
	free(pt);
	free(ct);
	free(ref);
	free(back);
}

/* expect_reject: open must fail with CRYPTO_E_AUTH and leave the output buffer untouched. */
static void expect_reject(const uint8_t *ct, size_t len, const uint8_t tag[16], const uint8_t *aad,
                          size_t aad_len, const uint8_t nonce[12], const uint8_t key[32])
{
	uint8_t out[256];
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(aead_open(out, ct, len, tag, aad, aad_len, nonce, key), CRYPTO_E_AUTH);
	assert_true(all_bytes_are(out, sizeof(out), 0xa5));
}

/* Any flipped bit in ciphertext, tag, AAD, nonce or key is rejected; so is a cut or a pad. */
static void test_tamper(void **state)
{
	uint8_t key[32], nonce[12], aad[21], pt[100], ct[101], tag[16];
	rnd_bytes(key, 32);
	rnd_bytes(nonce, 12);
	rnd_bytes(aad, sizeof(aad));
	rnd_bytes(pt, sizeof(pt));
	assert_int_equal(aead_seal(ct, tag, pt, 100, aad, sizeof(aad), nonce, key), CRYPTO_OK);

	for (int bit = 0; bit < 100 * 8; bit++) {
		ct[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		expect_reject(ct, 100, tag, aad, sizeof(aad), nonce, key);
		ct[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (int bit = 0; bit < 16 * 8; bit++) {
		tag[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		expect_reject(ct, 100, tag, aad, sizeof(aad), nonce, key);
		tag[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (int bit = 0; bit < (int)sizeof(aad) * 8; bit++) {
		aad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		expect_reject(ct, 100, tag, aad, sizeof(aad), nonce, key);
		aad[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (int bit = 0; bit < 12 * 8; bit++) {
		nonce[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		expect_reject(ct, 100, tag, aad, sizeof(aad), nonce, key);
		nonce[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	for (int bit = 0; bit < 32 * 8; bit++) {
		key[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		expect_reject(ct, 100, tag, aad, sizeof(aad), nonce, key);
		key[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	/* truncated or extended ciphertext / AAD, AAD moved into the text, no AAD */
	expect_reject(ct, 99, tag, aad, sizeof(aad), nonce, key);
	ct[100] = 0;
	expect_reject(ct, 101, tag, aad, sizeof(aad), nonce, key);
	expect_reject(ct, 100, tag, aad, sizeof(aad) - 1, nonce, key);
	expect_reject(ct, 100, tag, NULL, 0, nonce, key);
	/* a zero tag and the tag of an empty message */
	uint8_t zero[16] = {0};
	expect_reject(ct, 100, zero, aad, sizeof(aad), nonce, key);

	/* in place: a failed open leaves the ciphertext as it was */
	uint8_t copy[100];
	memcpy(copy, ct, 100);
	tag[0] ^= 1;
	assert_int_equal(aead_open(ct, ct, 100, tag, aad, sizeof(aad), nonce, key), CRYPTO_E_AUTH);
	assert_memory_equal(ct, copy, 100);
	tag[0] ^= 1;
	/* untouched, it still opens */
	uint8_t back[100];
	assert_int_equal(aead_open(back, ct, 100, tag, aad, sizeof(aad), nonce, key), CRYPTO_OK);
	assert_memory_equal(back, pt, 100);
}

/* Argument checks, API ordering, and the RFC length limit. */
static void test_misuse(void **state)
{
	uint8_t key[32] = {1}, nonce[12] = {2}, buf[64] = {0}, tag[16];
	struct aead_ctx ctx;

	assert_int_equal(aead_seal(buf, tag, buf, 16, NULL, 5, nonce, key), CRYPTO_E_INVAL);
	assert_int_equal(aead_seal(NULL, tag, buf, 16, NULL, 0, nonce, key), CRYPTO_E_INVAL);
	assert_int_equal(aead_seal(buf, NULL, buf, 16, NULL, 0, nonce, key), CRYPTO_E_INVAL);
	assert_int_equal(aead_open(buf, buf, 16, NULL, NULL, 0, nonce, key), CRYPTO_E_INVAL);
	assert_int_equal(aead_open(NULL, buf, 16, tag, NULL, 0, nonce, key), CRYPTO_E_INVAL);
	/* lengths beyond P_MAX are refused before anything is read */
	assert_int_equal(aead_seal(buf, tag, buf, (size_t)AEAD_MAX_TEXT + 1, NULL, 0, nonce, key),
	                 CRYPTO_E_TOOLONG);
	assert_int_equal(aead_open(buf, buf, (size_t)AEAD_MAX_TEXT + 1, tag, NULL, 0, nonce, key),
	                 CRYPTO_E_TOOLONG);

	/* AAD after text is an ordering error */
	aead_init(&ctx, key, nonce);
	assert_int_equal(aead_aad(&ctx, "x", 1), CRYPTO_OK);
	assert_int_equal(aead_seal_update(&ctx, buf, buf, 3), CRYPTO_OK);
	assert_int_equal(aead_aad(&ctx, "y", 1), CRYPTO_E_INVAL);
	assert_int_equal(aead_seal_final(&ctx, tag), CRYPTO_OK);
	/* a finished context refuses further use */
	assert_int_equal(aead_seal_update(&ctx, buf, buf, 3), CRYPTO_E_INVAL);
	assert_int_equal(aead_seal_final(&ctx, tag), CRYPTO_E_INVAL);

	/* empty message, empty AAD: still authenticated */
	assert_int_equal(aead_seal(NULL, tag, NULL, 0, NULL, 0, nonce, key), CRYPTO_OK);
	assert_int_equal(aead_open(NULL, NULL, 0, tag, NULL, 0, nonce, key), CRYPTO_OK);
	tag[5] ^= 0x10;
	assert_int_equal(aead_open(NULL, NULL, 0, tag, NULL, 0, nonce, key), CRYPTO_E_AUTH);
	assert_string_equal(crypto_strerror(CRYPTO_E_AUTH), "authentication failed");
}

/* crypto_wipe and crypto_ct_equal basics. */
static void test_util(void **state)
{
	uint8_t a[40], b[40];
	rnd_bytes(a, sizeof(a));
	memcpy(b, a, sizeof(a));
	assert_true(crypto_ct_equal(a, b, sizeof(a)));
	assert_true(crypto_ct_equal(a, b, 0));
	for (size_t i = 0; i < sizeof(a); i++)
		for (int v = 1; v < 256; v <<= 1) {
			b[i] ^= (uint8_t)v;
			assert_false(crypto_ct_equal(a, b, sizeof(a)));
			b[i] ^= (uint8_t)v;
		}
	crypto_wipe(a, sizeof(a));
	assert_true(all_bytes_are(a, sizeof(a), 0));
	for (int e = 0; e >= -12; e--)
		assert_non_null(crypto_strerror(e));
}

/* Micro-benchmark: seal and open 64 KiB records; printed, not asserted. */
static void test_bench(void **state)
{
	const size_t rec = 64 << 10;
	uint8_t *buf = malloc(rec), key[32], nonce[12] = {0}, tag[16], aad[16] = {0};
	assert_non_null(buf);
	rnd_bytes(key, 32);
	rnd_bytes(buf, rec);

	uint64_t t0 = now_ns(), bytes = 0;
	while (now_ns() - t0 < 300000000ull) {
		for (int i = 0; i < 16; i++, bytes += rec) {
			nonce[0]++;
			aead_seal(buf, tag, buf, rec, aad, sizeof(aad), nonce, key);
		}
	}
	double seal_mbs = (double)bytes / ((double)(now_ns() - t0) / 1e9) / 1e6;

	aead_seal(buf, tag, buf, rec, aad, sizeof(aad), nonce, key);
	t0 = now_ns(), bytes = 0;
	while (now_ns() - t0 < 300000000ull) {
		for (int i = 0; i < 16; i++, bytes += rec)
			assert_int_equal(
			    aead_open(buf, buf, rec, tag, aad, sizeof(aad), nonce, key) |
			        aead_seal(buf, tag, buf, rec, aad, sizeof(aad), nonce, key),
			    0);
	}
	double pair_mbs = (double)bytes / ((double)(now_ns() - t0) / 1e9) / 1e6;
	fprintf(stderr,
	        "bench: ChaCha20-Poly1305 seal of 64 KiB records: %.0f MB/s; open+seal: %.0f MB/s "
	        "(this build: %s)\n",
	        seal_mbs, pair_mbs, "-O1 with ASan+UBSan, see docs/crypto.md for -O2");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_poly1305_keygen), cmocka_unit_test(test_rfc_seal),
	    cmocka_unit_test(test_rfc_open),        cmocka_unit_test(test_vs_libsodium),
	    cmocka_unit_test(test_large_record),    cmocka_unit_test(test_tamper),
	    cmocka_unit_test(test_misuse),          cmocka_unit_test(test_util),
	    cmocka_unit_test(test_bench),
	};
	if (sodium_init() < 0)
		return 1;
	test_seed("test_crypto_aead");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
