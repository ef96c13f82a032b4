/* Bitmap helpers; see bitmap.h. */
#include "kernel/bitmap.h"

/* bitmap_set_range: whole words in the middle, masked words at the ends. */
void bitmap_set_range(uint64_t *map, uint64_t first, uint64_t n)
{
	while (n && (first % 64)) {
		bitmap_set(map, first++);
		n--;
	}
	for (; n >= 64; n -= 64, first += 64)
		map[first / 64] = ~0ULL;
	while (n--)
		bitmap_set(map, first++);
}

uint64_t bitmap_count(const uint64_t *map, uint64_t nbits)
{
	uint64_t n = 0, w;
	for (w = 0; w < nbits / 64; w++)
		n += popcount64(map[w]);
	if (nbits % 64)
		n += popcount64(map[w] & ((1ULL << (nbits % 64)) - 1));
	return n;
}

uint64_t bitmap_next_set(const uint64_t *map, uint64_t nbits, uint64_t from)
{
	if (from >= nbits)
		return nbits;
	uint64_t w = from / 64;
	uint64_t bits = map[w] & (~0ULL << (from % 64));
	for (;;) {
		if (bits) {
			uint64_t b = w * 64 + (uint64_t)__builtin_ctzll(bits);
			return b < nbits ? b : nbits;
		}
		if (++w >= BITMAP_WORDS(nbits))
			return nbits;
		bits = map[w];
	}
}

uint64_t bitmap_fetch_clear(uint64_t *map, uint64_t *out, uint64_t nbits)
{
	uint64_t moved = 0;
	for (uint64_t w = 0; w < BITMAP_WORDS(nbits); w++) {
		if (!__atomic_load_n(&map[w], __ATOMIC_RELAXED))
			continue;
		uint64_t v = __atomic_exchange_n(&map[w], 0, __ATOMIC_ACQ_REL);
		out[w] |= v;
		moved += popcount64(v);
	}
	return moved;
}
