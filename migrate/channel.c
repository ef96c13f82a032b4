/* Secure channel between hosts; see channel.h. */
#include "migrate/channel.h"
#include "kernel/endian.h"
#include "kernel/string.h"
#include "migrate/aead.h"
#include "migrate/crypto_util.h"

#define MAGIC "TERNCHN1"
static const char g_auth[] = "tern chan auth v1";

/* hello_build: magic, proto, status, key id, nonce, name. */
static void hello_build(uint8_t *h, uint8_t proto, uint8_t status, const uint8_t *key,
                        const uint8_t *nonce, const char *name)
{
	memset(h, 0, CHAN_HELLO_SIZE);
	memcpy(h, MAGIC, 8);
	h[8] = proto;
	h[9] = status;
	keys_key_id(h + 12, key);
	memcpy(h + 20, nonce, KEYS_NONCE_SIZE);
	tern_strlcpy((char *)h + 52, name, CHAN_NAME_MAX);
}

/* hello_parse: check the magic; copy the peer name (always terminated). */
static bool hello_parse(struct chan *ch, const uint8_t *h)
{
	if (memcmp(h, MAGIC, 8) != 0)
		return false;
	memcpy(ch->peer, h + 52, CHAN_NAME_MAX);
	ch->peer[CHAN_NAME_MAX - 1] = 0;
	for (int i = 0; ch->peer[i]; i++)
		if (ch->peer[i] < 0x20 || ch->peer[i] > 0x7e)
			ch->peer[i] = '?';
	return true;
}

/* fail: record the error and wipe keys. */
static int fail(struct chan *ch, const char *why)
{
	if (!ch->error)
		ch->error = why;
	chan_close(ch);
	return -1;
}

/* derive: session keys from both nonces; the client is the initiator. */
static int derive(struct chan *ch, const uint8_t *key, const uint8_t *nc, const uint8_t *ns,
                  bool client)
{
	struct session_key tx, rx;
	char label[32] = "tern chan v1 ";
	label[13] = (char)('0' + ch->proto);
	if (keys_derive_pair(&tx, &rx, key, label, nc, ns, client) != CRYPTO_OK)
		return -1;
	crypto_stream_init(&ch->tx, &tx);
	crypto_stream_init(&ch->rx, &rx);
	crypto_wipe(&tx, sizeof(tx));
	crypto_wipe(&rx, sizeof(rx));
	return 0;
}

/* auth_exchange: prove both sides hold the key (an AUTH message each way). */
static int auth_exchange(struct chan *ch, bool client)
{
	uint8_t type;
	const uint8_t *d;
	size_t n;
	if (client && chan_send1(ch, MSG_AUTH, g_auth, sizeof(g_auth)) < 0)
		return -1;
	if (chan_recv(ch, &type, &d, &n) < 0)
		return fail(ch, "peer does not hold this cluster key (authentication failed)");
	if (type != MSG_AUTH || n != sizeof(g_auth) || memcmp(d, g_auth, n) != 0)
		return fail(ch, "bad authentication message");
	if (!client && chan_send1(ch, MSG_AUTH, g_auth, sizeof(g_auth)) < 0)
		return -1;
	return 0;
}

int chan_client(struct chan *ch, const struct chan_io *io, uint8_t *buf, uint8_t proto,
                const uint8_t key[KEYS_CLUSTER_KEY_SIZE], const uint8_t nonce[KEYS_NONCE_SIZE],
                const char *name)
{
	uint8_t h[CHAN_HELLO_SIZE], id[KEYS_KEY_ID_SIZE];
	memset(ch, 0, sizeof(*ch));
	ch->io = *io;
	ch->buf = buf;
	ch->proto = proto;
	hello_build(h, proto, CHAN_OK, key, nonce, name);
	if (io->send(io->ctx, h, sizeof(h)) < 0 || io->recv(io->ctx, h, sizeof(h)) < 0)
		return fail(ch, "connection lost during the handshake");
	if (!hello_parse(ch, h))
		return fail(ch, "peer is not a Tern host");
	keys_key_id(id, key);
	if (h[9] == CHAN_REFUSED_KEY || memcmp(h + 12, id, sizeof(id)) != 0)
		return fail(ch, "peer uses a different cluster key");
	if (h[9] == CHAN_REFUSED_BUSY)
		return fail(ch, "peer is busy");
	if (h[9] != CHAN_OK || h[8] != proto)
		return fail(ch, "peer refused the protocol");
	if (derive(ch, key, nonce, h + 20, true) < 0)
		return fail(ch, "key derivation failed (equal nonces?)");
	return auth_exchange(ch, true);
}

int chan_server(struct chan *ch, const struct chan_io *io, uint8_t *buf,
                const uint8_t key[KEYS_CLUSTER_KEY_SIZE], const uint8_t nonce[KEYS_NONCE_SIZE],
                const char *name, bool (*proto_ok)(uint8_t proto))
{
	uint8_t h[CHAN_HELLO_SIZE], id[KEYS_KEY_ID_SIZE], nc[KEYS_NONCE_SIZE];
	memset(ch, 0, sizeof(*ch));
	ch->io = *io;
	ch->buf = buf;
	if (io->recv(io->ctx, h, sizeof(h)) < 0)
		return fail(ch, "connection lost during the handshake");
	if (!hello_parse(ch, h))
		return fail(ch, "client is not a Tern host");
	ch->proto = h[8];
	memcpy(nc, h + 20, sizeof(nc));
	keys_key_id(id, key);
	uint8_t status = memcmp(h + 12, id, sizeof(id)) != 0 ? CHAN_REFUSED_KEY
	                 : !proto_ok(ch->proto)              ? CHAN_REFUSED_PROTO
	                                                     : CHAN_OK;
	hello_build(h, ch->proto, status, key, nonce, name);
	if (io->send(io->ctx, h, sizeof(h)) < 0)
		return fail(ch, "connection lost during the handshake");
	if (status != CHAN_OK)
		return fail(ch, status == CHAN_REFUSED_KEY
		                    ? "client uses a different cluster key"
		                    : "client asked for an unknown protocol");
	if (derive(ch, key, nc, nonce, false) < 0)
		return fail(ch, "key derivation failed (equal nonces?)");
	return auth_exchange(ch, false);
}

int chan_send(struct chan *ch, uint8_t type, const void *const *piece, const size_t *len,
              unsigned n)
{
	size_t total = 1;
	for (unsigned i = 0; i < n; i++) {
		if (len[i] > CHAN_MSG_MAX || total + len[i] > CHAN_MSG_MAX + 1)
			return fail(ch, "message too large");
		total += len[i];
	}
	if (ch->error)
		return -1;
	struct aead_ctx a;
	uint64_t seq;
	if (crypto_stream_seal_begin(&ch->tx, &a, &seq) != CRYPTO_OK)
		return fail(ch, "sequence numbers exhausted");
	uint8_t hdr[CHAN_HDR_SIZE];
	le32_store(hdr, (uint32_t)total);
	le64_store(hdr + 4, seq);
	uint8_t *ct = ch->buf;
	uint64_t t0 = ch->clock ? ch->clock() : 0;
	aead_aad(&a, hdr, sizeof(hdr));
	aead_seal_update(&a, ct, &type, 1);
	size_t off = 1;
	for (unsigned i = 0; i < n; i++) {
		aead_seal_update(&a, ct + off, piece[i], len[i]);
		off += len[i];
	}
	aead_seal_final(&a, ct + off);
	uint64_t t1 = ch->clock ? ch->clock() : 0;
	if (ch->io.send(ch->io.ctx, hdr, sizeof(hdr)) < 0 ||
	    ch->io.send(ch->io.ctx, ct, total + AEAD_TAG_SIZE) < 0)
		return fail(ch, "connection lost");
	if (ch->clock) {
		ch->crypt_ns += t1 - t0;
		ch->io_ns += ch->clock() - t1;
	}
	ch->bytes_sent += sizeof(hdr) + total + AEAD_TAG_SIZE;
	return 0;
}

int chan_send1(struct chan *ch, uint8_t type, const void *data, size_t len)
{
	return chan_send(ch, type, &data, &len, 1);
}

int chan_recv(struct chan *ch, uint8_t *type, const uint8_t **data, size_t *len)
{
	uint8_t hdr[CHAN_HDR_SIZE];
	if (ch->error)
		return -1;
	uint64_t t0 = ch->clock ? ch->clock() : 0;
	if (ch->io.recv(ch->io.ctx, hdr, sizeof(hdr)) < 0)
		return fail(ch, "connection lost");
	uint32_t total = le32_load(hdr);
	uint64_t seq = le64_load(hdr + 4);
	if (total == 0 || total > CHAN_MSG_MAX + 1)
		return fail(ch, "bad message length from peer");
	uint8_t *ct = ch->buf;
	if (ch->io.recv(ch->io.ctx, ct, total + AEAD_TAG_SIZE) < 0)
		return fail(ch, "connection lost");
	uint64_t t1 = ch->clock ? ch->clock() : 0;
	/* open in place: aead_open leaves the buffer as it was if the tag does not verify */
	if (crypto_stream_open(&ch->rx, seq, ct, ct, total, ct + total, hdr, sizeof(hdr)) !=
	    CRYPTO_OK)
		return fail(ch, "message failed authentication (wrong key or corrupted)");
	if (ch->clock) {
		ch->io_ns += t1 - t0;
		ch->crypt_ns += ch->clock() - t1;
	}
	ch->bytes_received += sizeof(hdr) + total + AEAD_TAG_SIZE;
	*type = ct[0];
	*data = ct + 1;
	*len = total - 1;
	return 0;
}

void chan_close(struct chan *ch)
{
	crypto_stream_wipe(&ch->tx);
	crypto_stream_wipe(&ch->rx);
}
