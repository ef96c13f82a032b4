/* HA membership: heartbeats in and out, per-peer liveness, witness vote, quorum (member.h). */
#include "ha/member.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/string.h"
#include "migrate/crypto_util.h"

/* ha_state_name: "unknown", "alive", "late", "dead". */
const char *ha_state_name(enum ha_state s)
{
	static const char *const names[] = {"unknown", "alive", "late", "dead"};
	return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "?";
}

/* ha_cluster_init: self is node 0, always alive; the sender key is per (id, incarnation). */
void ha_cluster_init(struct ha_cluster *c, const uint8_t key[KEYS_CLUSTER_KEY_SIZE],
                     const char *name, uint32_t id, uint64_t incarnation, uint32_t interval_ms,
                     uint32_t misses, uint64_t now_ms)
{
	if (!interval_ms || misses < 2 || !id || id == HB_WITNESS_ID)
		panic("ha_cluster_init: bad interval %u, misses %u or id %#x", interval_ms, misses,
		      id);
	memset(c, 0, sizeof(*c));
	memcpy(c->key, key, KEYS_CLUSTER_KEY_SIZE);
	c->interval_ms = interval_ms;
	c->misses = misses;
	c->max_skew_ms = HA_MAX_SKEW_DEFAULT;
	c->incarnation = incarnation;
	c->boot_ms = now_ms;
	struct ha_node *self = &c->node[0];
	tern_strlcpy(self->name, name, sizeof(self->name));
	tern_strlcpy(self->hb_name, name, sizeof(self->hb_name));
	self->id = id;
	self->state = HA_ALIVE;
	self->incarnation = incarnation;
	self->last_heard_ms = now_ms;
	self->hears_us = true;
	c->n = 1;
	hb_tx_init(&c->tx, key, id, incarnation);
	c->total_votes = 1;
	c->votes = 1;
	c->quorate = false; /* decided by the first tick */
}

/* find_node: index of the configured node with this id, or -1. */
static int find_node(const struct ha_cluster *c, uint32_t id)
{
	for (int i = 0; i < c->n; i++)
		if (c->node[i].id == id)
			return i;
	return -1;
}

/* ha_cluster_add_peer: a configured voter; its index, or -1 (full, duplicate or bad id). */
int ha_cluster_add_peer(struct ha_cluster *c, const char *name, uint32_t id, uint16_t port)
{
	if (c->n >= HA_MAX_NODES || !id || id == HB_WITNESS_ID || find_node(c, id) >= 0)
		return -1;
	struct ha_node *p = &c->node[c->n];
	memset(p, 0, sizeof(*p));
	tern_strlcpy(p->name, name, sizeof(p->name));
	p->id = id;
	p->port = port;
	p->state = HA_UNKNOWN;
	c->total_votes++;
	return c->n++;
}

/* ha_cluster_set_witness: the witness's address (adds one configured vote). */
void ha_cluster_set_witness(struct ha_cluster *c, uint32_t ip, uint16_t port)
{
	if (!c->wit.configured)
		c->total_votes++;
	memset(&c->wit, 0, sizeof(c->wit));
	c->wit.configured = true;
	c->wit.ip = ip;
	c->wit.port = port;
}

/* ha_cluster_set_maintenance: this host's maintenance flag; true if it changed. */
bool ha_cluster_set_maintenance(struct ha_cluster *c, bool on)
{
	if (c->maintenance == on)
		return false;
	c->maintenance = on;
	c->node[0].maintenance = on;
	c->view_gen++;
	klog("ha: %s maintenance %s", c->node[0].name, on ? "on" : "off");
	return true;
}

/* ha_cluster_connected: node i's vote counts (self always; peers ALIVE/LATE and hearing us). */
bool ha_cluster_connected(const struct ha_cluster *c, int i)
{
	if (i == 0)
		return true;
	const struct ha_node *p = &c->node[i];
	return (p->state == HA_ALIVE || p->state == HA_LATE) && p->hears_us;
}

/* ha_cluster_heartbeat: our view (peers we hear), flags and timing, sealed with a fresh seq. */
int ha_cluster_heartbeat(struct ha_cluster *c, uint64_t now_ms, uint64_t wall_ms, uint8_t *out,
                         size_t cap)
{
	struct hb_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HB_TYPE_HOST;
	m.flags = (c->maintenance ? HB_FLAG_MAINT : 0) | (c->quorate ? HB_FLAG_QUORATE : 0);
	m.interval_ms = (uint16_t)MIN(c->interval_ms, 65535u);
	m.node = c->node[0].id;
	m.incarnation = c->incarnation;
	m.wall_ms = wall_ms;
	m.uptime_ms = now_ms - c->boot_ms;
	m.lease_ms = c->interval_ms * c->misses;
	tern_strlcpy(m.name, c->node[0].name, sizeof(m.name));
	for (int i = 0; i < c->n; i++)
		if (c->node[i].state == HA_ALIVE || c->node[i].state == HA_LATE)
			m.view[m.nview++] = c->node[i].id;
	uint64_t seq;
	int n = hb_seal(&c->tx, &m, out, cap, &seq);
	if (n < 0)
		return -1;
	c->sent[seq % HA_SENT_RING].seq = seq;
	c->sent[seq % HA_SENT_RING].ms = now_ms;
	c->cnt.sent++;
	return n;
}

/* count_drop: account a dropped datagram and pass the reason on. */
static int count_drop(struct ha_cluster *c, int rc)
{
	switch (rc) {
	case HB_E_FORMAT:
		c->cnt.malformed++;
		break;
	case HB_E_AUTH:
		c->cnt.forged++;
		break;
	case HB_E_REPLAY:
		c->cnt.replayed++;
		break;
	case HB_E_UNKNOWN:
		c->cnt.unknown++;
		break;
	case HB_E_STALE:
		c->cnt.stale++;
		break;
	case HB_E_SELF:
		c->cnt.self++;
		break;
	}
	return rc;
}

/* skew_ok: a new incarnation's wall clock must be near ours (limits replays after reboots). */
static bool skew_ok(const struct ha_cluster *c, uint64_t theirs, uint64_t ours)
{
	if (!c->max_skew_ms || !theirs || !ours)
		return true;
	uint64_t d = theirs > ours ? theirs - ours : ours - theirs;
	return d <= c->max_skew_ms;
}

/*
 * open_from: authenticate pkt with *rx for (id, inc). A higher incarnation than the one we
 * hold gets a freshly derived context that replaces *rx only if the datagram authenticates.
 */
static int open_from(struct ha_cluster *c, struct crypto_dgram_rx *rx, bool *have_rx,
                     uint64_t *cur_inc, uint32_t id, uint64_t inc, const uint8_t *pkt, size_t len,
                     struct hb_msg *m, uint64_t wall_ms)
{
	if (*have_rx && inc < *cur_inc)
		return HB_E_STALE;
	if (*have_rx && inc == *cur_inc)
		return hb_open(rx, pkt, len, m);
	struct crypto_dgram_rx fresh;
	hb_rx_init(&fresh, c->key, id, inc);
	int rc = hb_open(&fresh, pkt, len, m);
	if (rc == HB_OK && !skew_ok(c, m->wall_ms, wall_ms))
		rc = HB_E_STALE;
	if (rc == HB_OK) {
		*rx = fresh;
		*have_rx = true;
		*cur_inc = inc;
	}
	crypto_wipe(&fresh, sizeof(fresh));
	return rc;
}

/* witness_receive: the witness's grant: holder and lease from the send time of our echo. */
static int witness_receive(struct ha_cluster *c, uint64_t inc, const uint8_t *pkt, size_t len,
                           uint64_t now_ms, uint64_t wall_ms)
{
	struct ha_witness_peer *w = &c->wit;
	struct hb_msg m;
	int rc = open_from(c, &w->rx, &w->have_rx, &w->incarnation, HB_WITNESS_ID, inc, pkt, len,
	                   &m, wall_ms);
	if (rc != HB_OK)
		return rc;
	if (m.type != HB_TYPE_WITNESS)
		return HB_E_FORMAT;
	w->last_heard_ms = now_ms;
	w->received++;
	w->holder = m.holder;
	w->lease_ms = m.lease_ms;
	/* The grant lasts 7/8 of the lease from when we sent the heartbeat it answers: the
	 * witness waits a full lease from its reply before it grants to anyone else. */
	const typeof(c->sent[0]) *s = &c->sent[m.echo_seq % HA_SENT_RING];
	if (m.holder && s->seq == m.echo_seq && s->ms && m.echo_seq < c->tx.seq) {
		uint64_t until = s->ms + (uint64_t)m.lease_ms * 7 / 8;
		if (until > w->valid_until_ms)
			w->valid_until_ms = until;
	} else if (!m.holder) {
		w->valid_until_ms = 0;
	}
	return HB_OK;
}

/* peer_receive: a host heartbeat from configured peer i. */
static int peer_receive(struct ha_cluster *c, int i, uint64_t inc, const uint8_t *pkt, size_t len,
                        uint64_t now_ms, uint64_t wall_ms)
{
	struct ha_node *p = &c->node[i];
	struct hb_msg m;
	bool had = p->have_rx;
	uint64_t old_inc = p->incarnation;
	int rc =
	    open_from(c, &p->rx, &p->have_rx, &p->incarnation, p->id, inc, pkt, len, &m, wall_ms);
	if (rc != HB_OK)
		return rc;
	if (m.type != HB_TYPE_HOST) /* authentic but not a host message: ignore */
		return HB_E_FORMAT;
	if (had && p->incarnation != old_inc)
		p->rebooted = true;
	p->last_heard_ms = now_ms;
	p->last_seq = m.seq;
	p->hears_us = hb_view_has(&m, c->node[0].id);
	p->quorate = m.flags & HB_FLAG_QUORATE;
	tern_strlcpy(p->hb_name, m.name, sizeof(p->hb_name));
	if (p->maintenance != !!(m.flags & HB_FLAG_MAINT)) {
		p->maintenance = m.flags & HB_FLAG_MAINT;
		c->view_gen++;
		klog("ha: %s maintenance %s", p->name, p->maintenance ? "on" : "off");
	}
	p->received++;
	return HB_OK;
}

/* ha_cluster_receive: route by the (unauthenticated) sender, then authenticate. */
int ha_cluster_receive(struct ha_cluster *c, uint32_t src_ip, const uint8_t *pkt, size_t len,
                       uint64_t now_ms, uint64_t wall_ms)
{
	uint32_t sender;
	uint64_t inc;
	int rc = hb_peek(pkt, len, &sender, &inc);
	if (rc != HB_OK)
		return count_drop(c, rc);
	if (sender == HB_WITNESS_ID) {
		if (!c->wit.configured || src_ip != c->wit.ip)
			return count_drop(c, HB_E_UNKNOWN);
		rc = witness_receive(c, inc, pkt, len, now_ms, wall_ms);
	} else if (sender == c->node[0].id) {
		return count_drop(c, HB_E_SELF);
	} else {
		int i = find_node(c, sender);
		if (i < 0)
			return count_drop(c, HB_E_UNKNOWN);
		rc = peer_receive(c, i, inc, pkt, len, now_ms, wall_ms);
	}
	if (rc != HB_OK)
		return count_drop(c, rc);
	c->cnt.received++;
	return HB_OK;
}

/* next_state: a peer's state from how long it has been silent. */
static enum ha_state next_state(const struct ha_cluster *c, const struct ha_node *p,
                                uint64_t now_ms)
{
	if (!p->have_rx)
		return HA_UNKNOWN;
	uint64_t silent = now_ms - p->last_heard_ms;
	if (silent >= (uint64_t)c->interval_ms * c->misses)
		return HA_DEAD;
	if (silent * 2 > (uint64_t)c->interval_ms * 3)
		return HA_LATE;
	return HA_ALIVE;
}

/* tick_peer: apply node i's liveness; true if its vote-relevant state changed. */
static bool tick_peer(struct ha_cluster *c, int i, uint64_t now_ms)
{
	struct ha_node *p = &c->node[i];
	bool was = ha_cluster_connected(c, i);
	enum ha_state old = p->state, s = next_state(c, p, now_ms);
	if (p->rebooted) {
		p->rebooted = false;
		klog("ha: member %s rebooted (new incarnation %llx)", p->name,
		     (unsigned long long)p->incarnation);
		c->view_gen++;
	}
	p->state = s;
	if (old != s && s == HA_ALIVE && old != HA_LATE)
		klog("ha: member %s joined (%s)", p->name,
		     old == HA_DEAD ? "back" : "first contact");
	else if (old != s && s == HA_DEAD)
		klog("ha: member %s dead (silent %llu ms)", p->name,
		     (unsigned long long)(now_ms - p->last_heard_ms));
	if (old != s && (s == HA_ALIVE || s == HA_DEAD) && old != HA_LATE)
		c->view_gen++;
	else if (old == HA_LATE && s == HA_DEAD)
		c->view_gen++;
	return was != ha_cluster_connected(c, i);
}

/* holder_connected: the witness's holder is us or a peer connected to us. */
static bool holder_connected(const struct ha_cluster *c, uint32_t holder)
{
	int i = holder ? find_node(c, holder) : -1;
	return i >= 0 && ha_cluster_connected(c, i);
}

/* tick_witness: witness liveness and whether its vote counts for us now. */
static bool tick_witness(struct ha_cluster *c, uint64_t now_ms)
{
	struct ha_witness_peer *w = &c->wit;
	if (!w->configured)
		return false;
	bool alive = w->have_rx && now_ms - w->last_heard_ms < (uint64_t)c->interval_ms * c->misses;
	bool vote = alive && now_ms < w->valid_until_ms && holder_connected(c, w->holder);
	bool changed = alive != w->alive || vote != w->vote;
	if (alive != w->alive)
		klog("ha: witness %s", alive ? "up" : "down");
	if (vote != w->vote)
		klog("ha: witness vote %s", vote ? "granted" : "withdrawn");
	w->alive = alive;
	w->vote = vote;
	return changed;
}

/* ha_cluster_tick: advance liveness, the witness vote and quorum; true if the view changed. */
bool ha_cluster_tick(struct ha_cluster *c, uint64_t now_ms)
{
	uint64_t gen = c->view_gen;
	c->node[0].last_heard_ms = now_ms;
	for (int i = 1; i < c->n; i++)
		if (tick_peer(c, i, now_ms))
			c->view_gen++;
	if (tick_witness(c, now_ms))
		c->view_gen++;
	int votes = 0;
	for (int i = 0; i < c->n; i++)
		votes += ha_cluster_connected(c, i);
	votes += c->wit.vote;
	bool quorate = votes * 2 > c->total_votes;
	if (quorate != c->quorate || votes != c->votes) {
		if (quorate != c->quorate)
			klog("ha: quorum %s (%d of %d votes)", quorate ? "gained" : "LOST", votes,
			     c->total_votes);
		c->view_gen++;
	}
	c->quorate = quorate;
	c->votes = votes;
	return c->view_gen != gen;
}
