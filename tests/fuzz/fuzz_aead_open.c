/*
 * libFuzzer target for the receive side of Tern's crypto: random records fed to aead_open,
 * crypto_stream_open and crypto_dgram_open must never crash, never be accepted, and never
 * write plaintext; sealed records must round-trip and any single flipped bit must be
 * rejected; the cluster key parser must not crash. The first input byte selects the mode.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "migrate/aead.h"
#include "migrate/crypto_util.h"
#include "migrate/keys.h"
#include "tests/fuzz/fuzz_check.h"

#define MAXREC 8192

static const struct session_key fixed_key = {
    .key = {0x4d, 0x1a, 0x92, 0x07, 0xe3, 0x55, 0x10, 0xc8, 0x2b, 0x7f, 0x61,
            0xa0, 0x9e, 0x33, 0xd4, 0x48, 0x05, 0xbc, 0x76, 0x1f, 0xe8, 0x2a,
            0x59, 0x93, 0xc1, 0x6e, 0x04, 0xfd, 0x87, 0x3b, 0xa6, 0x12},
    .iv = {0x90, 0x81, 0x72, 0x63, 0x54, 0x45, 0x36, 0x27, 0x18, 0x09, 0xfa, 0xeb},
};

static uint8_t out[MAXREC];

/* untouched: the output buffer still holds the 0xa5 filler. */
static int untouched(size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] != 0xa5)
			return 0;
	return 1;
}

/* fuzz_raw: nonce(12) | aad_len(1) | aad | ciphertext | tag(16) straight into aead_open. */
static void fuzz_raw(const uint8_t *d, size_t n)
{
	uint8_t nonce[12] = {0};
	if (n < 13 + AEAD_TAG_SIZE)
		return;
	memcpy(nonce, d, 12);
	size_t aad_len = d[12];
	d += 13, n -= 13;
	if (aad_len > n - AEAD_TAG_SIZE)
		aad_len = n - AEAD_TAG_SIZE;
	const uint8_t *aad = d, *ct = d + aad_len;
	size_t len = n - aad_len - AEAD_TAG_SIZE;
	if (len > MAXREC)
		return;
	memset(out, 0xa5, len);
	int rc = aead_open(out, ct, len, ct + len, aad, aad_len, nonce, fixed_key.key);
	CHECK(rc == CRYPTO_E_AUTH);
	CHECK(untouched(len));
}

/* fuzz_stream: le64 seq | aad_len(1) | aad | ciphertext | tag into a fresh stream. */
static void fuzz_stream(const uint8_t *d, size_t n)
{
	struct crypto_stream s;
	if (n < 9 + AEAD_TAG_SIZE)
		return;
	uint64_t seq = load64_le(d) & 3; /* mostly 0: the one that reaches aead_open */
	size_t aad_len = d[8];
	d += 9, n -= 9;
	if (aad_len > n - AEAD_TAG_SIZE)
		aad_len = n - AEAD_TAG_SIZE;
	size_t len = n - aad_len - AEAD_TAG_SIZE;
	if (len > MAXREC)
		return;
	crypto_stream_init(&s, &fixed_key);
	memset(out, 0xa5, len);
	int rc = crypto_stream_open(&s, seq, out, d + aad_len, len, d + aad_len + len, d, aad_len);
	CHECK(rc == (seq ? CRYPTO_E_ORDER : CRYPTO_E_AUTH));
	CHECK(untouched(len));
	CHECK(s.seq == 0);
}

/* fuzz_dgram: the bytes as a UDP datagram for a receiver expecting sender 7. */
static void fuzz_dgram(const uint8_t *d, size_t n)
{
	struct crypto_dgram_rx rx;
	crypto_dgram_rx_init(&rx, &fixed_key, 7);
	memset(out, 0xa5, sizeof(out));
	int rc = crypto_dgram_open(&rx, out, sizeof(out), d, n, NULL);
	CHECK(rc < 0);
	CHECK(untouched(sizeof(out)));
	CHECK(!rx.win.any);
}

/* fuzz_roundtrip: seal the input, open it, then flip one input-chosen bit: must fail. */
static void fuzz_roundtrip(const uint8_t *d, size_t n)
{
	static uint8_t ct[MAXREC + 64];
	uint8_t tag[16], nonce[12] = {0};
	if (n < 3)
		return;
	size_t aad_len = d[0] % 40, flip = (size_t)d[1] << 8 | d[2];
	d += 3, n -= 3;
	if (aad_len > n)
		aad_len = n;
	size_t len = n - aad_len;
	if (len > MAXREC)
		return;
	memcpy(nonce, d, MIN(n, sizeof(nonce)));
	CHECK(aead_seal(ct, tag, d + aad_len, len, d, aad_len, nonce, fixed_key.key) == CRYPTO_OK);
	CHECK(aead_open(out, ct, len, tag, d, aad_len, nonce, fixed_key.key) == CRYPTO_OK);
	CHECK(!memcmp(out, d + aad_len, len));

	size_t bits = (len + AEAD_TAG_SIZE) * 8;
	flip %= bits;
	if (flip < len * 8)
		ct[flip / 8] ^= (uint8_t)(1 << (flip % 8));
	else
		tag[(flip - len * 8) / 8] ^= (uint8_t)(1 << (flip % 8));
	memset(out, 0xa5, len);
	CHECK(aead_open(out, ct, len, tag, d, aad_len, nonce, fixed_key.key) == CRYPTO_E_AUTH);
	CHECK(untouched(len));
}

/* fuzz_keyparse: arbitrary tern.conf values (1 iteration to keep it fast). */
static void fuzz_keyparse(const uint8_t *d, size_t n)
{
	uint8_t key[32];
	int rc = keys_parse_cluster_key_iter(key, (const char *)d, n, 1);
	CHECK(rc == CRYPTO_OK || rc == CRYPTO_E_FORMAT || rc == CRYPTO_E_WEAK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_raw(data + 1, size - 1);
		break;
	case 1:
		fuzz_stream(data + 1, size - 1);
		break;
	case 2:
		fuzz_dgram(data + 1, size - 1);
		break;
	case 3:
		fuzz_roundtrip(data + 1, size - 1);
		break;
	default:
		fuzz_keyparse(data + 1, size - 1);
		break;
	}
	return 0;
}
