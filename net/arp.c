/*
 * ARP (RFC 826) for IPv4 over Ethernet, with RFC 5227 announcements. The cache is 16 sets of
 * 4 ways hashed by IP (O(1) lookup, LRU replacement within a set, static entries pinned).
 * States: INCOMPLETE (broadcast requests every arp_retry_us, up to NET_ARP_QMAX frames
 * queued), REACHABLE (no timer; an entry older than arp_timeout_us that is used goes to PROBE),
 * PROBE (still used while unicast requests re-verify it; freed if they go unanswered), STATIC.
 */
#include "net/net_internal.h"

#define ARP_LEN     28
#define ARP_REQUEST 1
#define ARP_REPLY   2

static const uint8_t bcast_mac[NET_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t zero_mac[NET_ETH_ALEN];

/* arp_set: the cache set an address hashes to. */
static struct arp_entry *arp_set(struct net_stack *s, net_ip4 ip)
{
	uint32_t h = (ip ^ s->hash_salt) * 0x9e3779b1u;
	return s->arp[h >> 28];
}

/* arp_find: the in-use entry for ip, or NULL. */
static struct arp_entry *arp_find(struct net_stack *s, net_ip4 ip)
{
	struct arp_entry *set = arp_set(s, ip);
	for (int i = 0; i < NET_ARP_WAYS; i++)
		if (set[i].state != NET_ARP_FREE && set[i].ip == ip)
			return &set[i];
	return NULL;
}

/* arp_drop_queue: free the frames waiting on e, counting each as dropped. */
static void arp_drop_queue(struct net_stack *s, struct arp_entry *e)
{
	while (e->qhead) {
		struct arp_qframe *q = e->qhead;
		e->qhead = q->next;
		net_drop(s, NULL, NET_DROP_ARP_FAILED);
		net_free(s, q);
	}
	e->qtail = NULL;
	e->qlen = 0;
}

/* arp_free_entry: return e to FREE. */
static void arp_free_entry(struct net_stack *s, struct arp_entry *e)
{
	arp_drop_queue(s, e);
	memset(e, 0, sizeof(*e));
}

/* arp_alloc: a slot for ip: free way, else least recently used dynamic entry. */
static struct arp_entry *arp_alloc(struct net_stack *s, net_ip4 ip)
{
	struct arp_entry *set = arp_set(s, ip), *victim = NULL;
	for (int i = 0; i < NET_ARP_WAYS; i++) {
		struct arp_entry *e = &set[i];
		if (e->state == NET_ARP_FREE) {
			victim = e;
			break;
		}
		if (e->state == NET_ARP_STATIC)
			continue;
		if (!victim || e->used_us < victim->used_us)
			victim = e;
	}
	if (!victim)
		return NULL;
	arp_free_entry(s, victim);
	victim->ip = ip;
	return victim;
}

/* arp_send: build and send one ARP packet. */
static int arp_send(struct net_stack *s, struct netif *nif, uint16_t op, const uint8_t *sha,
                    net_ip4 spa, const uint8_t *tha, net_ip4 tpa, const uint8_t *eth_dst)
{
	struct net_tx tx;
	net_tx_init(&tx);
	uint8_t *a = tx.hdr + TX_IP;
	put_be16(a, 1);            /* htype Ethernet */
	put_be16(a + 2, ETH_P_IP); /* ptype IPv4 */
	a[4] = NET_ETH_ALEN;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, sha, NET_ETH_ALEN);
	put_be32(a + 14, spa);
	memcpy(a + 18, tha, NET_ETH_ALEN);
	put_be32(a + 24, tpa);
	net_count(&s->stats.arp, true, ARP_LEN);
	return eth_output(s, nif, eth_dst, sha, ETH_P_ARP, &tx, TX_IP + ARP_LEN);
}

/* arp_request: ask who has ip (broadcast, or unicast to a known MAC when re-verifying). */
static void arp_request(struct net_stack *s, struct netif *nif, net_ip4 ip, const uint8_t *to)
{
	s->stats.arp_requests_sent++;
	arp_send(s, nif, ARP_REQUEST, nif->mac, nif->addr, zero_mac, ip, to ? to : bcast_mac);
}

/* arp_arm: set e's timer. */
static void arp_arm(struct net_stack *s, struct arp_entry *e, uint64_t when)
{
	e->timer_us = when;
	net_timer_note(s, when);
}

/* arp_flush_queue: e became resolved: send its waiting frames. */
static void arp_flush_queue(struct net_stack *s, struct arp_entry *e)
{
	struct netif *nif = s->ifs[e->ifindex];
	while (e->qhead) {
		struct arp_qframe *q = e->qhead;
		e->qhead = q->next;
		memcpy(q->data, e->mac, NET_ETH_ALEN);
		eth_send_linear(s, nif, q->data, q->len);
		net_free(s, q);
	}
	e->qtail = NULL;
	e->qlen = 0;
}

/* arp_confirm: record ip at mac (reply, merge, or learn). */
static void arp_confirm(struct net_stack *s, struct arp_entry *e, struct netif *nif,
                        const uint8_t *mac)
{
	memcpy(e->mac, mac, NET_ETH_ALEN);
	e->state = NET_ARP_REACHABLE;
	e->ifindex = nif->index;
	e->confirmed_us = s->now_us;
	e->retries = 0;
	e->timer_us = 0;
	arp_flush_queue(s, e);
}

/* arp_input: process an ARP packet (RFC 826 "packet reception" algorithm). */
void arp_input(struct net_stack *s, struct netif *nif, const uint8_t *p, size_t len)
{
	if (len < ARP_LEN) {
		net_drop(s, nif, NET_DROP_TRUNCATED);
		return;
	}
	net_count(&s->stats.arp, false, ARP_LEN);
	if (get_be16(p) != 1 || get_be16(p + 2) != ETH_P_IP || p[4] != NET_ETH_ALEN || p[5] != 4) {
		net_drop(s, nif, NET_DROP_BAD_HEADER);
		return;
	}
	uint16_t op = get_be16(p + 6);
	const uint8_t *sha = p + 8;
	net_ip4 spa = get_be32(p + 14), tpa = get_be32(p + 24);
	if (op != ARP_REQUEST && op != ARP_REPLY) {
		net_drop(s, nif, NET_DROP_UNSUPPORTED);
		return;
	}
	if ((sha[0] & 1) || ip_is_martian_src(spa)) {
		net_drop(s, nif, NET_DROP_MARTIAN);
		return;
	}
	if (memcmp(sha, nif->mac, NET_ETH_ALEN) == 0) {
		net_drop(s, nif, NET_DROP_NOT_FOR_US); /* our own announcement reflected */
		return;
	}
	if (nif->addr && spa == nif->addr) {
		s->stats.arp_conflicts++; /* RFC 5227 2.4: someone else claims our address */
		net_drop(s, nif, NET_DROP_MARTIAN);
		return;
	}
	bool merged = false;
	struct arp_entry *e = spa ? arp_find(s, spa) : NULL;
	if (e && e->state != NET_ARP_STATIC) {
		arp_confirm(s, e, nif, sha); /* merge flag: update a known sender */
		merged = true;
	}
	if (!nif->addr || tpa != nif->addr) {
		if (!merged)
			net_drop(s, nif, NET_DROP_NOT_FOR_US);
		return;
	}
	if (!merged && !e && spa && (spa & nif->mask) == (nif->addr & nif->mask)) {
		e = arp_alloc(s, spa);
		if (e)
			arp_confirm(s, e, nif, sha);
	}
	if (op == ARP_REQUEST) {
		s->stats.arp_replies_sent++;
		arp_send(s, nif, ARP_REPLY, nif->mac, nif->addr, sha, spa, sha);
	}
}

/* arp_queue: keep a linear copy of tx until the next hop resolves. */
static int arp_queue(struct net_stack *s, struct arp_entry *e, struct net_tx *tx)
{
	if (e->qlen >= NET_ARP_QMAX) {
		net_drop(s, NULL, NET_DROP_ARP_QUEUE);
		return NET_EAGAIN;
	}
	size_t len = tx->iov[0].len + tx->payload_len;
	struct arp_qframe *q = net_alloc(s, sizeof(*q) + len);
	if (!q) {
		net_drop(s, NULL, NET_DROP_NO_BUFFER);
		return NET_ENOMEM;
	}
	size_t off = 0;
	for (unsigned i = 0; i < tx->niov; i++) {
		memcpy(q->data + off, tx->iov[i].base, tx->iov[i].len);
		off += tx->iov[i].len;
	}
	q->len = len;
	q->next = NULL;
	if (e->qtail)
		e->qtail->next = q;
	else
		e->qhead = q;
	e->qtail = q;
	e->qlen++;
	return NET_OK;
}

/* arp_output: send an IPv4 frame to next hop nh, resolving or queueing as needed. */
int arp_output(struct net_stack *s, struct netif *nif, net_ip4 nh, struct net_tx *tx)
{
	size_t hdr_len = TX_L4 + tx->l4_hlen;
	if (nh == 0xffffffffu || (nif->addr && nif->prefix_len < 31 && (nh | nif->mask) == nh &&
	                          (nh & nif->mask) == (nif->addr & nif->mask)))
		return eth_output(s, nif, bcast_mac, NULL, ETH_P_IP, tx, hdr_len);
	struct arp_entry *e = arp_find(s, nh);
	if (e && e->ifindex != nif->index && e->state != NET_ARP_STATIC) {
		arp_free_entry(s, e); /* the host moved to another interface */
		e = NULL;
	}
	if (e && e->state != NET_ARP_INCOMPLETE) {
		e->used_us = s->now_us;
		if (e->state == NET_ARP_REACHABLE &&
		    s->now_us - e->confirmed_us > s->cfg.arp_timeout_us) {
			e->state = NET_ARP_PROBE; /* stale: keep using it while re-verifying */
			e->retries = 0;
			arp_request(s, nif, nh, e->mac);
			arp_arm(s, e, s->now_us + s->cfg.arp_retry_us);
		}
		return eth_output(s, nif, e->mac, NULL, ETH_P_IP, tx, hdr_len);
	}
	if (!e) {
		e = arp_alloc(s, nh);
		if (!e) {
			net_drop(s, NULL, NET_DROP_ARP_QUEUE);
			return NET_ENOSPC;
		}
		e->state = NET_ARP_INCOMPLETE;
		e->ifindex = nif->index;
		e->used_us = s->now_us;
		arp_request(s, nif, nh, NULL);
		arp_arm(s, e, s->now_us + s->cfg.arp_retry_us);
	}
	tx->iov[0].base = tx->hdr;
	tx->iov[0].len = hdr_len;
	memset(tx->hdr, 0, NET_ETH_ALEN);
	memcpy(tx->hdr + 6, nif->mac, NET_ETH_ALEN);
	put_be16(tx->hdr + 12, ETH_P_IP);
	return arp_queue(s, e, tx);
}

/*
 * arp_suspect: "negative advice" from an upper layer (a TCP retransmission timeout): the
 * cached address of dst's next hop may be stale (the host moved, a bridge changed its MAC),
 * so re-verify it now with a broadcast request instead of waiting for arp_timeout_us.
 */
void arp_suspect(struct net_stack *s, net_ip4 dst)
{
	net_ip4 nh;
	struct netif *nif = ip_route(s, dst, &nh);
	struct arp_entry *e = nif ? arp_find(s, nh) : NULL;
	if (!e || e->state != NET_ARP_REACHABLE)
		return;
	e->state = NET_ARP_PROBE; /* keep using it while the request is out */
	e->retries = 0;
	arp_request(s, nif, nh, NULL);
	arp_arm(s, e, s->now_us + s->cfg.arp_retry_us);
}

/* arp_timers: retries of INCOMPLETE/PROBE entries; unanswered ones are freed. */
void arp_timers(struct net_stack *s)
{
	for (int i = 0; i < NET_ARP_SETS; i++) {
		for (int w = 0; w < NET_ARP_WAYS; w++) {
			struct arp_entry *e = &s->arp[i][w];
			if (!e->timer_us)
				continue;
			if (e->timer_us > s->now_us) {
				net_timer_note(s, e->timer_us);
				continue;
			}
			if (e->state != NET_ARP_INCOMPLETE && e->state != NET_ARP_PROBE) {
				e->timer_us = 0;
				continue;
			}
			if (++e->retries >= s->cfg.arp_retries) {
				arp_free_entry(s, e);
				continue;
			}
			struct netif *nif = s->ifs[e->ifindex];
			arp_request(s, nif, e->ip, e->state == NET_ARP_PROBE ? e->mac : NULL);
			arp_arm(s, e, s->now_us + s->cfg.arp_retry_us);
		}
	}
}

/* arp_flush_all: free queued frames (destroy). */
void arp_flush_all(struct net_stack *s)
{
	for (int i = 0; i < NET_ARP_SETS; i++)
		for (int w = 0; w < NET_ARP_WAYS; w++)
			arp_free_entry(s, &s->arp[i][w]);
}

/* net_arp_gratuitous: broadcast an ARP announcement (RFC 5227 3) that ip is at mac. */
int net_arp_gratuitous(struct netif *nif, net_ip4 ip, const uint8_t *mac, uint64_t now_us)
{
	struct net_stack *s = nif ? nif->stack : NULL;
	if (!s || !ip || ip_is_martian_src(ip) || (mac && (mac[0] & 1)))
		return NET_EINVAL;
	net_enter(s, now_us);
	s->stats.arp_gratuitous_sent++;
	const uint8_t *m = mac ? mac : nif->mac;
	int r = arp_send(s, nif, ARP_REQUEST, m, ip, zero_mac, ip, bcast_mac);
	net_leave(s);
	return r;
}

/* net_arp_add_static: a permanent entry (replaces a dynamic one). */
int net_arp_add_static(struct net_stack *s, struct netif *nif, net_ip4 ip, const uint8_t *mac)
{
	if (!nif || nif->stack != s || !mac || (mac[0] & 1) || !ip || ip_is_martian_src(ip))
		return NET_EINVAL;
	net_enter(s, s->now_us);
	struct arp_entry *e = arp_find(s, ip);
	if (!e)
		e = arp_alloc(s, ip);
	int r = NET_ENOSPC;
	if (e) {
		arp_confirm(s, e, nif, mac);
		e->state = NET_ARP_STATIC;
		r = NET_OK;
	}
	net_leave(s);
	return r;
}

/* net_arp_delete: forget ip (static or dynamic); NET_ENOENT if absent. */
int net_arp_delete(struct net_stack *s, net_ip4 ip)
{
	struct arp_entry *e = arp_find(s, ip);
	if (!e)
		return NET_ENOENT;
	arp_free_entry(s, e);
	return NET_OK;
}

/* net_arp_snapshot: copy up to max used entries into out; returns how many. */
size_t net_arp_snapshot(struct net_stack *s, struct net_arp_info *out, size_t max, uint64_t now_us)
{
	size_t n = 0;
	for (int i = 0; i < NET_ARP_SETS; i++) {
		for (int w = 0; w < NET_ARP_WAYS && n < max; w++) {
			struct arp_entry *e = &s->arp[i][w];
			if (e->state == NET_ARP_FREE)
				continue;
			out[n].ip = e->ip;
			memcpy(out[n].mac, e->mac, NET_ETH_ALEN);
			out[n].state = (enum net_arp_state)e->state;
			out[n].ifindex = e->ifindex;
			out[n].age_us = e->state == NET_ARP_INCOMPLETE || now_us < e->confirmed_us
			                    ? 0
			                    : now_us - e->confirmed_us;
			out[n].queued = e->qlen;
			n++;
		}
	}
	return n;
}
