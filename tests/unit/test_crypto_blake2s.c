/*
 * Unit tests for migrate/blake2s.c: RFC 7693 Appendix B and the Appendix E self-test, plus
 * known answers generated with Python's hashlib (tests/unit/gen_crypto_kat.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "migrate/blake2s.h"
#include "migrate/crypto_util.h"
#include "tests/unit/crypto_test_util.h"
#include "tests/unit/crypto_kat.h"

/* RFC 7693 Appendix B: BLAKE2s-256("abc"). */
static void test_rfc_abc(void **state)
{
	uint8_t want[32], out[32];
	unhex(want, 32,
	      "50 8C 5E 8C 32 7C 14 E2 E1 A7 2B A3 4E EB 45 2F 37 45 8B 20 9E D6 3A 29 4D 99 9B 4C "
	      "86 67 59 82");
	blake2s_256(out, "abc", 3);
	assert_memory_equal(out, want, 32);
}

/* selftest_seq: RFC 7693 Appendix E deterministic input generator (Fibonacci-like). */
static void selftest_seq(uint8_t *out, size_t len, uint32_t seed)
{
	uint32_t a = 0xDEAD4BAD * seed, b = 1, t;
	for (size_t i = 0; i < len; i++) {
		t = a + b;
		a = b;
		b = t;
		out[i] = (uint8_t)(t >> 24);
	}
}

/* RFC 7693 Appendix E: the BLAKE2s self-test's grand hash over keyed and unkeyed digests. */
static void test_rfc_selftest(void **state)
{
	static const size_t md_len[4] = {16, 20, 28, 32};
	static const size_t in_len[6] = {0, 3, 64, 65, 255, 1024};
	uint8_t in[1024], md[32], key[32], grand[32], want[32];
	struct blake2s_ctx ctx;

	unhex(want, 32,
	      "6A 41 1F 08 CE 25 AD CD FB 02 AB A6 41 45 1C EC 53 C5 98 B2 4F 4F C7 87 FB DC 88 79 "
	      "7F 4C 1D FE");
	assert_int_equal(blake2s_init(&ctx, 32, NULL, 0), CRYPTO_OK);
	for (int i = 0; i < 4; i++) {
		size_t outlen = md_len[i];
		for (int j = 0; j < 6; j++) {
			size_t inlen = in_len[j];
			selftest_seq(in, inlen, (uint32_t)inlen);
			assert_int_equal(blake2s(md, outlen, NULL, 0, in, inlen), CRYPTO_OK);
			blake2s_update(&ctx, md, outlen);
			selftest_seq(key, outlen, (uint32_t)outlen);
			assert_int_equal(blake2s(md, outlen, key, outlen, in, inlen), CRYPTO_OK);
			blake2s_update(&ctx, md, outlen);
		}
	}
	blake2s_final(&ctx, grand);
	assert_memory_equal(grand, want, 32);
}

/* The 2 x 256 known answers in the layout of the official blake2s-kat.txt. */
static void test_kat(void **state)
{
	uint8_t in[256], key[32], want[32], out[32];
	for (int i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (size_t n = 0; n < 256; n++) {
		unhex(want, 32, kat_b2s_unkeyed[n]);
		assert_int_equal(blake2s(out, 32, NULL, 0, in, n), CRYPTO_OK);
		assert_memory_equal(out, want, 32);
		unhex(want, 32, kat_b2s_keyed[n]);
		assert_int_equal(blake2s(out, 32, key, 32, in, n), CRYPTO_OK);
		assert_memory_equal(out, want, 32);
	}
}

/* Every digest length with several key/input lengths, one-shot and in random pieces. */
static void test_params(void **state)
{
	uint8_t *in = malloc(65536 + 64), key[32], want[32], out[32];
	assert_non_null(in);
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < 65536 + 64; i++)
		in[i] = (uint8_t)(i * 7 + 3);
	for (size_t i = 0; i < ARRAY_SIZE(kat_b2s_params); i++) {
		const struct kat_b2s_param *p = &kat_b2s_params[i];
		struct blake2s_ctx ctx;
		assert_int_equal(unhex(want, 32, p->digest), p->outlen);
		assert_int_equal(blake2s(out, p->outlen, key, p->keylen, in, p->inlen), CRYPTO_OK);
		assert_memory_equal(out, want, p->outlen);

		assert_int_equal(blake2s_init(&ctx, p->outlen, key, p->keylen), CRYPTO_OK);
		for (size_t off = 0; off < p->inlen;) {
			size_t r = rnd_below(i & 1 ? 130 : 3000), k = MIN(p->inlen - off, r);
			blake2s_update(&ctx, in + off, k);
			off += k;
		}
		blake2s_final(&ctx, out);
		assert_memory_equal(out, want, p->outlen);
		assert_true(all_bytes_are(&ctx, sizeof(ctx), 0));
	}
	free(in);
}

/* Out-of-range parameters are refused. */
static void test_bad_params(void **state)
{
	struct blake2s_ctx ctx;
	uint8_t key[33] = {0}, out[33];
	assert_int_equal(blake2s_init(&ctx, 0, NULL, 0), CRYPTO_E_INVAL);
	assert_int_equal(blake2s_init(&ctx, 33, NULL, 0), CRYPTO_E_INVAL);
	assert_int_equal(blake2s_init(&ctx, 32, key, 33), CRYPTO_E_INVAL);
	assert_int_equal(blake2s_init(&ctx, 32, NULL, 5), CRYPTO_E_INVAL);
	assert_int_equal(blake2s(out, 32, NULL, 0, NULL, 1), CRYPTO_E_INVAL);
	assert_int_equal(blake2s(NULL, 32, NULL, 0, "", 0), CRYPTO_E_INVAL);
	assert_int_equal(blake2s(out, 32, NULL, 0, NULL, 0), CRYPTO_OK);
}

/* Micro-benchmark: hashing 4 KiB guest pages; printed, not asserted. */
static void test_bench(void **state)
{
	uint8_t page[4096], out[32];
	rnd_bytes(page, sizeof(page));
	uint64_t t0 = now_ns(), bytes = 0;
	while (now_ns() - t0 < 200000000ull)
		for (int i = 0; i < 16; i++, bytes += sizeof(page)) {
			page[0] = (uint8_t)i;
			blake2s_256(out, page, sizeof(page));
		}
	fprintf(stderr, "bench: BLAKE2s-256 of 4 KiB pages: %.0f MB/s (-O1, ASan+UBSan)\n",
	        (double)bytes / ((double)(now_ns() - t0) / 1e9) / 1e6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc_abc),    cmocka_unit_test(test_rfc_selftest),
	    cmocka_unit_test(test_kat),        cmocka_unit_test(test_params),
	    cmocka_unit_test(test_bad_params), cmocka_unit_test(test_bench),
	};
	test_seed("test_crypto_blake2s");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
