/*
 * Unit tests for vmm/pvclock.c: the scale for TSCs from 1 MHz to 10 GHz converts within
 * 1 ppm (+1 ns) of the exact tick count over an hour and a year of ticks; the multiplier keeps
 * its precision; the records have the guest ABI's layout (Linux struct pvclock_vcpu_time_info
 * and pvclock_wall_clock); and the TSC frequency a Linux guest derives from the record
 * (pvclock_tsc_khz) is the host's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/pvclock.h"

static const uint64_t g_hz[] = {1000000ULL,    33333333ULL,   499999999ULL,  500000000ULL,
                                999999999ULL,  1000000000ULL, 1000000001ULL, 1999999999ULL,
                                2000000000ULL, 2100000000ULL, 2994567123ULL, 3000000000ULL,
                                3700000001ULL, 4000000000ULL, 5200000000ULL, 10000000000ULL};

/* exact_ns: ticks * 1e9 / hz without overflow (long double is not exact enough). */
static uint64_t exact_ns(uint64_t ticks, uint64_t hz)
{
	return (uint64_t)((unsigned __int128)ticks * 1000000000ULL / hz);
}

/* linux_tsc_khz: what the guest's pvclock_tsc_khz() computes from the record. */
static uint64_t linux_tsc_khz(struct pvclock_scale s)
{
	uint64_t khz = (1000000ULL << 32) / s.mul;
	return s.shift < 0 ? khz << -s.shift : khz >> s.shift;
}

static void test_scale_accuracy(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(g_hz) / sizeof(g_hz[0]); i++) {
		uint64_t hz = g_hz[i];
		struct pvclock_scale s = pvclock_scale_for(hz);
		assert_true(s.shift >= -2 && s.shift <= 31);
		if (hz <= 8000000000ULL)
			assert_true(s.mul >= (1u << 31)); /* 31+ significant bits */
		for (uint64_t secs = 1; secs <= 31536000ULL; secs *= 60) { /* 1 s ... ~1 year */
			uint64_t ticks = hz * secs, want = exact_ns(ticks, hz);
			uint64_t got = pvclock_scale_delta(ticks, s);
			uint64_t err = got > want ? got - want : want - got;
			assert_true(err <= want / 1000000 + 2); /* 1 ppm */
		}
		uint64_t khz = linux_tsc_khz(s);
		uint64_t e = khz > hz / 1000 ? khz - hz / 1000 : hz / 1000 - khz;
		assert_true(e <= hz / 1000 / 100000 + 1); /* 10 ppm */
	}
}

static void test_scale_small_deltas(void **state)
{
	(void)state;
	struct pvclock_scale s = pvclock_scale_for(3000000000ULL);
	assert_int_equal(pvclock_scale_delta(0, s), 0);
	for (uint64_t d = 1; d < 100000; d += 7) {
		uint64_t want = d / 3, got = pvclock_scale_delta(d, s);
		assert_true(got + 1 >= want && got <= want + 1);
	}
}

static void test_read_is_continuous(void **state)
{
	(void)state;
	/* republishing at any point from the previous record keeps the clock continuous */
	struct pvclock_scale s1 = pvclock_scale_for(2994567123ULL);
	struct pvclock_scale s2 = pvclock_scale_for(2995000000ULL); /* another host's calibration */
	struct pvclock_point p = {123456789ULL, 5000000000ULL};
	uint64_t tsc = p.tsc + 2994567123ULL * 100;
	uint64_t t1 = pvclock_read(p, s1, tsc);
	struct pvclock_point q = {tsc, t1};
	assert_int_equal(pvclock_read(q, s2, tsc), t1);
	assert_true(pvclock_read(q, s2, tsc + 3000) > t1);
	uint64_t exact = p.ns + exact_ns(tsc - p.tsc, 2994567123ULL);
	assert_true(t1 >= exact - 100 && t1 <= exact + 100);
}

static void test_rate_ppm(void **state)
{
	(void)state;
	assert_int_equal(pvclock_rate_ppm(0, 2596000), 0); /* unknown: no verdict */
	assert_int_equal(pvclock_rate_ppm(2596000, 0), 0);
	assert_int_equal(pvclock_rate_ppm(2596162, 2596162), 0);
	assert_int_equal(pvclock_rate_ppm(2596536, 2596061), 182); /* two calibrations, one CPU */
	assert_int_equal(pvclock_rate_ppm(2596061, 2596536), 182);
	assert_int_equal(pvclock_rate_ppm(3000000, 2000000), 500000);
	assert_int_equal(pvclock_rate_ppm(9000000, 1000000), 8000000);
	assert_int_equal(pvclock_rate_ppm(1ULL << 43, 1), 1000000 * ((1ULL << 43) - 1));
}

static void test_record_layout(void **state)
{
	(void)state;
	uint8_t r[PVCLOCK_SIZE];
	memset(r, 0xee, sizeof(r));
	struct pvclock_scale s = {0x89abcdefu, -1};
	pvclock_encode(r, 7, (struct pvclock_point){0x1122334455667788ULL, 0x0102030405060708ULL},
	               s, PVCLOCK_TSC_STABLE | PVCLOCK_GUEST_STOPPED);
	static const uint8_t want[PVCLOCK_SIZE] = {7,    0,    0,    0,    0,    0,    0,    0,
	                                           0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	                                           0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
	                                           0xef, 0xcd, 0xab, 0x89, 0xff, 0x03, 0,    0};
	assert_memory_equal(r, want, PVCLOCK_SIZE);

	uint8_t w[PVCLOCK_WALL_SIZE];
	pvclock_encode_wall(w, 2, 1764672000ULL * 1000000000ULL + 123456789ULL);
	static const uint8_t wantw[PVCLOCK_WALL_SIZE] = {2,    0,    0,    0,    0x00, 0xc2,
	                                                 0x2e, 0x69, 0x15, 0xcd, 0x5b, 0x07};
	assert_memory_equal(w, wantw, PVCLOCK_WALL_SIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scale_accuracy),     cmocka_unit_test(test_scale_small_deltas),
	    cmocka_unit_test(test_read_is_continuous), cmocka_unit_test(test_rate_ppm),
	    cmocka_unit_test(test_record_layout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
