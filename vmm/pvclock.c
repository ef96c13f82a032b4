/* Paravirtual clock records and arithmetic; see pvclock.h. */
#include "vmm/pvclock.h"
#include "kernel/endian.h"
#include "kernel/string.h"

struct pvclock_scale pvclock_scale_for(uint64_t tsc_hz)
{
	/* mul = 1e9 * 2^(32 - shift) / tsc_hz, with shift chosen so that mul < 2^32 and, where
	 * the 64-bit numerator allows (TSCs up to ~8 GHz), mul >= 2^31 */
	struct pvclock_scale s = {0, 0};
	uint64_t hz = tsc_hz ? tsc_hz : 1;
	int shift = 0;
	uint64_t mul = (PVCLOCK_NSEC_PER_SEC << 32) / hz;
	while (mul >= (1ULL << 32)) { /* TSC under 1 GHz: shift left */
		hz <<= 1;
		shift++;
		mul = (PVCLOCK_NSEC_PER_SEC << 32) / hz;
	}
	for (int k = 1; shift <= 0 && k <= 2 && mul < (1ULL << 31); k++) { /* fast TSC: precision */
		mul = (PVCLOCK_NSEC_PER_SEC << (32 + k)) / hz;
		shift = -k;
	}
	s.mul = (uint32_t)mul;
	s.shift = (int8_t)shift;
	return s;
}

uint64_t pvclock_scale_delta(uint64_t delta, struct pvclock_scale s)
{
	if (s.shift < 0)
		delta >>= -s.shift;
	else
		delta <<= s.shift;
	/* (delta * mul) >> 32 in two 32x32 halves: no 128-bit type needed */
	uint64_t lo = (delta & 0xffffffffULL) * s.mul, hi = (delta >> 32) * s.mul;
	return hi + (lo >> 32);
}

uint64_t pvclock_read(struct pvclock_point p, struct pvclock_scale s, uint64_t tsc)
{
	if (tsc >= p.tsc)
		return p.ns + pvclock_scale_delta(tsc - p.tsc, s);
	uint64_t back = pvclock_scale_delta(p.tsc - tsc, s); /* a TSC set back by the guest */
	return back < p.ns ? p.ns - back : 0;
}

uint64_t pvclock_rate_ppm(uint64_t a, uint64_t b)
{
	if (!a || !b)
		return 0;
	uint64_t d = a > b ? a - b : b - a;
	return d >= b ? 1000000 * (d / b) : d * 1000000 / b; /* no overflow for rates < 2^44 */
}

void pvclock_encode(uint8_t out[PVCLOCK_SIZE], uint32_t version, struct pvclock_point p,
                    struct pvclock_scale s, uint8_t flags)
{
	memset(out, 0, PVCLOCK_SIZE);
	le32_store(out + 0, version); /* +4: pad */
	le64_store(out + 8, p.tsc);   /* tsc_timestamp */
	le64_store(out + 16, p.ns);   /* system_time */
	le32_store(out + 24, s.mul);  /* tsc_to_system_mul */
	out[28] = (uint8_t)s.shift;   /* tsc_shift (signed) */
	out[29] = flags;              /* +30: pad[2] */
}

void pvclock_encode_wall(uint8_t out[PVCLOCK_WALL_SIZE], uint32_t version, uint64_t epoch_ns)
{
	le32_store(out + 0, version);
	le32_store(out + 4, (uint32_t)(epoch_ns / PVCLOCK_NSEC_PER_SEC));
	le32_store(out + 8, (uint32_t)(epoch_ns % PVCLOCK_NSEC_PER_SEC));
}
