/* HA witness vote logic: hear hosts, keep one holder, answer with leases (witness.h). */
#include "ha/witness.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "migrate/crypto_util.h"

/* witness_init: a witness with the cluster key, this run's incarnation and the lease. */
void witness_init(struct witness *w, const uint8_t key[KEYS_CLUSTER_KEY_SIZE], uint64_t incarnation,
                  uint32_t lease_ms, uint64_t now_ms)
{
	if (!lease_ms)
		panic("witness_init: zero lease");
	memset(w, 0, sizeof(*w));
	memcpy(w->key, key, KEYS_CLUSTER_KEY_SIZE);
	w->incarnation = incarnation;
	w->lease_ms = lease_ms;
	w->boot_ms = now_ms;
	w->max_skew_ms = 300000;
	hb_tx_init(&w->tx, key, HB_WITNESS_ID, incarnation);
}

/* find_host: the slot of host id, or -1. */
static int find_host(const struct witness *w, uint32_t id)
{
	for (int i = 0; i < WIT_MAX_HOSTS; i++)
		if (w->host[i].used && w->host[i].id == id)
			return i;
	return -1;
}

/* free_slot: an unused slot, else the one silent longest (if silent > 10 leases), else -1. */
static int free_slot(const struct witness *w, uint64_t now_ms)
{
	int best = -1;
	for (int i = 0; i < WIT_MAX_HOSTS; i++) {
		if (!w->host[i].used)
			return i;
		if (w->host[i].id != w->holder &&
		    now_ms - w->host[i].last_heard_ms > 10ull * w->lease_ms &&
		    (best < 0 || w->host[i].last_heard_ms < w->host[best].last_heard_ms))
			best = i;
	}
	return best;
}

/* count: account a drop reason. */
static int count(struct witness *w, int rc)
{
	if (rc == HB_E_AUTH)
		w->forged++;
	else if (rc == HB_E_REPLAY)
		w->replayed++;
	else if (rc == HB_E_STALE)
		w->stale++;
	else if (rc != HB_OK)
		w->malformed++;
	return rc;
}

/* open_new: authenticate a datagram of a new (id, incarnation) with a fresh context. */
static int open_new(struct witness *w, uint32_t id, uint64_t inc, const uint8_t *pkt, size_t len,
                    struct hb_msg *m, struct crypto_dgram_rx *out, uint64_t wall_ms)
{
	hb_rx_init(out, w->key, id, inc);
	int rc = hb_open(out, pkt, len, m);
	if (rc == HB_OK && w->max_skew_ms && m->wall_ms && wall_ms) {
		uint64_t d = m->wall_ms > wall_ms ? m->wall_ms - wall_ms : wall_ms - m->wall_ms;
		if (d > w->max_skew_ms)
			rc = HB_E_STALE;
	}
	return rc;
}

/* witness_receive: authenticate, then remember the host's address, seq and time. */
int witness_receive(struct witness *w, uint32_t src_ip, uint16_t src_port, const uint8_t *pkt,
                    size_t len, uint64_t now_ms, uint64_t wall_ms, int *idx)
{
	uint32_t id;
	uint64_t inc;
	struct hb_msg m;
	int rc = hb_peek(pkt, len, &id, &inc);
	if (rc != HB_OK)
		return count(w, rc);
	if (id == HB_WITNESS_ID || !id)
		return count(w, HB_E_FORMAT);
	int i = find_host(w, id);
	if (i >= 0 && inc < w->host[i].incarnation)
		return count(w, HB_E_STALE);
	if (i >= 0 && inc == w->host[i].incarnation) {
		rc = hb_open(&w->host[i].rx, pkt, len, &m);
	} else {
		struct crypto_dgram_rx fresh;
		rc = open_new(w, id, inc, pkt, len, &m, &fresh, wall_ms);
		if (rc == HB_OK && i < 0 && (i = free_slot(w, now_ms)) < 0) {
			w->full++;
			rc = HB_E_UNKNOWN;
		}
		if (rc == HB_OK) {
			if (!w->host[i].used || w->host[i].id != id)
				memset(&w->host[i], 0, sizeof(w->host[i]));
			w->host[i].rx = fresh;
			w->host[i].incarnation = inc;
			if (!w->host[i].used)
				klog("witness: host %s (%u.%u.%u.%u) heard", m.name, id >> 24,
				     (id >> 16) & 255, (id >> 8) & 255, id & 255);
		}
		crypto_wipe(&fresh, sizeof(fresh));
	}
	if (rc == HB_OK && m.type != HB_TYPE_HOST)
		rc = HB_E_FORMAT;
	if (rc != HB_OK)
		return count(w, rc);
	struct wit_host *h = &w->host[i];
	h->used = true;
	h->id = id;
	h->ip = src_ip;
	h->port = src_port;
	tern_strlcpy(h->name, m.name, sizeof(h->name));
	h->last_heard_ms = now_ms;
	h->last_seq = m.seq;
	h->received++;
	w->received++;
	*idx = i;
	return HB_OK;
}

/* heard: host i was heard within the lease. */
static bool heard(const struct witness *w, int i, uint64_t now_ms)
{
	return w->host[i].used && now_ms - w->host[i].last_heard_ms < w->lease_ms;
}

/*
 * witness_tick: keep a heard holder. A silent holder loses the vote at once (replies name no
 * holder); only a full lease after the last reply that named it does the lowest heard id get
 * it, so every host that counted the old grant has seen it expire first.
 */
bool witness_tick(struct witness *w, uint64_t now_ms)
{
	int h = w->holder ? find_host(w, w->holder) : -1;
	if (h >= 0 && heard(w, h, now_ms))
		return false;
	if (w->holder) {
		klog("witness: vote withdrawn from %s (silent)", witness_host_name(w, w->holder));
		w->holder = 0;
		return true;
	}
	if (w->last_named_ms && now_ms - w->last_named_ms < w->lease_ms)
		return false;
	int best = -1;
	for (int i = 0; i < WIT_MAX_HOSTS; i++)
		if (heard(w, i, now_ms) && (best < 0 || w->host[i].id < w->host[best].id))
			best = i;
	if (best < 0)
		return false;
	w->holder = w->host[best].id;
	klog("witness: vote granted to %s", w->host[best].name);
	return true;
}

/* witness_reply: holder, lease and the echo of host idx's last sequence number. */
int witness_reply(struct witness *w, int idx, uint64_t now_ms, uint64_t wall_ms, uint8_t *out,
                  size_t cap)
{
	if (idx < 0 || idx >= WIT_MAX_HOSTS || !w->host[idx].used)
		panic("witness_reply: bad host %d", idx);
	struct wit_host *h = &w->host[idx];
	struct hb_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HB_TYPE_WITNESS;
	m.node = HB_WITNESS_ID;
	m.incarnation = w->incarnation;
	m.wall_ms = wall_ms;
	m.uptime_ms = now_ms - w->boot_ms;
	m.holder = w->holder;
	m.lease_ms = w->lease_ms;
	m.echo_seq = h->last_seq;
	tern_strlcpy(m.name, "witness", sizeof(m.name));
	int n = hb_seal(&w->tx, &m, out, cap, NULL);
	if (n < 0)
		return -1;
	h->last_reply_ms = now_ms;
	if (m.holder)
		w->last_named_ms = now_ms;
	w->sent++;
	return n;
}

/* witness_host_name: the name of the host with this id, or "-". */
const char *witness_host_name(const struct witness *w, uint32_t id)
{
	int i = find_host(w, id);
	return i >= 0 ? w->host[i].name : "-";
}
