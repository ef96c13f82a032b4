/*
 * Internet checksum (RFC 1071) with a 64-bit accumulator: 8 bytes are loaded at a time and
 * their two 32-bit halves added into 64-bit sums, so no carry has to be propagated in the
 * loop (2^32 additions fit). The one's-complement sum is byte-order independent (RFC 1071
 * 2(B)): words are loaded in host order and the folded result is stored the same way.
 */
#include "net/net_internal.h"

/* load64: unaligned 8-byte load in host order. */
static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* load32: unaligned 4-byte load in host order. */
static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* load16: unaligned 2-byte load in host order. */
static inline uint16_t load16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* fold64: reduce a 64-bit sum to 16 bits with end-around carries. */
static inline uint16_t fold64(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* csum_partial: add len bytes (taken as starting at an even offset) to an unfolded sum. */
uint64_t csum_partial(const void *buf, size_t len, uint64_t sum)
{
	const uint8_t *p = buf;
	uint64_t a = 0, b = 0;
	/* 32 bytes per round, two independent accumulators */
	while (len >= 32) {
		uint64_t v0 = load64(p), v1 = load64(p + 8), v2 = load64(p + 16),
		         v3 = load64(p + 24);
		a += (v0 & 0xffffffffu) + (v0 >> 32) + (v1 & 0xffffffffu) + (v1 >> 32);
		b += (v2 & 0xffffffffu) + (v2 >> 32) + (v3 & 0xffffffffu) + (v3 >> 32);
		p += 32;
		len -= 32;
	}
	while (len >= 8) {
		uint64_t v = load64(p);
		a += (v & 0xffffffffu) + (v >> 32);
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		b += load32(p);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		a += load16(p);
		p += 2;
		len -= 2;
	}
	if (len) {
		uint8_t pad[2] = {p[0], 0};
		b += load16(pad);
	}
	/* fold the accumulators before adding so that sum never overflows */
	return (uint64_t)fold64(sum) + fold64(a) + fold64(b);
}

/* csum_fold: fold to 16 bits and complement; the result is stored with memcpy (wire order). */
uint16_t csum_fold(uint64_t sum)
{
	return (uint16_t)~fold64(sum);
}

/* csum_pseudo: unfolded sum of the IPv4 pseudo-header (RFC 793 3.1, RFC 768). */
uint64_t csum_pseudo(net_ip4 src, net_ip4 dst, uint8_t proto, uint32_t len)
{
	uint8_t ph[12];
	put_be32(ph, src);
	put_be32(ph + 4, dst);
	ph[8] = 0;
	ph[9] = proto;
	put_be16(ph + 10, (uint16_t)len);
	return csum_partial(ph, sizeof(ph), 0);
}

/* bswap16: swap the bytes of a 16-bit partial sum (a piece that started at an odd offset). */
static inline uint64_t bswap16(uint16_t v)
{
	return (uint16_t)((v << 8) | (v >> 8));
}

/* csum_iov: add a gather list to sum; odd-length pieces are handled. */
uint64_t csum_iov(const struct net_iov *iov, unsigned n, uint64_t sum)
{
	bool odd = false;
	for (unsigned i = 0; i < n; i++) {
		uint64_t part = csum_partial(iov[i].base, iov[i].len, 0);
		sum += odd ? bswap16(fold64(part)) : fold64(part);
		if (iov[i].len & 1)
			odd = !odd;
	}
	return sum;
}
