/* HA heartbeat datagrams: payload codec, per-(sender, boot) keys, sealing and opening. */
#include "ha/hb_wire.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "migrate/crypto_util.h"

static const uint8_t g_magic[4] = {'T', 'H', 'B', '1'};

/* hb_strerror: short text for an hb_err. */
const char *hb_strerror(int err)
{
	switch (err) {
	case HB_OK:
		return "ok";
	case HB_E_FORMAT:
		return "malformed";
	case HB_E_AUTH:
		return "not authentic";
	case HB_E_REPLAY:
		return "replayed";
	case HB_E_UNKNOWN:
		return "unknown sender";
	case HB_E_STALE:
		return "stale incarnation";
	case HB_E_SELF:
		return "our own id";
	}
	return "?";
}

/* name_char_ok: a character allowed in node names. */
static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

/* hb_name_ok: 1-31 characters of [A-Za-z0-9_.-]. */
bool hb_name_ok(const char *name, size_t len)
{
	if (len < 1 || len >= HA_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char_ok(name[i]))
			return false;
	return true;
}

/* hb_encode: serialise m (layout in hb_wire.h). */
int hb_encode(const struct hb_msg *m, uint8_t *out, size_t cap)
{
	size_t nlen = strnlen(m->name, HA_NAME_MAX);
	if (!hb_name_ok(m->name, nlen) || m->nview > HB_MAX_VIEW || (m->flags & ~HB_FLAGS_KNOWN))
		return -1;
	size_t len = HB_FIXED_SIZE + nlen + 1 + 4u * m->nview;
	if (cap < len)
		return -1;
	out[0] = HB_VERSION;
	out[1] = m->flags;
	out[2] = (uint8_t)m->interval_ms;
	out[3] = (uint8_t)(m->interval_ms >> 8);
	store32_le(out + 4, m->node);
	store64_le(out + 8, m->incarnation);
	store64_le(out + 16, m->wall_ms);
	store64_le(out + 24, m->uptime_ms);
	store32_le(out + 32, m->holder);
	store32_le(out + 36, m->lease_ms);
	store64_le(out + 40, m->echo_seq);
	out[48] = (uint8_t)nlen;
	memcpy(out + HB_FIXED_SIZE, m->name, nlen);
	uint8_t *v = out + HB_FIXED_SIZE + nlen;
	*v++ = m->nview;
	for (unsigned i = 0; i < m->nview; i++, v += 4)
		store32_le(v, m->view[i]);
	return (int)len;
}

/* hb_decode: parse and validate a payload; every length is checked before it is used. */
int hb_decode(const uint8_t *p, size_t len, struct hb_msg *m)
{
	if (len < HB_FIXED_SIZE + 2 || len > HB_PAYLOAD_MAX || p[0] != HB_VERSION ||
	    (p[1] & ~HB_FLAGS_KNOWN))
		return -1;
	size_t nlen = p[48];
	if (nlen < 1 || nlen >= HA_NAME_MAX || HB_FIXED_SIZE + nlen + 1 > len)
		return -1;
	if (!hb_name_ok((const char *)p + HB_FIXED_SIZE, nlen))
		return -1;
	size_t nview = p[HB_FIXED_SIZE + nlen];
	if (nview > HB_MAX_VIEW || HB_FIXED_SIZE + nlen + 1 + 4 * nview != len)
		return -1;
	m->flags = p[1];
	m->interval_ms = (uint16_t)(p[2] | p[3] << 8);
	m->node = load32_le(p + 4);
	m->incarnation = load64_le(p + 8);
	m->wall_ms = load64_le(p + 16);
	m->uptime_ms = load64_le(p + 24);
	m->holder = load32_le(p + 32);
	m->lease_ms = load32_le(p + 36);
	m->echo_seq = load64_le(p + 40);
	memcpy(m->name, p + HB_FIXED_SIZE, nlen);
	m->name[nlen] = 0;
	m->nview = (uint8_t)nview;
	const uint8_t *v = p + HB_FIXED_SIZE + nlen + 1;
	for (size_t i = 0; i < nview; i++)
		m->view[i] = load32_le(v + 4 * i);
	return 0;
}

/* hb_derive_key: key||iv = kdf_expand(kdf_extract(ck, "tern hb v1"), label|id|inc, 44). */
void hb_derive_key(struct session_key *k, const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE],
                   uint32_t sender, uint64_t incarnation)
{
	static const char label[] = "tern hb v1";
	uint8_t prk[32], info[sizeof(label) + 12], okm[AEAD_KEY_SIZE + KEYS_IV_SIZE];
	kdf_extract(prk, cluster_key, label, sizeof(label) - 1);
	memcpy(info, label, sizeof(label)); /* includes the NUL as a separator */
	store32_le(info + sizeof(label), sender);
	store64_le(info + sizeof(label) + 4, incarnation);
	if (kdf_expand(okm, sizeof(okm), prk, info, sizeof(info)) != CRYPTO_OK)
		panic("hb_derive_key: kdf_expand failed");
	memcpy(k->key, okm, AEAD_KEY_SIZE);
	memcpy(k->iv, okm + AEAD_KEY_SIZE, KEYS_IV_SIZE);
	crypto_wipe(prk, sizeof(prk));
	crypto_wipe(okm, sizeof(okm));
}

/* hb_tx_init: a sending context for our own (id, incarnation). */
void hb_tx_init(struct crypto_dgram_tx *tx, const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE],
                uint32_t id, uint64_t incarnation)
{
	struct session_key k;
	hb_derive_key(&k, cluster_key, id, incarnation);
	crypto_dgram_tx_init(tx, &k, id);
	crypto_wipe(&k, sizeof(k));
}

/* hb_rx_init: a receiving context for a peer's (id, incarnation). */
void hb_rx_init(struct crypto_dgram_rx *rx, const uint8_t cluster_key[KEYS_CLUSTER_KEY_SIZE],
                uint32_t id, uint64_t incarnation)
{
	struct session_key k;
	hb_derive_key(&k, cluster_key, id, incarnation);
	crypto_dgram_rx_init(rx, &k, id);
	crypto_wipe(&k, sizeof(k));
}

/* hb_seal: outer header, then the payload as one authenticated datagram. */
int hb_seal(struct crypto_dgram_tx *tx, const struct hb_msg *m, uint8_t *out, size_t cap,
            uint64_t *seq_out)
{
	uint8_t payload[HB_PAYLOAD_MAX];
	if (m->node != tx->sender || cap < HB_OUTER_SIZE)
		return -1;
	int plen = hb_encode(m, payload, sizeof(payload));
	if (plen < 0)
		return -1;
	memcpy(out, g_magic, 4);
	store32_le(out + 4, m->node);
	store64_le(out + 8, m->incarnation);
	uint64_t seq = tx->seq;
	int n = crypto_dgram_seal(tx, m->type, out + HB_OUTER_SIZE, cap - HB_OUTER_SIZE, payload,
	                          (size_t)plen);
	crypto_wipe(payload, sizeof(payload));
	if (n < 0)
		return -1;
	if (seq_out)
		*seq_out = seq;
	return n + HB_OUTER_SIZE;
}

/* hb_peek: outer header and inner header must agree on the sender. */
int hb_peek(const uint8_t *pkt, size_t len, uint32_t *sender, uint64_t *incarnation)
{
	uint32_t inner;
	if (!pkt || len < HB_OUTER_SIZE || len > HB_PKT_MAX || memcmp(pkt, g_magic, 4) != 0)
		return HB_E_FORMAT;
	if (crypto_dgram_peek(pkt + HB_OUTER_SIZE, len - HB_OUTER_SIZE, &inner, NULL) != CRYPTO_OK)
		return HB_E_FORMAT;
	if (inner != load32_le(pkt + 4))
		return HB_E_FORMAT;
	*sender = inner;
	*incarnation = load64_le(pkt + 8);
	return HB_OK;
}

/* hb_open: authenticate (rx), decode, and cross-check the payload against the header. */
int hb_open(struct crypto_dgram_rx *rx, const uint8_t *pkt, size_t len, struct hb_msg *m)
{
	uint8_t payload[HB_PAYLOAD_MAX], type;
	uint32_t sender;
	uint64_t inc;
	if (hb_peek(pkt, len, &sender, &inc) != HB_OK)
		return HB_E_FORMAT;
	const uint8_t *d = pkt + HB_OUTER_SIZE;
	int n = crypto_dgram_open(rx, payload, sizeof(payload), d, len - HB_OUTER_SIZE, &type);
	if (n == CRYPTO_E_REPLAY)
		return HB_E_REPLAY;
	if (n == CRYPTO_E_AUTH || n == CRYPTO_E_PEER)
		return HB_E_AUTH;
	if (n < 0)
		return HB_E_FORMAT;
	/* Authentic from here on: a mismatch is a broken sender, not an attacker. */
	int rc = hb_decode(payload, (size_t)n, m) == 0 ? HB_OK : HB_E_FORMAT;
	crypto_wipe(payload, sizeof(payload));
	if (rc != HB_OK || m->node != sender || m->incarnation != inc ||
	    (type != HB_TYPE_HOST && type != HB_TYPE_WITNESS))
		return HB_E_FORMAT;
	m->type = type;
	m->seq = load64_le(d + 8);
	return HB_OK;
}

/* hb_view_has: true if id is in m's view. */
bool hb_view_has(const struct hb_msg *m, uint32_t id)
{
	for (unsigned i = 0; i < m->nview && i < HB_MAX_VIEW; i++)
		if (m->view[i] == id)
			return true;
	return false;
}
