/* LZ77 page compressor and its checked decompressor; the block format is in lz.h. */
#include "migrate/lz.h"
#include "kernel/endian.h"
#include "kernel/panic.h"
#include "kernel/string.h"

/* After 2^LZ_SKIP_SHIFT misses in a row the search steps 2 bytes, then 3, ...: incompressible
 * data costs little time. */
#define LZ_SKIP_SHIFT 5

/* hash4: the table slot of the 4 bytes at p (multiplicative hash, top bits). */
static inline uint32_t hash4(const uint8_t *p)
{
	return (le32_load(p) * 2654435761u) >> (32 - LZ_HASH_BITS);
}

/* The block being written; a write that does not fit marks it full (and writes nothing). */
struct lz_out {
	uint8_t *p, *end;
	bool full;
};

/* put_bytes: len bytes, or mark the output full. */
static void put_bytes(struct lz_out *o, const void *b, size_t len)
{
	if (o->full || len > (size_t)(o->end - o->p)) {
		o->full = true;
		return;
	}
	memcpy(o->p, b, len);
	o->p += len;
}

/* put_byte: one byte. */
static void put_byte(struct lz_out *o, uint8_t b)
{
	put_bytes(o, &b, 1);
}

/* put_count: an extension count: 255 per byte while v >= 255, then the rest. */
static void put_count(struct lz_out *o, size_t v)
{
	for (; v >= 255 && !o->full; v -= 255)
		put_byte(o, 255);
	put_byte(o, (uint8_t)v);
}

/* put_sequence: nlit literals, then (mlen > 0) a match of mlen bytes off back. */
static void put_sequence(struct lz_out *o, const uint8_t *lit, size_t nlit, size_t off, size_t mlen)
{
	size_t m = mlen ? mlen - LZ_MIN_MATCH : 0;
	put_byte(o, (uint8_t)(MIN(nlit, 15) << 4 | MIN(m, 15)));
	if (nlit >= 15)
		put_count(o, nlit - 15);
	put_bytes(o, lit, nlit);
	if (!mlen)
		return;
	uint8_t ob[2];
	le16_store(ob, (uint16_t)off);
	put_bytes(o, ob, 2);
	if (m >= 15)
		put_count(o, m - 15);
}

/* match_len: how many of the first limit bytes at a and b agree (8 at a time: the lowest set
 * bit of the little-endian XOR is in the first byte that differs). */
static size_t match_len(const uint8_t *a, const uint8_t *b, size_t limit)
{
	size_t n = 0;
	while (n + 8 <= limit) {
		uint64_t x = le64_load(a + n) ^ le64_load(b + n);
		if (x)
			return n + ((size_t)__builtin_ctzll(x) >> 3);
		n += 8;
	}
	while (n < limit && a[n] == b[n])
		n++;
	return n;
}

/* lz_table_init: every slot at position 0. */
void lz_table_init(struct lz_table *t)
{
	memset(t, 0, sizeof(*t));
}

/* lz_compress: greedy parse; a table entry is used only if it lies before the current position
 * and its 4 bytes match, so stale entries from other inputs cost nothing but a compare. */
size_t lz_compress(struct lz_table *t, const uint8_t *src, size_t n, uint8_t *dst, size_t cap)
{
	ASSERT(n <= LZ_MAX_INPUT);
	struct lz_out o = {dst, dst + cap, false};
	size_t ip = 0, anchor = 0, misses = 0;
	while (ip + LZ_MIN_MATCH <= n && !o.full) {
		uint32_t h = hash4(src + ip);
		size_t cand = t->head[h];
		t->head[h] = (uint16_t)ip;
		if (cand >= ip || le32_load(src + cand) != le32_load(src + ip)) {
			ip += 1 + (misses++ >> LZ_SKIP_SHIFT);
			continue;
		}
		misses = 0;
		while (ip > anchor && cand > 0 && src[ip - 1] == src[cand - 1])
			ip--, cand--; /* the match may start earlier */
		size_t len =
		    LZ_MIN_MATCH + match_len(src + cand + LZ_MIN_MATCH, src + ip + LZ_MIN_MATCH,
		                             n - ip - LZ_MIN_MATCH);
		put_sequence(&o, src + anchor, ip - anchor, ip - cand, len);
		ip += len;
		anchor = ip;
		if (ip + 2 <= n) /* helps the next match start right here */
			t->head[hash4(src + ip - 2)] = (uint16_t)(ip - 2);
	}
	put_sequence(&o, src + anchor, n - anchor, 0, 0);
	return o.full ? 0 : (size_t)(o.p - dst);
}

/* get_count: add an extension count at src[*ip..n) to *v; false if the input ends first. */
static bool get_count(const uint8_t *src, size_t n, size_t *ip, size_t *v)
{
	uint8_t b;
	do {
		if (*ip >= n)
			return false;
		b = src[(*ip)++];
		*v += b;
	} while (b == 255);
	return true;
}

/* copy_match: len bytes into d from off bytes back; overlapping copies repeat the pattern
 * (the copied span doubles each step, so short periods stay cheap). */
static void copy_match(uint8_t *d, size_t off, size_t len)
{
	const uint8_t *s = d - off;
	while (len) {
		size_t k = MIN(len, (size_t)(d - s));
		memcpy(d, s, k);
		d += k;
		len -= k;
	}
}

/* lz_decompress: sequence by sequence, each count checked before it is used. */
bool lz_decompress(const uint8_t *src, size_t n, uint8_t *dst, size_t want)
{
	size_t ip = 0, op = 0;
	while (ip < n) {
		uint8_t tok = src[ip++];
		size_t lit = tok >> 4, mlen = (size_t)(tok & 15) + LZ_MIN_MATCH;
		if (lit == 15 && !get_count(src, n, &ip, &lit))
			return false;
		if (lit > n - ip || lit > want - op)
			return false;
		memcpy(dst + op, src + ip, lit);
		ip += lit;
		op += lit;
		if (ip == n) /* the last sequence: literals only */
			return (tok & 15) == 0 && op == want;
		if (n - ip < 2)
			return false;
		size_t off = le16_load(src + ip);
		ip += 2;
		if ((tok & 15) == 15 && !get_count(src, n, &ip, &mlen))
			return false;
		if (off == 0 || off > op || mlen > want - op)
			return false;
		copy_match(dst + op, off, mlen);
		op += mlen;
	}
	return false;
}
