/* Helpers shared by the tests/unit/test_crypto_*.c host tests (hex, PRNG, timing). */
#ifndef TERN_CRYPTO_TEST_UTIL_H
#define TERN_CRYPTO_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* unhex: decode the hex digits in s (spaces, colons and newlines ignored) into out. */
static inline size_t unhex(uint8_t *out, size_t cap, const char *s)
{
	size_t n = 0;
	int hi = -1;
	for (; *s; s++) {
		int c = *s, v;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap) {
			fprintf(stderr, "unhex: vector longer than %zu bytes\n", cap);
			abort();
		}
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0) {
		fprintf(stderr, "unhex: odd number of digits\n");
		abort();
	}
	return n;
}

/* Deterministic PRNG (splitmix64) so a failing randomized run can be repeated. */
static uint64_t test_rng_state = 0x7465726e63727970ull; /* "terncryp" */

/* test_seed: seed from $TERN_TEST_SEED if set, and print it. */
static inline void test_seed(const char *who)
{
	const char *e = getenv("TERN_TEST_SEED");
	if (e)
		test_rng_state = strtoull(e, NULL, 0);
	fprintf(stderr, "%s: TERN_TEST_SEED=%#llx\n", who, (unsigned long long)test_rng_state);
}

/* rnd64: next pseudo-random 64-bit value. */
static inline uint64_t rnd64(void)
{
	uint64_t z = (test_rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* rnd_below: pseudo-random value in [0, n). */
static inline size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd64() % n) : 0;
}

/* rnd_bytes: fill p with n pseudo-random bytes. */
static inline void rnd_bytes(void *p, size_t n)
{
	uint8_t *b = p;
	while (n) {
		uint64_t v = rnd64();
		for (int i = 0; i < 8 && n; i++, n--)
			*b++ = (uint8_t)(v >> (8 * i));
	}
}

/* now_ns: monotonic time for the micro-benchmarks. */
static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* all_bytes_are: true if every byte of p is v. */
static inline int all_bytes_are(const void *p, size_t n, uint8_t v)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return 0;
	return 1;
}

#endif
