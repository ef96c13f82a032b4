/*
 * A small LZ77 compressor for guest pages (pure; host-tested and fuzzed). Migration and
 * snapshots use it to shrink RAM records (vmm/ramrec.h); the format is Tern's own, in the
 * spirit of the LZ4 block format.
 *
 *   block    := sequence* last
 *   sequence := token litext* literal[L] offset matchext*
 *   last     := token litext* literal[L]        (the block ends right after these literals;
 *                                                the token's low nibble must be 0)
 *   token    := u8: bits 7..4 literal count L (15: L = 15 + litext), bits 3..0 match length
 *               M - 4 (15: M = 19 + matchext)
 *   litext, matchext := u8*: bytes added to the count; a byte of 255 means another follows
 *   offset   := u16 little-endian, 1 .. (bytes produced so far): the match copies M bytes
 *               starting that far back in the output (it may overlap what it produces)
 *
 * The decompressor takes untrusted bytes: every count, offset and length is checked against
 * the input and the output, and it succeeds only if the block yields exactly the expected
 * size. The compressor keeps no state of its own: its hash table belongs to the caller
 * (kernel stacks are small).
 */
#ifndef TERN_LZ_H
#define TERN_LZ_H

#include "kernel/compiler.h"

#define LZ_MIN_MATCH 4
#define LZ_MAX_INPUT 65536 /* positions are 16-bit */
#define LZ_HASH_BITS 12
#define LZ_HASH_SIZE (1u << LZ_HASH_BITS)
/* LZ_BOUND: the most bytes lz_compress produces from n (all literals). */
#define LZ_BOUND(n) ((n) + (n) / 255 + 16)

/* The compressor's work area: last position seen for each hash of 4 bytes (8 KiB). */
struct lz_table {
	uint16_t head[LZ_HASH_SIZE];
};

/* lz_table_init: an empty table (once; entries left by earlier inputs are harmless). */
void lz_table_init(struct lz_table *t);
/* lz_compress: n bytes (n <= LZ_MAX_INPUT) into dst; the block's size, or 0 if it would not
 * fit in cap bytes. */
size_t lz_compress(struct lz_table *t, const uint8_t *src, size_t n, uint8_t *dst, size_t cap);
/* lz_decompress: the block src[0..n) into exactly want bytes at dst; false if the block is
 * malformed or yields any other size. Nothing outside src[0..n) and dst[0..want) is touched. */
bool lz_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t want);

#endif
