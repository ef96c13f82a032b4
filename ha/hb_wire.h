/*
 * HA heartbeat wire format (pure; docs/ha.md). One UDP datagram:
 *
 *   outer  0  "THB1"                     magic
 *          4  le32 sender id             (a host's IPv4 address; the witness uses HB_WITNESS_ID)
 *          8  le64 incarnation           (per boot, increasing: wall clock ms << 16 | random)
 *   inner 16  crypto_dgram (migrate/keys.h): 16-byte header, ChaCha20-Poly1305 ciphertext of
 *             the payload below, 16-byte tag; its sequence number gives replay protection.
 *
 * The datagram key is derived from the cluster key, the sender id and the incarnation
 * (hb_derive_key), so every (sender, boot) has its own key and sequence numbers from 0 never
 * repeat a nonce; a forged outer header only yields a key under which nothing opens.
 *
 * Payload (plaintext, every field bounds-checked on decode, no trailing bytes):
 *    0 u8 version (1)       1 u8 flags (HB_FLAG_*)     2 le16 interval_ms
 *    4 le32 node id         8 le64 incarnation        16 le64 sender wall clock ms
 *   24 le64 sender uptime ms                          32 le32 witness holder id (0: none)
 *   36 le32 witness lease ms                          40 le64 echo: receiver's last seq heard
 *   48 u8 name length (1..31), name ([A-Za-z0-9_.-])
 *      u8 view count (<= HB_MAX_VIEW), view count x le32 ids of the members the sender hears
 */
#ifndef TERN_HA_HB_WIRE_H
#define TERN_HA_HB_WIRE_H

#include "ha/ha.h"
#include "kernel/compiler.h"
#include "migrate/keys.h"

#define HB_PORT_DEFAULT 7701
#define HB_OUTER_SIZE   16
#define HB_FIXED_SIZE   49 /* payload bytes before the name */
#define HB_MAX_VIEW     17 /* self + PEERS_MAX */
#define HB_PAYLOAD_MAX  (HB_FIXED_SIZE + HA_NAME_MAX + 1 + 4 * HB_MAX_VIEW)
#define HB_PKT_MAX      (HB_OUTER_SIZE + CRYPTO_DGRAM_OVERHEAD + HB_PAYLOAD_MAX)
#define HB_VERSION      1
#define HB_WITNESS_ID   0xffffffffu

/* Message types (the crypto_dgram type byte, authenticated). */
#define HB_TYPE_HOST    1
#define HB_TYPE_WITNESS 2

/* Flags. */
#define HB_FLAG_MAINT   0x01 /* sender is in maintenance mode */
#define HB_FLAG_QUORATE 0x02 /* sender believes it is quorate */
#define HB_FLAGS_KNOWN  0x03

/* Results of hb_open and of the receivers (negative: the datagram is dropped). */
enum hb_err {
	HB_OK = 0,
	HB_E_FORMAT = -1,  /* malformed outer header, datagram or payload */
	HB_E_AUTH = -2,    /* does not authenticate: wrong key or forged */
	HB_E_REPLAY = -3,  /* sequence number already seen */
	HB_E_UNKNOWN = -4, /* authentic framing from a sender that is not configured */
	HB_E_STALE = -5,   /* older incarnation, or a new one with a wall clock out of range */
	HB_E_SELF = -6,    /* our own id: a loop or a copy of our traffic */
};

/* A decoded heartbeat. */
struct hb_msg {
	uint8_t type, flags;
	uint16_t interval_ms;
	uint32_t node;
	uint64_t incarnation, seq; /* seq: from the authenticated datagram header */
	uint64_t wall_ms, uptime_ms;
	uint32_t holder, lease_ms;
	uint64_t echo_seq;
	char name[HA_NAME_MAX];
	uint8_t nview;
	uint32_t view[HB_MAX_VIEW];
};

/* hb_strerror: short text for an hb_err. */
const char *hb_strerror(int err);

/* hb_name_ok: 1-31 characters of [A-Za-z0-9_.-]. */
bool hb_name_ok(const char *name, size_t len);

/* hb_encode: the payload of m into out (cap bytes); its length, or -1 if m is invalid. */
int hb_encode(const struct hb_msg *m, uint8_t *out, size_t cap);

/* hb_decode: parse a payload of exactly len bytes into *m (type/seq untouched); 0 or -1. */
int hb_decode(const uint8_t *p, size_t len, struct hb_msg *m);

/* hb_derive_key: the datagram key of (sender, incarnation) under the cluster key. */
void hb_derive_key(struct session_key *k, const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE],
                   uint32_t sender, uint64_t incarnation);

/* hb_tx_init: a sending context for our own (id, incarnation). */
void hb_tx_init(struct crypto_dgram_tx *tx, const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE],
                uint32_t id, uint64_t incarnation);

/* hb_rx_init: a receiving context for a peer's (id, incarnation). */
void hb_rx_init(struct crypto_dgram_rx *rx, const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE],
                uint32_t id, uint64_t incarnation);

/*
 * hb_seal: outer header + sealed payload of m (m->node and m->incarnation name the sender and
 * must match tx) into out (cap >= HB_PKT_MAX). *seq_out (may be NULL) gets the sequence
 * number used. Returns the datagram length or -1.
 */
int hb_seal(struct crypto_dgram_tx *tx, const struct hb_msg *m, uint8_t *out, size_t cap,
            uint64_t *seq_out);

/* hb_peek: the (unauthenticated) sender id and incarnation of a datagram; HB_OK or HB_E_FORMAT. */
int hb_peek(const uint8_t *pkt, size_t len, uint32_t *sender, uint64_t *incarnation);

/*
 * hb_open: authenticate and decode a datagram with rx (the context of the sender and
 * incarnation hb_peek reported). On HB_OK *m holds the message, with the payload's node and
 * incarnation checked against the authenticated outer header. rx's replay window moves only
 * on success. HB_E_FORMAT, HB_E_AUTH or HB_E_REPLAY otherwise.
 */
int hb_open(struct crypto_dgram_rx *rx, const uint8_t *pkt, size_t len, struct hb_msg *m);

/* hb_view_has: true if id is in m's view. */
bool hb_view_has(const struct hb_msg *m, uint32_t id);

#endif
