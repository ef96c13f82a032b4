/*
 * libFuzzer target for the HA heartbeat decoder and receivers (ha/hb_wire.c, ha/member.c,
 * ha/witness.c). The first byte picks the mode:
 *   0: the rest is a heartbeat payload for hb_decode (must never read past it; a decoded
 *      message must re-encode to the same bytes);
 *   1: the rest is a payload that gets sealed with the right key as a peer's datagram (so the
 *      fuzzer reaches the decoder and the state updates behind authentication), then
 *      received by a host and by a witness, then ticked;
 *   2: the rest is a raw datagram for a host's and a witness's receive path.
 * The input is copied to an exact-size buffer so ASan sees any overread.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ha/member.h"
#include "ha/witness.h"
#include "migrate/crypto_util.h"
#include "tests/fuzz/fuzz_check.h"

void klog(const char *fmt, ...)
{
	(void)fmt;
}

static const uint8_t KEY[32] = {0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c,
                                0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c,
                                0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c};
#define A  0xa9fe4d01u
#define B  0xa9fe4d02u
#define W  0xa9fe4d64u
#define T0 1700000000000ull

/* decode_mode: hb_decode on exact bytes; a success must round-trip. */
static void decode_mode(const uint8_t *p, size_t len)
{
	struct hb_msg m;
	uint8_t out[HB_PAYLOAD_MAX];
	memset(&m, 0, sizeof(m));
	if (hb_decode(p, len, &m) != 0)
		return;
	CHECK(m.nview <= HB_MAX_VIEW && strlen(m.name) < HA_NAME_MAX);
	int n = hb_encode(&m, out, sizeof(out));
	CHECK(n == (int)len && memcmp(out, p, len) == 0);
}

/* receive_both: a host (A, peer B, witness W) and a witness receive pkt, then tick. */
static void receive_both(const uint8_t *pkt, size_t len, uint32_t src)
{
	static struct ha_cluster c;
	static struct witness w;
	ha_cluster_init(&c, KEY, "a", A, 1, 200, 5, 1000);
	ha_cluster_add_peer(&c, "b", B, 7701);
	ha_cluster_set_witness(&c, W, 7701);
	int rc = ha_cluster_receive(&c, src, pkt, len, 1000, T0);
	CHECK(rc <= 0 && rc >= HB_E_SELF);
	ha_cluster_tick(&c, 1100);
	CHECK(c.votes >= 1 && c.votes <= c.total_votes);
	witness_init(&w, KEY, 1, 400, 1000);
	int idx = -1;
	rc = witness_receive(&w, src, 7701, pkt, len, 1000, T0, &idx);
	if (rc == HB_OK) {
		uint8_t out[HB_PKT_MAX];
		CHECK(idx >= 0 && idx < WIT_MAX_HOSTS);
		witness_tick(&w, 1000);
		CHECK(witness_reply(&w, idx, 1000, T0, out, sizeof(out)) > 0);
	}
}

/* sealed_mode: the payload sealed as B's (or the witness's) datagram with the right key. */
static void sealed_mode(const uint8_t *p, size_t len)
{
	if (len < 1 || len - 1 > HB_PAYLOAD_MAX)
		return;
	uint32_t sender = p[0] & 1 ? HB_WITNESS_ID : B;
	uint8_t type = p[0] & 2 ? HB_TYPE_WITNESS : HB_TYPE_HOST;
	struct crypto_dgram_tx tx;
	uint8_t pkt[HB_PKT_MAX];
	hb_tx_init(&tx, KEY, sender, 7);
	memcpy(pkt, "THB1", 4);
	store32_le(pkt + 4, sender);
	store64_le(pkt + 8, 7);
	int n = crypto_dgram_seal(&tx, type, pkt + HB_OUTER_SIZE, sizeof(pkt) - HB_OUTER_SIZE,
	                          p + 1, len - 1);
	CHECK(n > 0);
	uint8_t *exact = malloc((size_t)n + HB_OUTER_SIZE);
	memcpy(exact, pkt, (size_t)n + HB_OUTER_SIZE);
	receive_both(exact, (size_t)n + HB_OUTER_SIZE, sender == B ? B : W);
	free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t len = size - 1;
	uint8_t *p = malloc(len ? len : 1);
	memcpy(p, data + 1, len);
	switch (data[0] % 3) {
	case 0:
		decode_mode(p, len);
		break;
	case 1:
		sealed_mode(p, len);
		break;
	default:
		receive_both(p, len, data[0] & 0x80 ? W : B);
	}
	free(p);
	return 0;
}
