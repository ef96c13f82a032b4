/*
 * libFuzzer target for the page compressor (migrate/lz.c). The first byte picks the mode:
 * bit 0 clear: the rest is a block for the decompressor, which must stay inside the input and
 * an exact-size output of the size bits 1-3 pick (ASan sees any stray byte), and whatever it
 * accepts must survive a compress/decompress round trip; bit 0 set: the rest (up to
 * LZ_MAX_INPUT bytes) must round-trip, fit LZ_BOUND, and fail to compress (writing nothing)
 * into one byte less than it needed. Bit 4 starts from a fresh hash table; otherwise the
 * table keeps what earlier inputs left in it, as the kernel's does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/lz.h"
#include "tests/fuzz/fuzz_check.h"

static struct lz_table g_table;

/* roundtrip: src[0..n) through the compressor and back, in exact-size buffers. */
static void roundtrip(const uint8_t *src, size_t n)
{
	size_t cap = LZ_BOUND(n);
	uint8_t *blk = malloc(cap), *out = malloc(n ? n : 1);
	struct lz_table *before = malloc(sizeof(*before)); /* the same parse again, below */
	memcpy(before, &g_table, sizeof(g_table));
	size_t k = lz_compress(&g_table, src, n, blk, cap);
	CHECK(k > 0 && k <= cap);
	uint8_t *exact = malloc(k);
	memcpy(exact, blk, k);
	CHECK(lz_decompress(exact, k, out, n));
	CHECK(memcmp(out, src, n) == 0);
	if (k > 1) { /* a byte short: refused, and nothing written past the smaller cap */
		uint8_t *small = malloc(k - 1);
		CHECK(lz_compress(before, src, n, small, k - 1) == 0);
		free(small);
	}
	free(before);
	free(exact);
	free(blk);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t wants[8] = {4096, 4096, 4096, 4096, 0, 1, 19, 300};
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	size_t n = size - 1;
	if (mode & 0x10)
		lz_table_init(&g_table);
	uint8_t *in = malloc(n ? n : 1); /* exact size: ASan catches an overread */
	memcpy(in, data + 1, n);
	if (mode & 1) {
		if (n <= LZ_MAX_INPUT)
			roundtrip(in, n);
		free(in);
		return 0;
	}
	size_t want = wants[(mode >> 1) & 7];
	uint8_t *out = malloc(want ? want : 1);
	if (lz_decompress(in, n, out, want))
		roundtrip(out, want);
	free(out);
	free(in);
	return 0;
}
