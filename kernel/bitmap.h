/* Bitmaps of 64-bit words (pure; host-tested). Atomic variants are safe against other CPUs. */
#ifndef TERN_BITMAP_H
#define TERN_BITMAP_H

#include "kernel/compiler.h"

#define BITMAP_WORDS(nbits) (((nbits) + 63) / 64)

static inline void bitmap_set(uint64_t *map, uint64_t bit)
{
	map[bit / 64] |= 1ULL << (bit % 64);
}

static inline void bitmap_clear(uint64_t *map, uint64_t bit)
{
	map[bit / 64] &= ~(1ULL << (bit % 64));
}

static inline bool bitmap_test(const uint64_t *map, uint64_t bit)
{
	return (map[bit / 64] >> (bit % 64)) & 1;
}

/* bitmap_set_atomic: set a bit visible to other CPUs (device writes during migration). */
static inline void bitmap_set_atomic(uint64_t *map, uint64_t bit)
{
	__atomic_or_fetch(&map[bit / 64], 1ULL << (bit % 64), __ATOMIC_RELAXED);
}

/* bitmap_set_range: set bits [first, first + n). */
void bitmap_set_range(uint64_t *map, uint64_t first, uint64_t n);
/* bitmap_count: number of set bits among the first nbits. */
uint64_t bitmap_count(const uint64_t *map, uint64_t nbits);
/* bitmap_next_set: the first set bit at or after from, or nbits if none. */
uint64_t bitmap_next_set(const uint64_t *map, uint64_t nbits, uint64_t from);
/* bitmap_fetch_clear: OR map into out and clear map, word by word atomically; returns the
 * number of bits moved. */
uint64_t bitmap_fetch_clear(uint64_t *map, uint64_t *out, uint64_t nbits);

#endif
