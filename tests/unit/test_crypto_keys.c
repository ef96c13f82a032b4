/*
 * Unit tests for migrate/keys.c: cluster key parsing, the passphrase KDF and session key
 * derivation (known answers from tests/unit/gen_crypto_kat.py), record streams, the replay
 * window and authenticated datagrams.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "migrate/keys.h"
#include "migrate/crypto_util.h"
#include "tests/unit/crypto_test_util.h"
#include "tests/unit/crypto_kat.h"

static const char hex_key[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/* seq_bytes: fill p with 00 01 02 ... offset by start. */
static void seq_bytes(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

/* parse: keys_parse_cluster_key on a C string. */
static int parse(uint8_t key[32], const char *s)
{
	return keys_parse_cluster_key(key, s, strlen(s));
}

/* Hex keys: case, prefix, length, bad digits, the all-zero placeholder. */
static void test_parse_hex(void **state)
{
	uint8_t key[32], want[32];
	char buf[80];
	seq_bytes(want, 32, 0);

	assert_int_equal(parse(key, hex_key), CRYPTO_OK);
	assert_memory_equal(key, want, 32);
	snprintf(buf, sizeof(buf), "hex:%s", hex_key);
	assert_int_equal(parse(key, buf), CRYPTO_OK);
	assert_memory_equal(key, want, 32);
	assert_int_equal(
	    parse(key, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"),
	    CRYPTO_OK);
	assert_memory_equal(key, want, 32);

	/* with the prefix, anything but 64 hex digits is malformed */
	assert_int_equal(parse(key, "hex:0001"), CRYPTO_E_FORMAT);
	snprintf(buf, sizeof(buf), "hex:%s0", hex_key);
	assert_int_equal(parse(key, buf), CRYPTO_E_FORMAT);
	snprintf(buf, sizeof(buf), "hex:%s", hex_key);
	buf[10] = 'g';
	assert_int_equal(parse(key, buf), CRYPTO_E_FORMAT);
	assert_true(all_bytes_are(key, 32, 0)); /* wiped on failure */
	assert_int_equal(
	    parse(key, "hex:0000000000000000000000000000000000000000000000000000000000000000"),
	    CRYPTO_E_WEAK);
	assert_int_equal(
	    parse(key, "0000000000000000000000000000000000000000000000000000000000000000"),
	    CRYPTO_E_WEAK);
}

/* The branch-free hex decoder agrees with a plain one on every byte value. */
static void test_parse_hex_digits(void **state)
{
	uint8_t key[32];
	char buf[80];
	for (int c = 1; c < 256; c++) {
		snprintf(buf, sizeof(buf), "hex:%s", hex_key);
		buf[4 + 63] = (char)c; /* low nibble of the last byte */
		int v = -1;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		int rc = parse(key, buf);
		if (v < 0) {
			assert_int_equal(rc, CRYPTO_E_FORMAT);
		} else {
			assert_int_equal(rc, CRYPTO_OK);
			assert_int_equal(key[31], 0x10 | v);
		}
	}
}

/* Passphrases: minimum length, prefix, NUL bytes, maximum length, the default KDF. */
static void test_parse_passphrase(void **state)
{
	uint8_t key[32], want[32];
	char big[KEYS_PASSPHRASE_MAX + 2];

	assert_int_equal(parse(key, "fifteen chars!!"), CRYPTO_E_WEAK);
	assert_int_equal(parse(key, "passphrase:short"), CRYPTO_E_WEAK);
	assert_int_equal(parse(key, ""), CRYPTO_E_WEAK);
	assert_int_equal(keys_parse_cluster_key(key, "0123456789abcdef\0xyz", 20), CRYPTO_E_FORMAT);
	memset(big, 'x', sizeof(big));
	assert_int_equal(keys_parse_cluster_key(key, big, KEYS_PASSPHRASE_MAX + 1),
	                 CRYPTO_E_FORMAT);
	assert_int_equal(keys_parse_cluster_key(NULL, big, 20), CRYPTO_E_INVAL);

	/* the default parameters are pinned: changing them would split a cluster */
	assert_int_equal(KEYS_PASSPHRASE_ITERATIONS, 1u << 20);
	const struct kat_stretch *k = &kat_stretch[ARRAY_SIZE(kat_stretch) - 1];
	assert_int_equal(k->iterations, KEYS_PASSPHRASE_ITERATIONS);
	unhex(want, 32, k->key);
	uint64_t t0 = now_ns();
	assert_int_equal(parse(key, k->pass), CRYPTO_OK);
	fprintf(stderr, "passphrase stretch (2^20 iterations): %.2f s in this ASan build\n",
	        (double)(now_ns() - t0) / 1e9);
	assert_memory_equal(key, want, 32);
}

/* Which strings are passphrases (checked with 1 iteration to keep the test fast). */
static void test_parse_classify(void **state)
{
	char buf[80];
	uint8_t key[32], want[32];

	/* 64 characters that are not all hex are a passphrase */
	snprintf(buf, sizeof(buf), "%s", hex_key);
	buf[0] = 'z';
	assert_int_equal(keys_parse_cluster_key_iter(key, buf, 64, 1), CRYPTO_OK);
	assert_int_equal(keys_stretch_passphrase(want, buf, 64, 1), CRYPTO_OK);
	assert_memory_equal(key, want, 32);
	/* the prefix forces a passphrase even for 64 hex digits; it is not part of it */
	snprintf(buf, sizeof(buf), "passphrase:%s", hex_key);
	assert_int_equal(keys_parse_cluster_key_iter(key, buf, strlen(buf), 1), CRYPTO_OK);
	assert_int_equal(keys_stretch_passphrase(want, hex_key, 64, 1), CRYPTO_OK);
	assert_memory_equal(key, want, 32);
	/* 63 or 65 hex digits without a prefix: a passphrase too */
	assert_int_equal(keys_parse_cluster_key_iter(key, hex_key, 63, 1), CRYPTO_OK);
	assert_int_equal(keys_stretch_passphrase(want, hex_key, 63, 1), CRYPTO_OK);
	assert_memory_equal(key, want, 32);
	/* exactly 16 characters is the minimum */
	assert_int_equal(keys_parse_cluster_key_iter(key, "0123456789abcdeZ", 16, 1), CRYPTO_OK);
	assert_int_equal(keys_parse_cluster_key_iter(key, "0123456789abcdZ", 15, 1), CRYPTO_E_WEAK);
	assert_int_equal(keys_parse_cluster_key_iter(key, "0123456789abcdeZ", 16, 0),
	                 CRYPTO_E_INVAL);
}

/* keys_stretch_passphrase with small iteration counts against the Python transcription. */
static void test_stretch_kat(void **state)
{
	for (size_t i = 0; i + 1 < ARRAY_SIZE(kat_stretch); i++) {
		uint8_t key[32], want[32];
		unhex(want, 32, kat_stretch[i].key);
		assert_int_equal(keys_stretch_passphrase(key, kat_stretch[i].pass,
		                                         strlen(kat_stretch[i].pass),
		                                         kat_stretch[i].iterations),
		                 CRYPTO_OK);
		assert_memory_equal(key, want, 32);
	}
	uint8_t key[32];
	assert_int_equal(keys_stretch_passphrase(key, "x", 1, 0), CRYPTO_E_INVAL);
}

/* kdf_extract / kdf_expand known answers and limits. */
static void test_kdf_kat(void **state)
{
	uint8_t prk[32], ikm[32], want[255 * 32], okm[255 * 32];
	seq_bytes(ikm, 32, 0);
	kdf_extract(prk, ikm, "tern test salt", 14);
	unhex(want, 32, kat_extract);
	assert_memory_equal(prk, want, 32);

	seq_bytes(prk, 32, 0x40);
	for (size_t i = 0; i < ARRAY_SIZE(kat_expand); i++) {
		size_t n = unhex(want, sizeof(want), kat_expand[i].okm);
		assert_int_equal(n, kat_expand[i].len);
		assert_int_equal(kdf_expand(okm, n, prk, "tern test info", 14), CRYPTO_OK);
		assert_memory_equal(okm, want, n);
	}
	assert_int_equal(kdf_expand(okm, 255 * 32 + 1, prk, "x", 1), CRYPTO_E_INVAL);
	assert_int_equal(kdf_expand(okm, 0, prk, NULL, 0), CRYPTO_OK);
}

/* keys_derive known answers; keys_derive_pair matches ends up; bad inputs. */
static void test_derive(void **state)
{
	uint8_t ck[32], ni[32], nr[32], want[32], iv[12];
	struct session_key k, itx, irx, rtx, rrx;
	seq_bytes(ck, 32, 0);
	seq_bytes(ni, 32, 0x20);
	seq_bytes(nr, 32, 0x60);

	for (size_t i = 0; i < ARRAY_SIZE(kat_derive); i++) {
		assert_int_equal(keys_derive(&k, ck, ni, nr, kat_derive[i].label), CRYPTO_OK);
		unhex(want, 32, kat_derive[i].key);
		unhex(iv, 12, kat_derive[i].iv);
		assert_memory_equal(k.key, want, 32);
		assert_memory_equal(k.iv, iv, 12);
	}

	/* the initiator's tx is the responder's rx, and the two directions differ */
	assert_int_equal(keys_derive_pair(&itx, &irx, ck, "tern migrate v1", ni, nr, true), 0);
	assert_int_equal(keys_derive_pair(&rtx, &rrx, ck, "tern migrate v1", ni, nr, false), 0);
	assert_memory_equal(&itx, &rrx, sizeof(itx));
	assert_memory_equal(&irx, &rtx, sizeof(irx));
	assert_memory_not_equal(itx.key, irx.key, 32);
	unhex(want, 32, kat_derive[0].key); /* "tern migrate v1 a->b" */
	assert_memory_equal(itx.key, want, 32);

	/* a different nonce, cluster key or protocol gives unrelated keys */
	struct session_key o;
	nr[0] ^= 1;
	assert_int_equal(keys_derive(&o, ck, ni, nr, "tern migrate v1 a->b"), 0);
	assert_memory_not_equal(o.key, itx.key, 32);
	nr[0] ^= 1;
	ck[31] ^= 0x80;
	assert_int_equal(keys_derive(&o, ck, ni, nr, "tern migrate v1 a->b"), 0);
	assert_memory_not_equal(o.key, itx.key, 32);
	ck[31] ^= 0x80;
	assert_int_equal(keys_derive(&o, ck, nr, ni, "tern migrate v1 a->b"),
	                 0); /* roles swapped */
	assert_memory_not_equal(o.key, itx.key, 32);
	assert_int_equal(keys_derive_pair(&o, &k, ck, "tern hb v1", ni, nr, true), 0);
	assert_memory_not_equal(o.key, itx.key, 32);

	/* refused: equal nonces (reflection), empty or long labels, aliasing outputs */
	char label[KEYS_LABEL_MAX + 2];
	memset(label, 'L', sizeof(label));
	label[KEYS_LABEL_MAX + 1] = 0;
	assert_int_equal(keys_derive(&o, ck, ni, ni, "x"), CRYPTO_E_WEAK);
	assert_int_equal(keys_derive(&o, ck, ni, nr, ""), CRYPTO_E_INVAL);
	assert_int_equal(keys_derive(&o, ck, ni, nr, label), CRYPTO_E_INVAL);
	label[KEYS_LABEL_MAX - 4] = 0; /* proto + " a->b" would be 65 bytes */
	assert_int_equal(keys_derive_pair(&o, &k, ck, label, ni, nr, true), CRYPTO_E_INVAL);
	assert_int_equal(keys_derive_pair(&o, &o, ck, "p", ni, nr, true), CRYPTO_E_INVAL);
	assert_int_equal(keys_derive_pair(&o, &k, ck, "p", ni, ni, true), CRYPTO_E_WEAK);
	assert_true(all_bytes_are(&o, sizeof(o), 0));

	/* the key id is the documented keyed hash */
	uint8_t id[8], want_id[8];
	keys_key_id(id, ck);
	unhex(want_id, 8, kat_key_id);
	assert_memory_equal(id, want_id, 8);
}

/* The record nonce is iv XOR (0^4 | le64(seq)). */
static void test_nonce(void **state)
{
	uint8_t iv[12], nonce[12];
	seq_bytes(iv, 12, 0xa0);
	keys_nonce(nonce, iv, 0);
	assert_memory_equal(nonce, iv, 12);
	keys_nonce(nonce, iv, 0x0102030405060708ull);
	const uint8_t want[12] = {0xa0,     0xa1,     0xa2,     0xa3,     0xa4 ^ 8, 0xa5 ^ 7,
	                          0xa6 ^ 6, 0xa7 ^ 5, 0xa8 ^ 4, 0xa9 ^ 3, 0xaa ^ 2, 0xab ^ 1};
	assert_memory_equal(nonce, want, 12);
}

/* make_pair: derived tx (initiator) and rx (responder) streams for one direction. */
static void make_streams(struct crypto_stream *tx, struct crypto_stream *rx)
{
	uint8_t ck[32], ni[32], nr[32];
	struct session_key itx, irx, rtx, rrx;
	rnd_bytes(ck, 32), rnd_bytes(ni, 32), rnd_bytes(nr, 32);
	assert_int_equal(keys_derive_pair(&itx, &irx, ck, "tern migrate v1", ni, nr, true), 0);
	assert_int_equal(keys_derive_pair(&rtx, &rrx, ck, "tern migrate v1", ni, nr, false), 0);
	crypto_stream_init(tx, &itx);
	crypto_stream_init(rx, &rrx);
}

/* Ordered records: round trip, replays, gaps, tampering closes the stream, exhaustion. */
static void test_stream(void **state)
{
	struct crypto_stream tx, rx;
	uint8_t pt[3][200], ct[3][200], tag[3][16], out[200], hdr[3][8];
	uint64_t seq;
	make_streams(&tx, &rx);

	for (int i = 0; i < 3; i++) {
		rnd_bytes(pt[i], sizeof(pt[i]));
		store64_le(hdr[i], (uint64_t)i);
		assert_int_equal(
		    crypto_stream_seal(&tx, ct[i], tag[i], pt[i], 200, hdr[i], 8, &seq), CRYPTO_OK);
		assert_int_equal(seq, i);
	}
	/* record 1 before record 0: out of order, nothing changes */
	assert_int_equal(crypto_stream_open(&rx, 1, out, ct[1], 200, tag[1], hdr[1], 8),
	                 CRYPTO_E_ORDER);
	/* record 1's bytes claimed as record 0: wrong nonce, authentication fails */
	struct crypto_stream rx2 = rx;
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(crypto_stream_open(&rx2, 0, out, ct[1], 200, tag[1], hdr[1], 8),
	                 CRYPTO_E_AUTH);
	assert_true(all_bytes_are(out, sizeof(out), 0xa5));
	assert_int_equal(crypto_stream_open(&rx2, 0, out, ct[0], 200, tag[0], hdr[0], 8),
	                 CRYPTO_E_DEAD);

	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    crypto_stream_open(&rx, (uint64_t)i, out, ct[i], 200, tag[i], hdr[i], 8),
		    CRYPTO_OK);
		assert_memory_equal(out, pt[i], 200);
	}
	/* replaying an accepted record */
	assert_int_equal(crypto_stream_open(&rx, 1, out, ct[1], 200, tag[1], hdr[1], 8),
	                 CRYPTO_E_REPLAY);
	/* a reflected record (our own tx opened by a stream keyed for the other direction) */
	struct session_key other = rx.k;
	other.key[0] ^= 1;
	crypto_stream_init(&rx2, &other);
	assert_int_equal(crypto_stream_open(&rx2, 0, out, ct[0], 200, tag[0], hdr[0], 8),
	                 CRYPTO_E_AUTH);

	/* oversize records are refused both ways */
	assert_int_equal(
	    crypto_stream_seal(&tx, out, tag[0], out, CRYPTO_RECORD_MAX + 1, NULL, 0, NULL),
	    CRYPTO_E_TOOLONG);
	assert_int_equal(
	    crypto_stream_open(&rx, 3, out, out, CRYPTO_RECORD_MAX + 1, tag[0], NULL, 0),
	    CRYPTO_E_TOOLONG);

	/* the sequence space never wraps */
	tx.seq = UINT64_MAX - 1;
	assert_int_equal(crypto_stream_seal(&tx, out, tag[0], pt[0], 10, NULL, 0, &seq), CRYPTO_OK);
	assert_int_equal(seq, UINT64_MAX - 1);
	assert_int_equal(crypto_stream_seal(&tx, out, tag[0], pt[0], 10, NULL, 0, &seq),
	                 CRYPTO_E_EXHAUSTED);
	struct aead_ctx actx;
	assert_int_equal(crypto_stream_seal_begin(&tx, &actx, &seq), CRYPTO_E_EXHAUSTED);
	crypto_stream_wipe(&tx);
	assert_int_equal(crypto_stream_seal(&tx, out, tag[0], pt[0], 10, NULL, 0, &seq),
	                 CRYPTO_E_DEAD);
}

/* Incremental sealing (header, then page pieces) opens as one record. */
static void test_stream_incremental(void **state)
{
	struct crypto_stream tx, rx;
	struct aead_ctx ctx;
	uint8_t hdr[24], page[4096], ct[4096], back[4096], tag[16];
	uint64_t seq;
	make_streams(&tx, &rx);
	for (int rec = 0; rec < 4; rec++) {
		rnd_bytes(hdr, sizeof(hdr));
		rnd_bytes(page, sizeof(page));
		assert_int_equal(crypto_stream_seal_begin(&tx, &ctx, &seq), CRYPTO_OK);
		assert_int_equal(seq, rec);
		assert_int_equal(aead_aad(&ctx, hdr, sizeof(hdr)), CRYPTO_OK);
		for (size_t off = 0; off < sizeof(page); off += 512)
			assert_int_equal(aead_seal_update(&ctx, ct + off, page + off, 512), 0);
		assert_int_equal(aead_seal_final(&ctx, tag), CRYPTO_OK);
		assert_int_equal(
		    crypto_stream_open(&rx, seq, back, ct, sizeof(ct), tag, hdr, sizeof(hdr)),
		    CRYPTO_OK);
		assert_memory_equal(back, page, sizeof(page));
	}
}

/* Replay window against a reference model (a set of seen numbers and the top). */
static void test_replay_window(void **state)
{
	struct replay_window w;
	enum { SPAN = 6000 };
	static uint8_t seen[SPAN];

	replay_init(&w);
	assert_int_equal(replay_check(&w, 1000), CRYPTO_OK);
	replay_update(&w, 1000);
	assert_int_equal(replay_check(&w, 1000), CRYPTO_E_REPLAY);
	assert_int_equal(replay_check(&w, 999), CRYPTO_OK);
	assert_int_equal(replay_check(&w, 1000 - REPLAY_WINDOW + 1), CRYPTO_OK);
	assert_int_equal(replay_check(&w, 1000 - REPLAY_WINDOW), CRYPTO_E_REPLAY);
	assert_int_equal(replay_check(&w, 0), CRYPTO_E_REPLAY);
	replay_update(&w, UINT64_MAX - 5); /* a huge jump clears everything */
	assert_int_equal(replay_check(&w, UINT64_MAX - 5), CRYPTO_E_REPLAY);
	assert_int_equal(replay_check(&w, UINT64_MAX - 6), CRYPTO_OK);
	assert_int_equal(replay_check(&w, UINT64_MAX), CRYPTO_OK);

	for (int round = 0; round < 20; round++) {
		uint64_t top = 0;
		int any = 0;
		replay_init(&w);
		memset(seen, 0, sizeof(seen));
		for (int i = 0; i < 4000; i++) {
			uint64_t s;
			size_t r = rnd_below(10);
			if (!any || r < 5) /* mostly forward, sometimes far */
				s = top + rnd_below(r == 0 ? 900 : 4);
			else /* behind the top, inside and outside the window */
				s = top - MIN(top, (uint64_t)rnd_below(REPLAY_WINDOW + 100));
			if (s >= SPAN)
				break;
			bool fresh = !seen[s] && (!any || s > top || top - s < REPLAY_WINDOW);
			assert_int_equal(replay_check(&w, s), fresh ? CRYPTO_OK : CRYPTO_E_REPLAY);
			if (fresh) {
				replay_update(&w, s);
				seen[s] = 1;
				if (!any || s > top)
					top = s;
				any = 1;
			}
		}
	}
}

/* make_dgram: a tx for sender 7 and the matching rx at the peer. */
static void make_dgram(struct crypto_dgram_tx *tx, struct crypto_dgram_rx *rx)
{
	uint8_t ck[32], ni[32], nr[32];
	struct session_key atx, arx, btx, brx;
	rnd_bytes(ck, 32), rnd_bytes(ni, 32), rnd_bytes(nr, 32);
	assert_int_equal(keys_derive_pair(&atx, &arx, ck, "tern hb v1", ni, nr, true), 0);
	assert_int_equal(keys_derive_pair(&btx, &brx, ck, "tern hb v1", ni, nr, false), 0);
	crypto_dgram_tx_init(tx, &atx, 7);
	crypto_dgram_rx_init(rx, &brx, 7);
}

/* Heartbeat datagrams: round trip, replay, reordering, tampering, malformed headers. */
static void test_dgram(void **state)
{
	struct crypto_dgram_tx tx;
	struct crypto_dgram_rx rx;
	uint8_t pkt[5][64 + CRYPTO_DGRAM_OVERHEAD], out[64], payload[64];
	int len[5];
	uint8_t type;
	uint32_t sender;
	make_dgram(&tx, &rx);

	for (int i = 0; i < 5; i++) {
		memset(payload, 'a' + i, sizeof(payload));
		len[i] = crypto_dgram_seal(&tx, 0x11, pkt[i], sizeof(pkt[i]), payload, 64);
		assert_int_equal(len[i], 64 + CRYPTO_DGRAM_OVERHEAD);
	}
	assert_int_equal(crypto_dgram_peek(pkt[0], (size_t)len[0], &sender, &type), CRYPTO_OK);
	assert_int_equal(sender, 7);
	assert_int_equal(type, 0x11);

	/* in order 0, 2, then late 1, then replays */
	type = 0;
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[0], len[0], &type), 64);
	assert_int_equal(type, 0x11);
	assert_true(all_bytes_are(out, 64, 'a'));
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[2], len[2], NULL), 64);
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[1], len[1], NULL), 64);
	assert_true(all_bytes_are(out, 64, 'b'));
	for (int i = 0; i < 3; i++)
		assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[i], len[i], NULL),
		                 CRYPTO_E_REPLAY);

	/* every flipped bit of packet 3 is rejected without moving the window */
	for (int bit = 0; bit < len[3] * 8; bit++) {
		pkt[3][bit / 8] ^= (uint8_t)(1 << (bit % 8));
		memset(out, 0xa5, sizeof(out));
		int rc = crypto_dgram_open(&rx, out, sizeof(out), pkt[3], len[3], NULL);
		assert_true(rc < 0);
		assert_true(all_bytes_are(out, sizeof(out), 0xa5));
		pkt[3][bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[3], len[3], NULL), 64);

	/* truncated / short / wrong version / wrong sender / small buffer */
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[4], len[4] - 1, NULL),
	                 CRYPTO_E_AUTH);
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[4], 31, NULL),
	                 CRYPTO_E_FORMAT);
	pkt[4][0] = 2;
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[4], len[4], NULL),
	                 CRYPTO_E_FORMAT);
	pkt[4][0] = CRYPTO_DGRAM_VERSION;
	pkt[4][2] = 1;
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[4], len[4], NULL),
	                 CRYPTO_E_FORMAT);
	pkt[4][2] = 0;
	pkt[4][4] = 8;
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[4], len[4], NULL),
	                 CRYPTO_E_PEER);
	pkt[4][4] = 7;
	assert_int_equal(crypto_dgram_open(&rx, out, 63, pkt[4], len[4], NULL), CRYPTO_E_SPACE);
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[4], len[4], NULL), 64);

	/* a forged sequence number far ahead does not authenticate, so it cannot push the
	 * window past genuine traffic */
	uint8_t forged[sizeof(pkt[0])];
	memcpy(forged, pkt[0], sizeof(forged));
	store64_le(forged + 8, 1u << 20);
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), forged, len[0], NULL),
	                 CRYPTO_E_AUTH);
	memset(payload, 'z', sizeof(payload));
	int n = crypto_dgram_seal(&tx, 1, pkt[0], sizeof(pkt[0]), payload, 64);
	assert_int_equal(crypto_dgram_open(&rx, out, sizeof(out), pkt[0], n, NULL), 64);

	/* empty payloads work; sender-side limits */
	n = crypto_dgram_seal(&tx, 2, pkt[0], sizeof(pkt[0]), NULL, 0);
	assert_int_equal(n, CRYPTO_DGRAM_OVERHEAD);
	assert_int_equal(crypto_dgram_open(&rx, NULL, 0, pkt[0], n, NULL), 0);
	assert_int_equal(crypto_dgram_seal(&tx, 1, pkt[0], 40, payload, 64), CRYPTO_E_SPACE);
	assert_int_equal(
	    crypto_dgram_seal(&tx, 1, pkt[0], 1 << 20, payload, CRYPTO_DGRAM_MAX_PAYLOAD + 1),
	    CRYPTO_E_TOOLONG);
	tx.seq = UINT64_MAX;
	assert_int_equal(crypto_dgram_seal(&tx, 1, pkt[0], sizeof(pkt[0]), payload, 64),
	                 CRYPTO_E_EXHAUSTED);
	crypto_dgram_tx_wipe(&tx);
	crypto_dgram_rx_wipe(&rx);
	assert_true(all_bytes_are(&rx, sizeof(rx), 0));
}

/* A heartbeat from another cluster/session, or a node's own one reflected back, is ignored. */
static void test_dgram_forgery(void **state)
{
	uint8_t ck[32], ni[32], nr[32], pkt[64], out[16];
	struct session_key atx, arx, btx, brx;
	struct crypto_dgram_tx a_tx, b_tx, other_tx;
	struct crypto_dgram_rx b_rx, a_rx, other_rx;
	rnd_bytes(ck, 32), rnd_bytes(ni, 32), rnd_bytes(nr, 32);
	assert_int_equal(keys_derive_pair(&atx, &arx, ck, "tern hb v1", ni, nr, true), 0);
	assert_int_equal(keys_derive_pair(&btx, &brx, ck, "tern hb v1", ni, nr, false), 0);
	crypto_dgram_tx_init(&a_tx, &atx, 7); /* node a = sender 7, node b = sender 9 */
	crypto_dgram_rx_init(&b_rx, &brx, 7);
	crypto_dgram_tx_init(&b_tx, &btx, 9);
	crypto_dgram_rx_init(&a_rx, &arx, 9);

	/* both directions work */
	int n = crypto_dgram_seal(&a_tx, 1, pkt, sizeof(pkt), "alive", 5);
	assert_int_equal(crypto_dgram_open(&b_rx, out, sizeof(out), pkt, (size_t)n, NULL), 5);
	n = crypto_dgram_seal(&b_tx, 1, pkt, sizeof(pkt), "alive", 5);
	assert_int_equal(crypto_dgram_open(&a_rx, out, sizeof(out), pkt, (size_t)n, NULL), 5);

	/* b's own heartbeat reflected to b: wrong sender, and relabelled as 7 it fails auth */
	n = crypto_dgram_seal(&b_tx, 1, pkt, sizeof(pkt), "alive", 5);
	assert_int_equal(crypto_dgram_open(&b_rx, out, sizeof(out), pkt, (size_t)n, NULL),
	                 CRYPTO_E_PEER);
	store32_le(pkt + 4, 7);
	assert_int_equal(crypto_dgram_open(&b_rx, out, sizeof(out), pkt, (size_t)n, NULL),
	                 CRYPTO_E_AUTH);

	/* another session (fresh nonces) with the same sender ids: unrelated keys */
	nr[0] ^= 1;
	assert_int_equal(keys_derive_pair(&atx, &arx, ck, "tern hb v1", ni, nr, true), 0);
	crypto_dgram_tx_init(&other_tx, &atx, 7);
	other_tx.seq = 100; /* fresh for b's window, so authentication is what rejects it */
	n = crypto_dgram_seal(&other_tx, 1, pkt, sizeof(pkt), "alive", 5);
	assert_int_equal(crypto_dgram_open(&b_rx, out, sizeof(out), pkt, (size_t)n, NULL),
	                 CRYPTO_E_AUTH);
	crypto_dgram_rx_init(&other_rx, &atx, 7);
	assert_int_equal(crypto_dgram_open(&other_rx, out, sizeof(out), pkt, (size_t)n, NULL), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_hex),        cmocka_unit_test(test_parse_hex_digits),
	    cmocka_unit_test(test_parse_passphrase), cmocka_unit_test(test_parse_classify),
	    cmocka_unit_test(test_stretch_kat),      cmocka_unit_test(test_kdf_kat),
	    cmocka_unit_test(test_derive),           cmocka_unit_test(test_nonce),
	    cmocka_unit_test(test_stream),           cmocka_unit_test(test_stream_incremental),
	    cmocka_unit_test(test_replay_window),    cmocka_unit_test(test_dgram),
	    cmocka_unit_test(test_dgram_forgery),
	};
	test_seed("test_crypto_keys");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
