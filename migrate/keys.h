/*
 * Tern key management (pure; constructions in docs/crypto.md):
 *  - the cluster key from tern.conf: 64 hex characters (32 raw bytes) or a passphrase of at
 *    least 16 characters stretched with PBKDF2-style iterated keyed BLAKE2s;
 *  - an HKDF-like extract/expand built on keyed BLAKE2s;
 *  - per-session, per-direction ChaCha20-Poly1305 keys from the cluster key, both peers'
 *    random nonces and a context label ("tern migrate v1 a->b");
 *  - record streams (TCP: strictly ordered 64-bit sequence numbers in the nonce) and
 *    authenticated datagrams (UDP heartbeats: sequence numbers plus a replay window).
 */
#ifndef TERN_KEYS_H
#define TERN_KEYS_H

#include "kernel/compiler.h"
#include "migrate/aead.h"

#define KEYS_CLUSTER_KEY_SIZE 32
#define KEYS_NONCE_SIZE       32 /* per-peer random session nonce */
#define KEYS_IV_SIZE          AEAD_NONCE_SIZE
#define KEYS_KEY_ID_SIZE      8
#define KEYS_PASSPHRASE_MIN   16
#define KEYS_PASSPHRASE_MAX   1024
#define KEYS_LABEL_MAX        64
/* PBKDF2 iterations for passphrases (each one is two BLAKE2s compressions). */
#define KEYS_PASSPHRASE_ITERATIONS (1u << 20)
#define KEYS_KDF_OUT_MAX           (255 * 32)

/* ---- key derivation ----------------------------------------------------------------------- */

/* kdf_extract: prk = BLAKE2s-256 keyed with the 32-byte secret ikm, over salt. */
void kdf_extract(uint8_t prk[32], const uint8_t ikm[32], const void *salt, size_t salt_len);

/* kdf_expand: HKDF-Expand with keyed BLAKE2s-256 as PRF: okm_len (<= 255*32) bytes. */
int kdf_expand(uint8_t *okm, size_t okm_len, const uint8_t prk[32], const void *info,
               size_t info_len);

/* keys_stretch_passphrase: the passphrase KDF with an explicit iteration count (>= 1). */
int keys_stretch_passphrase(uint8_t key[KEYS_CLUSTER_KEY_SIZE], const char *pass, size_t len,
                            uint32_t iterations);

/*
 * keys_parse_cluster_key: tern.conf value -> 32-byte cluster key. "hex:" + 64 hex digits, or
 * "passphrase:" + text, or without a prefix: exactly 64 hex digits are a raw key, anything
 * else of 16..1024 bytes is a passphrase. Returns CRYPTO_OK, CRYPTO_E_FORMAT or CRYPTO_E_WEAK
 * (too short, or an all-zero raw key). The key is wiped on failure.
 */
int keys_parse_cluster_key(uint8_t key[KEYS_CLUSTER_KEY_SIZE], const char *text, size_t len);

/* keys_parse_cluster_key_iter: the same with an explicit passphrase iteration count (tests). */
int keys_parse_cluster_key_iter(uint8_t key[KEYS_CLUSTER_KEY_SIZE], const char *text, size_t len,
                                uint32_t iterations);

/* keys_key_id: a public 8-byte fingerprint of a cluster key, to compare hosts in logs. */
void keys_key_id(uint8_t id[KEYS_KEY_ID_SIZE], const uint8_t key[KEYS_CLUSTER_KEY_SIZE]);

/* One direction of a session: AEAD key and the IV the record counter is XORed into. */
struct session_key {
	uint8_t key[AEAD_KEY_SIZE];
	uint8_t iv[KEYS_IV_SIZE];
};

/*
 * keys_derive: the session key for one label, from the cluster key and the initiator's and
 * responder's nonces (in that order). Returns CRYPTO_OK, CRYPTO_E_INVAL (label empty or longer
 * than KEYS_LABEL_MAX) or CRYPTO_E_WEAK (equal nonces).
 */
int keys_derive(struct session_key *out, const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE],
                const uint8_t nonce_i[KEYS_NONCE_SIZE], const uint8_t nonce_r[KEYS_NONCE_SIZE],
                const char *label);

/*
 * keys_derive_pair: both directions of a session for protocol proto (e.g. "tern migrate v1"):
 * labels "<proto> a->b" (initiator to responder) and "<proto> b->a". The initiator gets
 * tx = a->b, rx = b->a; the responder the reverse, so the two ends match up.
 */
int keys_derive_pair(struct session_key *tx, struct session_key *rx,
                     const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE], const char *proto,
                     const uint8_t nonce_i[KEYS_NONCE_SIZE], const uint8_t nonce_r[KEYS_NONCE_SIZE],
                     bool initiator);

/* keys_nonce: the AEAD nonce of record seq: iv XOR (4 zero bytes | le64(seq)). */
void keys_nonce(uint8_t nonce[AEAD_NONCE_SIZE], const uint8_t iv[KEYS_IV_SIZE], uint64_t seq);

/* ---- ordered record streams (migration over TCP) ------------------------------------------ */

/* Largest plaintext of one stream record (a sanity bound on lengths from the wire). */
#define CRYPTO_RECORD_MAX ((size_t)16 << 20)

/* One direction of a stream: seq is the next record to seal, or to accept. */
struct crypto_stream {
	struct session_key k;
	uint64_t seq;
	bool dead; /* an authentication failure closed it for good */
};

/* crypto_stream_init: start a stream direction at sequence number 0. */
void crypto_stream_init(struct crypto_stream *s, const struct session_key *k);

/* crypto_stream_wipe: erase a stream's key. */
void crypto_stream_wipe(struct crypto_stream *s);

/*
 * crypto_stream_seal: seal the next record; *seq_out (may be NULL) gets its sequence number,
 * which the caller may put in the record header (and in aad). CRYPTO_E_EXHAUSTED after 2^64-1
 * records, CRYPTO_E_TOOLONG above CRYPTO_RECORD_MAX.
 */
int crypto_stream_seal(struct crypto_stream *s, uint8_t *ct, uint8_t tag[AEAD_TAG_SIZE],
                       const uint8_t *pt, size_t len, const void *aad, size_t aad_len,
                       uint64_t *seq_out);

/*
 * crypto_stream_seal_begin: reserve the next sequence number and aead_init() ctx with its
 * nonce, for incremental sealing (aead_aad / aead_seal_update / aead_seal_final). The record
 * must then be finished and sent: an abandoned one leaves a gap the receiver reports as
 * CRYPTO_E_ORDER.
 */
int crypto_stream_seal_begin(struct crypto_stream *s, struct aead_ctx *ctx, uint64_t *seq_out);

/*
 * crypto_stream_open: open record seq, which must be exactly the next one expected:
 * CRYPTO_E_REPLAY if older, CRYPTO_E_ORDER if ahead (stream unchanged), CRYPTO_E_AUTH (stream
 * then closed: CRYPTO_E_DEAD from then on). pt is written only on success.
 */
int crypto_stream_open(struct crypto_stream *s, uint64_t seq, uint8_t *pt, const uint8_t *ct,
                       size_t len, const uint8_t tag[AEAD_TAG_SIZE], const void *aad,
                       size_t aad_len);

/* ---- replay window (datagrams) ------------------------------------------------------------ */

#define REPLAY_WORDS  16                       /* ring of 64-bit bitmap words, a power of two */
#define REPLAY_WINDOW (REPLAY_WORDS * 64 - 64) /* accepts seq > highest - REPLAY_WINDOW */

struct replay_window {
	uint64_t top; /* highest sequence number accepted */
	uint64_t bits[REPLAY_WORDS];
	bool any; /* false until the first accepted number */
};

/* replay_init: an empty window (any first sequence number is fresh). */
void replay_init(struct replay_window *w);

/* replay_check: CRYPTO_OK if seq is fresh, CRYPTO_E_REPLAY if seen or too old. No change. */
int replay_check(const struct replay_window *w, uint64_t seq);

/* replay_update: record seq as seen; call only after replay_check passed and the datagram
 * authenticated. */
void replay_update(struct replay_window *w, uint64_t seq);

/* ---- authenticated datagrams (HA heartbeats over UDP) ------------------------------------- */

/*
 * Wire format: header | ciphertext | 16-byte tag; the header is authenticated as AAD.
 *   0  u8   version (CRYPTO_DGRAM_VERSION)     4  le32 sender id
 *   1  u8   type (caller's message type)       8  le64 sequence number (nonce counter)
 *   2  le16 reserved, zero
 */
#define CRYPTO_DGRAM_VERSION     1
#define CRYPTO_DGRAM_HDR_SIZE    16
#define CRYPTO_DGRAM_OVERHEAD    (CRYPTO_DGRAM_HDR_SIZE + AEAD_TAG_SIZE)
#define CRYPTO_DGRAM_MAX_SIZE    65507 /* largest UDP/IPv4 payload */
#define CRYPTO_DGRAM_MAX_PAYLOAD (CRYPTO_DGRAM_MAX_SIZE - CRYPTO_DGRAM_OVERHEAD)

/* Sending side for one (session key, sender id). */
struct crypto_dgram_tx {
	struct session_key k;
	uint32_t sender;
	uint64_t seq; /* next sequence number */
};

/* Receiving side for one peer's direction. */
struct crypto_dgram_rx {
	struct session_key k;
	uint32_t sender; /* the only sender id accepted */
	struct replay_window win;
};

/* crypto_dgram_tx_init: start sending as sender with session key k (sequence 0). */
void crypto_dgram_tx_init(struct crypto_dgram_tx *tx, const struct session_key *k, uint32_t sender);

/* crypto_dgram_rx_init: accept datagrams from sender under session key k. */
void crypto_dgram_rx_init(struct crypto_dgram_rx *rx, const struct session_key *k, uint32_t sender);

/*
 * crypto_dgram_seal: build one datagram of type carrying payload (len bytes) into out (cap
 * bytes). Returns the datagram length (len + CRYPTO_DGRAM_OVERHEAD) or a negative error.
 */
int crypto_dgram_seal(struct crypto_dgram_tx *tx, uint8_t type, uint8_t *out, size_t cap,
                      const void *payload, size_t len);

/* crypto_dgram_peek: read the (unauthenticated!) sender id and type to pick the rx context. */
int crypto_dgram_peek(const uint8_t *pkt, size_t len, uint32_t *sender, uint8_t *type);

/*
 * crypto_dgram_open: check header, sender and replay window, authenticate, decrypt into
 * payload (cap bytes). Returns the payload length or a negative error (CRYPTO_E_FORMAT,
 * CRYPTO_E_PEER, CRYPTO_E_REPLAY, CRYPTO_E_AUTH, CRYPTO_E_SPACE); payload is written only on
 * success. *type (may be NULL) gets the authenticated type.
 */
int crypto_dgram_open(struct crypto_dgram_rx *rx, uint8_t *payload, size_t cap, const uint8_t *pkt,
                      size_t len, uint8_t *type);

/* crypto_dgram_tx_wipe / crypto_dgram_rx_wipe: erase a context's key. */
void crypto_dgram_tx_wipe(struct crypto_dgram_tx *tx);
void crypto_dgram_rx_wipe(struct crypto_dgram_rx *rx);

#endif
