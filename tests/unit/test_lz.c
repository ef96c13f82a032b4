/*
 * Unit tests for migrate/lz.c (the page compressor): round trips of zero, random, text-like,
 * periodic, machine-code and kernel-structure-like pages and of every input size up to 300
 * bytes, a table left over from other inputs, the output bound and the cap (never a byte
 * past it), and the decompressor against every truncation of a block, every single-byte
 * corruption, a wrong expected size and hand-made malformed blocks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/crypto_test_util.h"

#include "migrate/lz.h"

#define PAGE  4096
#define GUARD 64

static struct lz_table g_table;

/* ---- page generators ------------------------------------------------------------------------ */
enum gen { G_ZERO, G_RANDOM, G_TEXT, G_PERIOD, G_CODE, G_STRUCTS, G_SPARSE, G_HALF, G_NGEN };

/* make_page: page p of kind g (arg varies it). */
static void make_page(uint8_t *p, enum gen g, unsigned arg)
{
	static const char *words[] = {"the ",    "kernel ", "migrate ", "page ", "guest ",
	                              "memory ", "zero ",   "Tern ",    "\n",    "stream "};
	memset(p, 0, PAGE);
	switch (g) {
	case G_RANDOM:
		for (int i = 0; i < PAGE; i++)
			p[i] = (uint8_t)rnd64();
		break;
	case G_TEXT:
		for (int i = 0; i < PAGE;) {
			const char *w = words[rnd64() % 10];
			for (; *w && i < PAGE; w++)
				p[i++] = (uint8_t)*w;
		}
		break;
	case G_PERIOD: /* a pattern of arg + 1 bytes repeated */
		for (int i = 0; i < PAGE; i++)
			p[i] = (uint8_t)(0x41 + i % (arg % 40 + 1) * 7);
		break;
	case G_CODE: { /* this test's own machine code */
		FILE *f = fopen("/proc/self/exe", "rb");
		assert_non_null(f);
		fseek(f, (long)(arg % 8) * PAGE + 4096, SEEK_SET);
		assert_int_equal(fread(p, 1, PAGE, f), PAGE);
		fclose(f);
		break;
	}
	case G_STRUCTS: /* 64-byte records: flags, kernel pointers, counters */
		for (int i = 0; i < PAGE / 64; i++) {
			uint64_t r[8] = {0x2fffff0000000000ULL | (rnd64() & 0xff),
			                 0xffffffff81000000ULL + (uint64_t)i * 0x40 + arg,
			                 0xffff888000000000ULL + (rnd64() & 0xfff000),
			                 (uint64_t)i,
			                 0,
			                 rnd64() & 1 ? 0xdead000000000100ULL : 0,
			                 1,
			                 0};
			memcpy(p + i * 64, r, 64);
		}
		break;
	case G_SPARSE: /* mostly zero, a few values */
		for (int i = 0; i < 20; i++)
			p[rnd64() % PAGE] = (uint8_t)rnd64();
		break;
	case G_HALF: /* random first half, zero second */
		for (int i = 0; i < PAGE / 2; i++)
			p[i] = (uint8_t)rnd64();
		break;
	default:
		break;
	}
}

/* roundtrip: compress n bytes with room for the bound, check the output never passes it,
 * decompress into a guarded buffer, compare; returns the block size. */
static size_t roundtrip(const uint8_t *src, size_t n)
{
	size_t cap = LZ_BOUND(n);
	uint8_t *blk = malloc(cap + GUARD), *out = malloc(n + 2 * GUARD);
	memset(blk, 0xa5, cap + GUARD);
	size_t k = lz_compress(&g_table, src, n, blk, cap);
	assert_true(k > 0 && k <= cap);
	for (size_t i = cap; i < cap + GUARD; i++)
		assert_int_equal(blk[i], 0xa5);
	memset(out, 0x5a, n + 2 * GUARD);
	assert_true(lz_decompress(blk, k, out + GUARD, n));
	assert_memory_equal(out + GUARD, src, n);
	for (size_t i = 0; i < GUARD; i++) {
		assert_int_equal(out[i], 0x5a);
		assert_int_equal(out[GUARD + n + i], 0x5a);
	}
	free(blk);
	free(out);
	return k;
}

/* time_page: the host's compression speed for page p (MB/s, informational). */
static double time_page(const uint8_t *p)
{
	uint8_t blk[LZ_BOUND(PAGE)];
	uint64_t t0 = now_ns();
	for (int i = 0; i < 200; i++)
		assert_true(lz_compress(&g_table, p, PAGE, blk, sizeof(blk)) > 0);
	return 200.0 * PAGE * 1000 / (double)(now_ns() - t0 + 1);
}

static void test_pages_roundtrip(void **state)
{
	static const char *names[G_NGEN] = {"zero", "random",  "text",   "periodic",
	                                    "code", "structs", "sparse", "half random"};
	uint8_t p[PAGE];
	size_t total[G_NGEN] = {0};
	for (int g = 0; g < G_NGEN; g++) {
		for (unsigned a = 0; a < 16; a++) {
			make_page(p, (enum gen)g, a);
			total[g] += roundtrip(p, PAGE);
		}
		printf("  %-12s %5zu bytes per page, %6.0f MB/s\n", names[g], total[g] / 16,
		       time_page(p));
	}
	/* what each kind costs, on average (16 pages each) */
	assert_true(total[G_ZERO] / 16 < 40);
	assert_true(total[G_PERIOD] / 16 < 100);
	assert_true(total[G_SPARSE] / 16 < 200);
	assert_true(total[G_TEXT] / 16 < 2000);
	assert_true(total[G_STRUCTS] / 16 < 2500);
	assert_true(total[G_CODE] / 16 < 3700);
	assert_true(total[G_HALF] / 16 < 2150);
	assert_true(total[G_RANDOM] / 16 > PAGE); /* incompressible: all literals */
}

static void test_every_small_size(void **state)
{
	uint8_t src[300];
	for (size_t n = 0; n <= sizeof(src); n++) {
		for (size_t i = 0; i < n; i++)
			src[i] = (uint8_t)(i % 7 < 3 ? 'a' + i % 3 : rnd64());
		roundtrip(src, n);
		memset(src, 'z', n);
		roundtrip(src, n);
	}
}

static void test_largest_input(void **state)
{
	uint8_t *src = malloc(LZ_MAX_INPUT);
	for (size_t i = 0; i < LZ_MAX_INPUT; i++)
		src[i] = (uint8_t)(i < 1000 ? rnd64() : src[i % 1000]); /* matches 1000 back */
	size_t k = roundtrip(src, LZ_MAX_INPUT);
	assert_true(k < 2000);
	for (size_t i = 0; i < LZ_MAX_INPUT; i++)
		src[i] = (uint8_t)(i < 40000 ? rnd64() : src[i - 40000]); /* 40000 back */
	roundtrip(src, LZ_MAX_INPUT);
	free(src);
}

/* stale entries from earlier (longer) inputs never produce a bad match */
static void test_stale_table(void **state)
{
	uint8_t *big = malloc(LZ_MAX_INPUT), p[PAGE];
	for (size_t i = 0; i < LZ_MAX_INPUT; i++)
		big[i] = (uint8_t)(i % 251);
	roundtrip(big, LZ_MAX_INPUT); /* every slot points far past a page */
	for (int g = 0; g < G_NGEN; g++) {
		make_page(p, (enum gen)g, 3);
		roundtrip(p, PAGE);
		roundtrip(p, 100);
	}
	free(big);
}

/* the bound holds for data made to defeat the compressor (literal runs of every length) */
static void test_bound(void **state)
{
	uint8_t p[PAGE];
	for (int t = 0; t < 64; t++) {
		for (int i = 0; i < PAGE; i++)
			p[i] = (uint8_t)rnd64();
		for (int i = 0; i + 4 <= PAGE; i += 15 + t * 3) /* a 4-byte match now and then */
			memcpy(p + i, p, 4);
		assert_true(roundtrip(p, PAGE) <= LZ_BOUND(PAGE));
	}
}

/* with less room than it needs the compressor says 0 and writes nothing past the cap */
static void test_cap(void **state)
{
	uint8_t p[PAGE], blk[LZ_BOUND(PAGE) + GUARD];
	for (int g = 0; g < G_NGEN; g++) {
		make_page(p, (enum gen)g, 5);
		size_t k = lz_compress(&g_table, p, PAGE, blk, LZ_BOUND(PAGE));
		assert_true(k > 0);
		size_t caps[] = {0, 1, k / 2, k - 1};
		for (size_t c = 0; c < 4; c++) {
			if (caps[c] >= k)
				continue;
			memset(blk, 0xa5, sizeof(blk));
			assert_int_equal(lz_compress(&g_table, p, PAGE, blk, caps[c]), 0);
			for (size_t i = caps[c]; i < sizeof(blk); i++)
				assert_int_equal(blk[i], 0xa5);
		}
		assert_int_equal(lz_compress(&g_table, p, PAGE, blk, k), k);
	}
}

/* compress_page: a block of page kind g into blk; its size. */
static size_t compress_page(uint8_t *blk, enum gen g, unsigned arg, uint8_t *page)
{
	make_page(page, g, arg);
	size_t k = lz_compress(&g_table, page, PAGE, blk, LZ_BOUND(PAGE));
	assert_true(k > 0);
	return k;
}

/* decode_guarded: decompress into an exact-size area between guards; the guards must hold. */
static bool decode_guarded(const uint8_t *blk, size_t k, size_t want)
{
	uint8_t out[PAGE + 2 * GUARD];
	uint8_t *in = malloc(k ? k : 1); /* exact size: nothing after it to read */
	memcpy(in, blk, k);
	memset(out, 0x5a, sizeof(out));
	bool ok = lz_decompress(in, k, out + GUARD, want);
	for (size_t i = 0; i < GUARD; i++)
		assert_int_equal(out[i], 0x5a);
	for (size_t i = GUARD + want; i < sizeof(out); i++)
		assert_int_equal(out[i], 0x5a);
	free(in);
	return ok;
}

static void test_truncations(void **state)
{
	uint8_t page[PAGE], blk[LZ_BOUND(PAGE)];
	for (int g = 0; g < G_NGEN; g++) {
		size_t k = compress_page(blk, (enum gen)g, 7, page);
		for (size_t n = 0; n < k; n++)
			assert_false(decode_guarded(blk, n, PAGE));
		assert_true(decode_guarded(blk, k, PAGE));
		assert_false(decode_guarded(blk, k, PAGE - 1)); /* any other size fails */
		assert_false(decode_guarded(blk, k, PAGE - 100));
	}
}

/* any single-byte change either fails or yields exactly a page, never touching anything else */
static void test_corruptions(void **state)
{
	uint8_t page[PAGE], blk[LZ_BOUND(PAGE)];
	static const uint8_t flips[] = {0x01, 0x10, 0x80, 0xff, 0x0f, 0xf0};
	for (int g = 0; g < G_NGEN; g++) {
		if (g == G_RANDOM)
			continue; /* all literals: almost every flip still decodes */
		size_t k = compress_page(blk, (enum gen)g, 9, page), failed = 0, tries = 0;
		for (size_t i = 0; i < k; i++)
			for (size_t f = 0; f < sizeof(flips); f++) {
				blk[i] ^= flips[f];
				failed += !decode_guarded(blk, k, PAGE);
				tries++;
				blk[i] ^= flips[f];
			}
		assert_true(failed > 0);
		/* an extra byte at the end is never accepted */
		blk[k] = 0;
		assert_false(decode_guarded(blk, k + 1, PAGE));
		printf("  kind %d: block %zu bytes, %zu/%zu corruptions rejected\n", g, k, failed,
		       tries);
	}
}

static void test_malformed(void **state)
{
	/* each of these must fail */
	static const struct {
		const char *why;
		uint8_t b[16];
		size_t n, want;
	} bad[] = {
	    {"empty", {0}, 0, 4},
	    {"literals past the input", {0x50, 'a', 'b'}, 3, 5},
	    {"literals past the output", {0x30, 'a', 'b', 'c'}, 4, 2},
	    {"last token with a match length", {0x11, 'a'}, 2, 1},
	    {"offset cut short", {0x10, 'a', 1}, 3, 5},
	    {"offset 0", {0x10, 'a', 0, 0, 0x00}, 5, 5},
	    {"offset before the start", {0x10, 'a', 2, 0, 0x00}, 5, 5},
	    {"match past the output", {0x12, 'a', 1, 0, 0x00}, 5, 5},
	    {"literal count runs off", {0xf0, 255, 255}, 3, 600},
	    {"match count runs off", {0x1f, 'a', 1, 0, 255}, 5, 600},
	    {"short output", {0x10, 'a', 1, 0, 0x00}, 5, 6},
	    {"trailing token after a full output", {0x10, 'a', 1, 0, 0x00, 0x00}, 6, 5},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (decode_guarded(bad[i].b, bad[i].n, bad[i].want))
			fail_msg("accepted: %s", bad[i].why);
	}
	/* and the well-formed neighbours pass */
	static const uint8_t good[] = {0x10, 'a', 1, 0, 0x00};
	assert_true(decode_guarded(good, sizeof(good), 5));
	static const uint8_t empty[] = {0x00};
	assert_true(decode_guarded(empty, 1, 0));
}

int main(void)
{
	lz_table_init(&g_table);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pages_roundtrip), cmocka_unit_test(test_every_small_size),
	    cmocka_unit_test(test_largest_input),   cmocka_unit_test(test_stale_table),
	    cmocka_unit_test(test_bound),           cmocka_unit_test(test_cap),
	    cmocka_unit_test(test_truncations),     cmocka_unit_test(test_corruptions),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
