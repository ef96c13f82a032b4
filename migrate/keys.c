/*
 * Cluster key parsing, key derivation, record streams and authenticated datagrams (pure).
 * The constructions are specified in docs/crypto.md; tests/unit/gen_crypto_kat.py implements
 * them independently in Python for the known-answer tests.
 */
#include "migrate/keys.h"
#include "migrate/blake2s.h"
#include "migrate/crypto_util.h"

#define PASS_DOMAIN  "tern passphrase v1"  /* K0 = BLAKE2s(PASS_DOMAIN | 0 | passphrase) */
#define PASS_SALT    "tern cluster key v1" /* PBKDF2 salt */
#define SESSION_SALT "tern session v1"     /* extract salt prefix */
#define KEY_ID_MSG   "tern key id v1"

/* ---- key derivation ----------------------------------------------------------------------- */

/* kdf_extract: prk = BLAKE2s-256 keyed with the 32-byte secret ikm, over salt. */
void kdf_extract(uint8_t prk[32], const uint8_t ikm[32], const void *salt, size_t salt_len)
{
	blake2s(prk, 32, ikm, 32, salt, salt_len);
}

/* kdf_expand: T(i) = BLAKE2s-256_prk(T(i-1) | info | i), okm = T(1) | T(2) | ... (RFC 5869). */
int kdf_expand(uint8_t *okm, size_t okm_len, const uint8_t prk[32], const void *info,
               size_t info_len)
{
	uint8_t t[32];
	struct blake2s_ctx ctx;

	if (!okm || okm_len > KEYS_KDF_OUT_MAX || (info_len && !info))
		return CRYPTO_E_INVAL;
	for (size_t done = 0, i = 1; done < okm_len; i++) {
		uint8_t ctr = (uint8_t)i;
		blake2s_init(&ctx, 32, prk, 32);
		if (i > 1)
			blake2s_update(&ctx, t, sizeof(t));
		blake2s_update(&ctx, info, info_len);
		blake2s_update(&ctx, &ctr, 1);
		blake2s_final(&ctx, t);
		size_t n = MIN(okm_len - done, sizeof(t));
		memcpy(okm + done, t, n);
		done += n;
	}
	crypto_wipe(t, sizeof(t));
	return CRYPTO_OK;
}

/*
 * keys_stretch_passphrase: PBKDF2 (RFC 8018 5.2) with PRF = BLAKE2s-256 keyed by
 * K0 = BLAKE2s-256(PASS_DOMAIN | 0x00 | pass), salt PASS_SALT, one 32-byte block:
 * U1 = PRF(salt | INT(1)), Ui = PRF(U(i-1)), key = U1 ^ ... ^ Un (INT(1) = 00 00 00 01).
 */
int keys_stretch_passphrase(uint8_t key[KEYS_CLUSTER_KEY_SIZE], const char *pass, size_t len,
                            uint32_t iterations)
{
	static const uint8_t block1[4] = {0, 0, 0, 1}; /* INT(1), big-endian as in RFC 8018 */
	struct blake2s_ctx ctx;
	uint8_t k0[32], u[32];

	if (!key || !pass || !iterations)
		return CRYPTO_E_INVAL;
	blake2s_init(&ctx, 32, NULL, 0);
	blake2s_update(&ctx, PASS_DOMAIN, sizeof(PASS_DOMAIN)); /* includes the NUL */
	blake2s_update(&ctx, pass, len);
	blake2s_final(&ctx, k0);

	blake2s_init(&ctx, 32, k0, sizeof(k0));
	blake2s_update(&ctx, PASS_SALT, sizeof(PASS_SALT) - 1);
	blake2s_update(&ctx, block1, sizeof(block1));
	blake2s_final(&ctx, u);
	memcpy(key, u, 32);
	for (uint32_t i = 1; i < iterations; i++) {
		blake2s(u, 32, k0, sizeof(k0), u, sizeof(u));
		for (int j = 0; j < 32; j++)
			key[j] ^= u[j];
	}
	crypto_wipe(k0, sizeof(k0));
	crypto_wipe(u, sizeof(u));
	return CRYPTO_OK;
}

/* hex_nibble: value of one hex digit without branches or tables; sets *bad if not hex. */
static uint32_t hex_nibble(uint8_t ch, uint32_t *bad)
{
	uint32_t c = ch;
	uint32_t num = c ^ 0x30;                     /* '0'..'9' -> 0..9 */
	uint32_t num_ok = ((num - 10) >> 8) & 1;     /* num < 10 */
	uint32_t alpha = ((c & ~0x20u) - 55) & 0xff; /* 'A'..'F', 'a'..'f' -> 10..15 */
	uint32_t alpha_ok = (((alpha - 10) ^ (alpha - 16)) >> 8) & 1; /* 10 <= alpha < 16 */
	*bad |= 1 ^ (num_ok | alpha_ok);
	return (num & (0u - num_ok)) | (alpha & (0u - alpha_ok));
}

/* hex_decode32: 64 hex digits -> 32 bytes in constant time; false if any digit is not hex. */
static bool hex_decode32(uint8_t out[32], const char *s)
{
	uint32_t bad = 0;
	for (int i = 0; i < 32; i++) {
		uint32_t hi = hex_nibble((uint8_t)s[2 * i], &bad);
		uint32_t lo = hex_nibble((uint8_t)s[2 * i + 1], &bad);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return !bad;
}

/* parse_hex_key: "64 hex digits" -> key; all-zero keys (placeholders) are refused. */
static int parse_hex_key(uint8_t key[32], const char *s, size_t len)
{
	static const uint8_t zero[32];
	if (len != 64 || !hex_decode32(key, s))
		return CRYPTO_E_FORMAT;
	if (crypto_ct_equal(key, zero, 32))
		return CRYPTO_E_WEAK;
	return CRYPTO_OK;
}

/* parse_passphrase: length and content checks (no NUL inside), then the stretch. */
static int parse_passphrase(uint8_t key[32], const char *s, size_t len, uint32_t iterations)
{
	if (len < KEYS_PASSPHRASE_MIN)
		return CRYPTO_E_WEAK;
	if (len > KEYS_PASSPHRASE_MAX || strnlen(s, len) != len)
		return CRYPTO_E_FORMAT;
	return keys_stretch_passphrase(key, s, len, iterations);
}

/* has_prefix: s (len bytes) starts with the string p. */
static bool has_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);
	return len >= n && !memcmp(s, p, n);
}

/* keys_parse_cluster_key_iter: tern.conf value -> 32-byte cluster key (see keys.h). */
int keys_parse_cluster_key_iter(uint8_t key[KEYS_CLUSTER_KEY_SIZE], const char *text, size_t len,
                                uint32_t iterations)
{
	int rc;
	uint8_t tmp[32];

	if (!key || !text || !iterations)
		return CRYPTO_E_INVAL;
	if (has_prefix(text, len, "hex:"))
		rc = parse_hex_key(key, text + 4, len - 4);
	else if (has_prefix(text, len, "passphrase:"))
		rc = parse_passphrase(key, text + 11, len - 11, iterations);
	else if (len == 64 && hex_decode32(tmp, text))
		rc = parse_hex_key(key, text, len);
	else
		rc = parse_passphrase(key, text, len, iterations);
	crypto_wipe(tmp, sizeof(tmp));
	if (rc != CRYPTO_OK)
		crypto_wipe(key, KEYS_CLUSTER_KEY_SIZE);
	return rc;
}

/* keys_parse_cluster_key: tern.conf value -> key, passphrases with the default iterations. */
int keys_parse_cluster_key(uint8_t key[KEYS_CLUSTER_KEY_SIZE], const char *text, size_t len)
{
	return keys_parse_cluster_key_iter(key, text, len, KEYS_PASSPHRASE_ITERATIONS);
}

/* keys_key_id: first 8 bytes of BLAKE2s keyed with the cluster key over KEY_ID_MSG. */
void keys_key_id(uint8_t id[KEYS_KEY_ID_SIZE], const uint8_t key[KEYS_CLUSTER_KEY_SIZE])
{
	blake2s(id, KEYS_KEY_ID_SIZE, key, KEYS_CLUSTER_KEY_SIZE, KEY_ID_MSG,
	        sizeof(KEY_ID_MSG) - 1);
}

/*
 * keys_derive: prk = extract(cluster_key, SESSION_SALT | 0x00 | nonce_i | nonce_r);
 * key | iv = expand(prk, label, 44).
 */
int keys_derive(struct session_key *out, const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE],
                const uint8_t nonce_i[KEYS_NONCE_SIZE], const uint8_t nonce_r[KEYS_NONCE_SIZE],
                const char *label)
{
	uint8_t salt[sizeof(SESSION_SALT) + 2 * KEYS_NONCE_SIZE];
	uint8_t prk[32], okm[AEAD_KEY_SIZE + KEYS_IV_SIZE];
	size_t label_len;

	if (!out || !cluster_key || !nonce_i || !nonce_r || !label)
		return CRYPTO_E_INVAL;
	label_len = strnlen(label, KEYS_LABEL_MAX + 1);
	if (!label_len || label_len > KEYS_LABEL_MAX)
		return CRYPTO_E_INVAL;
	if (!memcmp(nonce_i, nonce_r, KEYS_NONCE_SIZE)) /* reflected hello or broken RNG */
		return CRYPTO_E_WEAK;

	memcpy(salt, SESSION_SALT, sizeof(SESSION_SALT)); /* includes the NUL separator */
	memcpy(salt + sizeof(SESSION_SALT), nonce_i, KEYS_NONCE_SIZE);
	memcpy(salt + sizeof(SESSION_SALT) + KEYS_NONCE_SIZE, nonce_r, KEYS_NONCE_SIZE);
	kdf_extract(prk, cluster_key, salt, sizeof(salt));
	kdf_expand(okm, sizeof(okm), prk, label, label_len);
	memcpy(out->key, okm, AEAD_KEY_SIZE);
	memcpy(out->iv, okm + AEAD_KEY_SIZE, KEYS_IV_SIZE);
	crypto_wipe(prk, sizeof(prk));
	crypto_wipe(okm, sizeof(okm));
	return CRYPTO_OK;
}

/* keys_derive_pair: both directions, labels "<proto> a->b" and "<proto> b->a". */
int keys_derive_pair(struct session_key *tx, struct session_key *rx,
                     const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE], const char *proto,
                     const uint8_t nonce_i[KEYS_NONCE_SIZE], const uint8_t nonce_r[KEYS_NONCE_SIZE],
                     bool initiator)
{
	char ab[KEYS_LABEL_MAX + 1], ba[KEYS_LABEL_MAX + 1];
	size_t n;
	int rc;

	if (!tx || !rx || tx == rx || !proto)
		return CRYPTO_E_INVAL;
	n = strnlen(proto, KEYS_LABEL_MAX);
	if (!n || n + 5 > KEYS_LABEL_MAX)
		return CRYPTO_E_INVAL;
	memcpy(ab, proto, n);
	memcpy(ab + n, " a->b", 6);
	memcpy(ba, proto, n);
	memcpy(ba + n, " b->a", 6);
	rc = keys_derive(initiator ? tx : rx, cluster_key, nonce_i, nonce_r, ab);
	if (rc == CRYPTO_OK)
		rc = keys_derive(initiator ? rx : tx, cluster_key, nonce_i, nonce_r, ba);
	if (rc != CRYPTO_OK) {
		crypto_wipe(tx, sizeof(*tx));
		crypto_wipe(rx, sizeof(*rx));
	}
	return rc;
}

/* keys_nonce: the AEAD nonce of record seq: iv XOR (4 zero bytes | le64(seq)). */
void keys_nonce(uint8_t nonce[AEAD_NONCE_SIZE], const uint8_t iv[KEYS_IV_SIZE], uint64_t seq)
{
	memcpy(nonce, iv, AEAD_NONCE_SIZE);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] ^= (uint8_t)(seq >> (8 * i));
}

/* ---- ordered record streams --------------------------------------------------------------- */

/* crypto_stream_init: start a stream direction at sequence number 0. */
void crypto_stream_init(struct crypto_stream *s, const struct session_key *k)
{
	s->k = *k;
	s->seq = 0;
	s->dead = false;
}

/* crypto_stream_wipe: erase a stream's key; it cannot be used again. */
void crypto_stream_wipe(struct crypto_stream *s)
{
	crypto_wipe(s, sizeof(*s));
	s->dead = true;
}

/* stream_take: reserve the next sequence number for sealing. */
static int stream_take(struct crypto_stream *s, uint64_t *seq)
{
	if (s->dead)
		return CRYPTO_E_DEAD;
	if (s->seq == UINT64_MAX) /* never wrap: a nonce must not repeat under one key */
		return CRYPTO_E_EXHAUSTED;
	*seq = s->seq++;
	return CRYPTO_OK;
}

/* crypto_stream_seal: seal the next record (see keys.h). */
int crypto_stream_seal(struct crypto_stream *s, uint8_t *ct, uint8_t tag[AEAD_TAG_SIZE],
                       const uint8_t *pt, size_t len, const void *aad, size_t aad_len,
                       uint64_t *seq_out)
{
	uint8_t nonce[AEAD_NONCE_SIZE];
	uint64_t seq;

	if (len > CRYPTO_RECORD_MAX)
		return CRYPTO_E_TOOLONG;
	if ((len && (!ct || !pt)) || !tag || (aad_len && !aad))
		return CRYPTO_E_INVAL;
	int rc = stream_take(s, &seq);
	if (rc != CRYPTO_OK)
		return rc;
	keys_nonce(nonce, s->k.iv, seq);
	rc = aead_seal(ct, tag, pt, len, aad, aad_len, nonce, s->k.key);
	if (rc == CRYPTO_OK && seq_out)
		*seq_out = seq;
	return rc;
}

/* crypto_stream_seal_begin: reserve a sequence number and start an incremental seal. */
int crypto_stream_seal_begin(struct crypto_stream *s, struct aead_ctx *ctx, uint64_t *seq_out)
{
	uint8_t nonce[AEAD_NONCE_SIZE];
	uint64_t seq;

	if (!ctx)
		return CRYPTO_E_INVAL;
	int rc = stream_take(s, &seq);
	if (rc != CRYPTO_OK)
		return rc;
	keys_nonce(nonce, s->k.iv, seq);
	aead_init(ctx, s->k.key, nonce);
	if (seq_out)
		*seq_out = seq;
	return CRYPTO_OK;
}

/* crypto_stream_open: open record seq, which must be the next one expected (see keys.h). */
int crypto_stream_open(struct crypto_stream *s, uint64_t seq, uint8_t *pt, const uint8_t *ct,
                       size_t len, const uint8_t tag[AEAD_TAG_SIZE], const void *aad,
                       size_t aad_len)
{
	uint8_t nonce[AEAD_NONCE_SIZE];

	if (s->dead)
		return CRYPTO_E_DEAD;
	if (len > CRYPTO_RECORD_MAX)
		return CRYPTO_E_TOOLONG;
	if (seq < s->seq)
		return CRYPTO_E_REPLAY;
	if (seq > s->seq)
		return CRYPTO_E_ORDER;
	keys_nonce(nonce, s->k.iv, seq);
	int rc = aead_open(pt, ct, len, tag, aad, aad_len, nonce, s->k.key);
	if (rc == CRYPTO_OK)
		s->seq++;
	else if (rc == CRYPTO_E_AUTH)
		s->dead = true;
	return rc;
}

/* ---- replay window ------------------------------------------------------------------------ */

/* replay_init: an empty window (any first sequence number is fresh). */
void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

/* replay_check: CRYPTO_OK if seq is fresh, CRYPTO_E_REPLAY if seen or too old. No change. */
int replay_check(const struct replay_window *w, uint64_t seq)
{
	if (!w->any || seq > w->top)
		return CRYPTO_OK;
	if (w->top - seq >= REPLAY_WINDOW)
		return CRYPTO_E_REPLAY;
	uint64_t word = w->bits[(seq >> 6) & (REPLAY_WORDS - 1)];
	return (word >> (seq & 63)) & 1 ? CRYPTO_E_REPLAY : CRYPTO_OK;
}

/*
 * replay_update: record seq as seen. The bitmap is a ring of words indexed by seq / 64
 * (RFC 6479): moving the top forward clears the words it passes, so the ring always holds
 * the REPLAY_WORDS words ending at the top's.
 */
void replay_update(struct replay_window *w, uint64_t seq)
{
	if (!w->any) {
		memset(w->bits, 0, sizeof(w->bits));
		w->any = true;
		w->top = seq;
	} else if (seq > w->top) {
		uint64_t cur = w->top >> 6, diff = (seq >> 6) - cur;
		if (diff > REPLAY_WORDS)
			diff = REPLAY_WORDS;
		for (uint64_t i = 1; i <= diff; i++)
			w->bits[(cur + i) & (REPLAY_WORDS - 1)] = 0;
		w->top = seq;
	}
	w->bits[(seq >> 6) & (REPLAY_WORDS - 1)] |= 1ull << (seq & 63);
}

/* ---- authenticated datagrams -------------------------------------------------------------- */

/* crypto_dgram_tx_init: start sending as sender with session key k (sequence 0). */
void crypto_dgram_tx_init(struct crypto_dgram_tx *tx, const struct session_key *k, uint32_t sender)
{
	tx->k = *k;
	tx->sender = sender;
	tx->seq = 0;
}

/* crypto_dgram_rx_init: accept datagrams from sender under session key k. */
void crypto_dgram_rx_init(struct crypto_dgram_rx *rx, const struct session_key *k, uint32_t sender)
{
	rx->k = *k;
	rx->sender = sender;
	replay_init(&rx->win);
}

/* crypto_dgram_seal: header | AEAD(payload, aad = header) | tag (see keys.h). */
int crypto_dgram_seal(struct crypto_dgram_tx *tx, uint8_t type, uint8_t *out, size_t cap,
                      const void *payload, size_t len)
{
	uint8_t nonce[AEAD_NONCE_SIZE];

	if (!out || (len && !payload))
		return CRYPTO_E_INVAL;
	if (len > CRYPTO_DGRAM_MAX_PAYLOAD)
		return CRYPTO_E_TOOLONG;
	if (cap < len + CRYPTO_DGRAM_OVERHEAD)
		return CRYPTO_E_SPACE;
	if (tx->seq == UINT64_MAX)
		return CRYPTO_E_EXHAUSTED;

	uint64_t seq = tx->seq++;
	out[0] = CRYPTO_DGRAM_VERSION;
	out[1] = type;
	out[2] = out[3] = 0;
	store32_le(out + 4, tx->sender);
	store64_le(out + 8, seq);
	keys_nonce(nonce, tx->k.iv, seq);
	int rc = aead_seal(out + CRYPTO_DGRAM_HDR_SIZE, out + CRYPTO_DGRAM_HDR_SIZE + len, payload,
	                   len, out, CRYPTO_DGRAM_HDR_SIZE, nonce, tx->k.key);
	return rc == CRYPTO_OK ? (int)(len + CRYPTO_DGRAM_OVERHEAD) : rc;
}

/* crypto_dgram_peek: read the (unauthenticated!) sender id and type to pick the rx context. */
int crypto_dgram_peek(const uint8_t *pkt, size_t len, uint32_t *sender, uint8_t *type)
{
	if (!pkt || len < CRYPTO_DGRAM_OVERHEAD || len > CRYPTO_DGRAM_MAX_SIZE ||
	    pkt[0] != CRYPTO_DGRAM_VERSION || pkt[2] || pkt[3])
		return CRYPTO_E_FORMAT;
	if (sender)
		*sender = load32_le(pkt + 4);
	if (type)
		*type = pkt[1];
	return CRYPTO_OK;
}

/* crypto_dgram_open: header, sender, replay window, then AEAD (see keys.h). */
int crypto_dgram_open(struct crypto_dgram_rx *rx, uint8_t *payload, size_t cap, const uint8_t *pkt,
                      size_t len, uint8_t *type)
{
	uint8_t nonce[AEAD_NONCE_SIZE];
	uint32_t sender;
	int rc = crypto_dgram_peek(pkt, len, &sender, NULL);

	if (rc != CRYPTO_OK)
		return rc;
	if (sender != rx->sender)
		return CRYPTO_E_PEER;
	size_t plen = len - CRYPTO_DGRAM_OVERHEAD;
	if (cap < plen || (plen && !payload))
		return CRYPTO_E_SPACE;
	uint64_t seq = load64_le(pkt + 8);
	rc = replay_check(&rx->win, seq); /* cheap early drop; re-checked state is unchanged */
	if (rc != CRYPTO_OK)
		return rc;
	keys_nonce(nonce, rx->k.iv, seq);
	rc = aead_open(payload, pkt + CRYPTO_DGRAM_HDR_SIZE, plen,
	               pkt + CRYPTO_DGRAM_HDR_SIZE + plen, pkt, CRYPTO_DGRAM_HDR_SIZE, nonce,
	               rx->k.key);
	if (rc != CRYPTO_OK)
		return rc;
	replay_update(&rx->win, seq); /* only authenticated numbers move the window */
	if (type)
		*type = pkt[1];
	return (int)plen;
}

/* crypto_dgram_tx_wipe: erase a sending context's key. */
void crypto_dgram_tx_wipe(struct crypto_dgram_tx *tx)
{
	crypto_wipe(tx, sizeof(*tx));
}

/* crypto_dgram_rx_wipe: erase a receiving context's key. */
void crypto_dgram_rx_wipe(struct crypto_dgram_rx *rx)
{
	crypto_wipe(rx, sizeof(*rx));
}
