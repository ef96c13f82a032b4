/* Shared crypto helpers: error strings, secret wipe, constant-time compare (pure). */
#include "migrate/crypto_util.h"

/* crypto_strerror: a short constant description of an enum crypto_err value. */
const char *crypto_strerror(int err)
{
	switch (err) {
	case CRYPTO_OK:
		return "ok";
	case CRYPTO_E_AUTH:
		return "authentication failed";
	case CRYPTO_E_TOOLONG:
		return "message too long";
	case CRYPTO_E_INVAL:
		return "invalid argument";
	case CRYPTO_E_REPLAY:
		return "replayed or too old";
	case CRYPTO_E_ORDER:
		return "out of order";
	case CRYPTO_E_EXHAUSTED:
		return "sequence space exhausted";
	case CRYPTO_E_DEAD:
		return "channel closed after an earlier failure";
	case CRYPTO_E_FORMAT:
		return "malformed input";
	case CRYPTO_E_WEAK:
		return "weak or too short key";
	case CRYPTO_E_SPACE:
		return "output buffer too small";
	case CRYPTO_E_PEER:
		return "unexpected sender";
	default:
		return "unknown crypto error";
	}
}

/*
 * crypto_wipe: zero n bytes holding secrets. The empty asm takes the pointer as an input and
 * clobbers memory, so the compiler must assume the zeroes are read and cannot drop the memset
 * as a dead store (the same trick as Linux's memzero_explicit / barrier_data).
 */
void crypto_wipe(void *p, size_t n)
{
	if (!p || !n)
		return;
	memset(p, 0, n);
	__asm__ volatile("" : : "r"(p) : "memory");
}

/*
 * crypto_ct_equal: true if the n bytes at a and b match. Every byte is read and OR-folded; the
 * asm hides the accumulator from the optimiser so it cannot add an early exit.
 */
bool crypto_ct_equal(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	uint32_t d = 0;
	for (size_t i = 0; i < n; i++) {
		d |= (uint32_t)(x[i] ^ y[i]);
		__asm__("" : "+r"(d));
	}
	/* d is 0..255: (d - 1) >> 8 is all ones only for d == 0. */
	return ((d - 1) >> 8) & 1;
}
