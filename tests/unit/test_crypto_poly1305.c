/* Unit tests for migrate/poly1305.c: RFC 8439 vectors (incl. A.3 edge cases), libsodium. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>

#include "migrate/poly1305.h"
#include "migrate/crypto_util.h"
#include "tests/unit/crypto_test_util.h"

/* RFC 8439 A.3 #2/#3 text ("Any submission to the IETF ..."). */
static const char ietf_text[] =
    "41 6e 79 20 73 75 62 6d 69 73 73 69 6f 6e 20 74 6f 20 74 68 65 20 49 45 54 46 20 69 6e 74 "
    "65 6e 64 65 64 20 62 79 20 74 68 65 20 43 6f 6e 74 72 69 62 75 74 6f 72 20 66 6f 72 20 70 "
    "75 62 6c 69 63 61 74 69 6f 6e 20 61 73 20 61 6c 6c 20 6f 72 20 70 61 72 74 20 6f 66 20 61 "
    "6e 20 49 45 54 46 20 49 6e 74 65 72 6e 65 74 2d 44 72 61 66 74 20 6f 72 20 52 46 43 20 61 "
    "6e 64 20 61 6e 79 20 73 74 61 74 65 6d 65 6e 74 20 6d 61 64 65 20 77 69 74 68 69 6e 20 74 "
    "68 65 20 63 6f 6e 74 65 78 74 20 6f 66 20 61 6e 20 49 45 54 46 20 61 63 74 69 76 69 74 79 "
    "20 69 73 20 63 6f 6e 73 69 64 65 72 65 64 20 61 6e 20 22 49 45 54 46 20 43 6f 6e 74 72 69 "
    "62 75 74 69 6f 6e 22 2e 20 53 75 63 68 20 73 74 61 74 65 6d 65 6e 74 73 20 69 6e 63 6c 75 "
    "64 65 20 6f 72 61 6c 20 73 74 61 74 65 6d 65 6e 74 73 20 69 6e 20 49 45 54 46 20 73 65 73 "
    "73 69 6f 6e 73 2c 20 61 73 20 77 65 6c 6c 20 61 73 20 77 72 69 74 74 65 6e 20 61 6e 64 20 "
    "65 6c 65 63 74 72 6f 6e 69 63 20 63 6f 6d 6d 75 6e 69 63 61 74 69 6f 6e 73 20 6d 61 64 65 "
    "20 61 74 20 61 6e 79 20 74 69 6d 65 20 6f 72 20 70 6c 61 63 65 2c 20 77 68 69 63 68 20 61 "
    "72 65 20 61 64 64 72 65 73 73 65 64 20 74 6f";

#define Z16 "00000000000000000000000000000000"

struct mac_vec {
	const char *key, *msg, *tag;
};

/* RFC 8439 2.5.2 and A.3 #1..#11 (the last seven probe carry/reduction edge cases). */
static const struct mac_vec vecs[] = {
    /* 2.5.2 */
    {"85:d6:be:78:57:55:6d:33:7f:44:52:fe:42:d5:06:a8:01:03:80:8a:fb:0d:b2:fd:4a:bf:f6:af:41:"
     "49:f5:1b",
     "43 72 79 70 74 6f 67 72 61 70 68 69 63 20 46 6f 72 75 6d 20 52 65 73 65 61 72 63 68 20 "
     "47 72 6f 75 70",
     "a8:06:1d:c1:30:51:36:c6:c2:2b:8b:af:0c:01:27:a9"},
    /* A.3 #1 */
    {Z16 Z16, Z16 Z16 Z16 Z16, Z16},
    /* A.3 #2: r = 0, tag = s */
    {Z16 "36 e5 f6 b5 c5 e0 60 70 f0 ef ca 96 22 7a 86 3e", ietf_text,
     "36 e5 f6 b5 c5 e0 60 70 f0 ef ca 96 22 7a 86 3e"},
    /* A.3 #3 */
    {"36 e5 f6 b5 c5 e0 60 70 f0 ef ca 96 22 7a 86 3e" Z16, ietf_text,
     "f3 47 7e 7c d9 54 17 af 89 a6 b8 79 4c 31 0c f0"},
    /* A.3 #4 */
    {"1c 92 40 a5 eb 55 d3 8a f3 33 88 86 04 f6 b5 f0 47 39 17 c1 40 2b 80 09 9d ca 5c bc 20 "
     "70 75 c0",
     "27 54 77 61 73 20 62 72 69 6c 6c 69 67 2c 20 61 6e 64 20 74 68 65 20 73 6c 69 74 68 79 "
     "20 74 6f 76 65 73 0a 44 69 64 20 67 79 72 65 20 61 6e 64 20 67 69 6d 62 6c 65 20 69 6e "
     "20 74 68 65 20 77 61 62 65 3a 0a 41 6c 6c 20 6d 69 6d 73 79 20 77 65 72 65 20 74 68 65 "
     "20 62 6f 72 6f 67 6f 76 65 73 2c 0a 41 6e 64 20 74 68 65 20 6d 6f 6d 65 20 72 61 74 68 "
     "73 20 6f 75 74 67 72 61 62 65 2e",
     "45 41 66 9a 7e aa ee 61 e7 08 dc 7c bc c5 eb 62"},
    /* A.3 #5: partially reduced final result not fully reduced */
    {"02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" Z16,
     "FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF",
     "03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
    /* A.3 #6: addition of s overflows modulo 2^128 */
    {"02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
     "FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF",
     "02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
     "03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
    /* A.3 #7: data limb all ones with carry from lower limb */
    {"01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" Z16,
     "FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF"
     "F0 FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF"
     "11 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
     "05 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
    /* A.3 #8: final result exactly 2^130 - 5 */
    {"01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" Z16,
     "FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF"
     "FB FE FE FE FE FE FE FE FE FE FE FE FE FE FE FE"
     "01 01 01 01 01 01 01 01 01 01 01 01 01 01 01 01",
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
    /* A.3 #9: final result exactly 2^130 - 6 */
    {"02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00" Z16,
     "FD FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF",
     "FA FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF"},
    /* A.3 #10: 5*H+L reduction with a 131-bit intermediate */
    {"01 00 00 00 00 00 00 00 04 00 00 00 00 00 00 00" Z16,
     "E3 35 94 D7 50 5E 43 B9 00 00 00 00 00 00 00 00"
     "33 94 D7 50 5E 43 79 CD 01 00 00 00 00 00 00 00"
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
     "01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
     "14 00 00 00 00 00 00 00 55 00 00 00 00 00 00 00"},
    /* A.3 #11: 5*H+L reduction with a 131-bit final result */
    {"01 00 00 00 00 00 00 00 04 00 00 00 00 00 00 00" Z16,
     "E3 35 94 D7 50 5E 43 B9 00 00 00 00 00 00 00 00"
     "33 94 D7 50 5E 43 79 CD 01 00 00 00 00 00 00 00"
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
     "13 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
};

/* Every RFC vector: one-shot, byte-by-byte, random splits, and against libsodium. */
static void test_rfc_vectors(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(vecs); i++) {
		uint8_t key[32], msg[512], want[16], tag[16], ref[16];
		struct poly1305_ctx ctx;
		assert_int_equal(unhex(key, 32, vecs[i].key), 32);
		size_t n = unhex(msg, sizeof(msg), vecs[i].msg);
		assert_int_equal(unhex(want, 16, vecs[i].tag), 16);

		poly1305_auth(tag, msg, n, key);
		assert_memory_equal(tag, want, 16);
		assert_true(poly1305_verify(tag, want));

		crypto_onetimeauth_poly1305(ref, msg, n, key);
		assert_memory_equal(ref, want, 16);

		poly1305_init(&ctx, key);
		for (size_t j = 0; j < n; j++)
			poly1305_update(&ctx, msg + j, 1);
		poly1305_final(&ctx, tag);
		assert_memory_equal(tag, want, 16);

		for (int rep = 0; rep < 20; rep++) {
			poly1305_init(&ctx, key);
			for (size_t off = 0; off < n;) {
				size_t r = rnd_below(40), k = MIN(n - off, r);
				poly1305_update(&ctx, msg + off, k);
				off += k;
			}
			poly1305_final(&ctx, tag);
			assert_memory_equal(tag, want, 16);
		}
	}
}

/* Random keys, lengths and splits against crypto_onetimeauth_poly1305, incl. all-ones data. */
static void test_vs_libsodium(void **state)
{
	enum { MAX = 4200 };
	uint8_t *msg = malloc(MAX);
	assert_non_null(msg);
	for (int iter = 0; iter < 1500; iter++) {
		uint8_t key[32], tag[16], ref[16];
		struct poly1305_ctx ctx;
		size_t len = iter < 300 ? (size_t)iter : rnd_below(MAX + 1);
		int kind = iter % 5;

		rnd_bytes(key, sizeof(key));
		rnd_bytes(msg, len);
		if (kind == 1) /* carry stress: all-ones key and data */
			memset(key, 0xff, 32), memset(msg, 0xff, len);
		else if (kind == 2) /* all-ones data, random key */
			memset(msg, 0xff, len);
		else if (kind == 3) /* s all ones: the final addition wraps */
			memset(key + 16, 0xff, 16);

		crypto_onetimeauth_poly1305(ref, msg, len, key);
		poly1305_auth(tag, msg, len, key);
		assert_memory_equal(tag, ref, 16);

		poly1305_init(&ctx, key);
		for (size_t off = 0; off < len;) {
			size_t r = rnd_below(100), k = MIN(len - off, r);
			poly1305_update(&ctx, msg + off, k);
			off += k;
		}
		poly1305_final(&ctx, tag);
		assert_memory_equal(tag, ref, 16);
	}
	free(msg);
}

/* verify compares all 16 bytes; final wipes the context. */
static void test_verify_and_wipe(void **state)
{
	uint8_t a[16], b[16], key[32];
	struct poly1305_ctx ctx;
	rnd_bytes(a, 16);
	memcpy(b, a, 16);
	assert_true(poly1305_verify(a, b));
	for (int bit = 0; bit < 128; bit++) {
		b[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		assert_false(poly1305_verify(a, b));
		b[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	rnd_bytes(key, 32);
	poly1305_init(&ctx, key);
	poly1305_update(&ctx, "abc", 3);
	poly1305_final(&ctx, a);
	assert_true(all_bytes_are(&ctx, sizeof(ctx), 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc_vectors),
	    cmocka_unit_test(test_vs_libsodium),
	    cmocka_unit_test(test_verify_and_wipe),
	};
	if (sodium_init() < 0)
		return 1;
	test_seed("test_crypto_poly1305");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
