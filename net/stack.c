/* The stack instance: creation, interfaces and addresses, the entry/leave bracket, timers. */
#include "net/net_internal.h"

/* net_config_default: fill cfg with the defaults documented in net.h (secret left zero). */
void net_config_default(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_limit = 64u << 20;
	cfg->max_conns = 1024;
	cfg->ttl = 64;
	cfg->arp_timeout_us = 300ull * 1000000;
	cfg->arp_retry_us = 1000000;
	cfg->arp_retries = 3;
	cfg->tcp_rcvbuf = 1u << 20;
	cfg->tcp_sndbuf = 1u << 20;
	cfg->tcp_rto_init_us = 1000000;
	cfg->tcp_rto_min_us = 200000;
	cfg->tcp_rto_max_us = 60ull * 1000000;
	cfg->tcp_delack_us = 40000;
	cfg->tcp_msl_us = 30ull * 1000000;
	cfg->tcp_fin_wait2_us = 60ull * 1000000;
	cfg->tcp_syn_retries = 6;
	cfg->tcp_max_retries = 12;
	cfg->tcp_syn_backlog = 128;
	cfg->tcp_timestamps = true;
	cfg->tcp_wscale = true;
	cfg->tcp_sack = true;
	cfg->tcp_syncookies = true;
	cfg->challenge_ack_per_s = 1000;
	cfg->rst_per_s = 1000;
	cfg->icmp_per_s = 1000;
}

/* sanitize_config: clamp values that would break invariants. */
static void sanitize_config(struct net_config *c)
{
	if (c->ttl == 0)
		c->ttl = 64;
	if (c->max_conns == 0)
		c->max_conns = 1;
	if (c->arp_retry_us == 0)
		c->arp_retry_us = 1000000;
	if (c->arp_retries == 0)
		c->arp_retries = 1;
	if (c->tcp_rcvbuf < 4096)
		c->tcp_rcvbuf = 4096;
	if (c->tcp_rcvbuf > (1u << 30))
		c->tcp_rcvbuf = 1u << 30;
	if (c->tcp_sndbuf < 4096)
		c->tcp_sndbuf = 4096;
	if (c->tcp_sndbuf > (1u << 30))
		c->tcp_sndbuf = 1u << 30;
	if (c->tcp_rto_min_us == 0)
		c->tcp_rto_min_us = 1000;
	if (c->tcp_rto_max_us < c->tcp_rto_min_us)
		c->tcp_rto_max_us = c->tcp_rto_min_us;
	if (c->tcp_rto_init_us < c->tcp_rto_min_us)
		c->tcp_rto_init_us = c->tcp_rto_min_us;
	if (c->tcp_delack_us == 0 || c->tcp_delack_us > 500000)
		c->tcp_delack_us = 40000; /* RFC 1122 4.2.3.2: at most 0.5 s */
	if (c->tcp_msl_us == 0)
		c->tcp_msl_us = 1000;
	if (c->tcp_syn_backlog == 0)
		c->tcp_syn_backlog = 1;
}

/* net_create: a new stack instance; mem is copied, cfg NULL means defaults. */
struct net_stack *net_create(const struct net_alloc_ops *mem, const struct net_config *cfg)
{
	if (!mem || !mem->alloc || !mem->free)
		return NULL;
	struct net_stack *s = mem->alloc(mem->ctx, sizeof(*s));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->mem = *mem;
	if (cfg)
		s->cfg = *cfg;
	else
		net_config_default(&s->cfg);
	sanitize_config(&s->cfg);
	s->timer_lb = UINT64_MAX;
	s->rst_bucket.rate = s->rst_bucket.tokens = s->cfg.rst_per_s;
	s->chack_bucket.rate = s->chack_bucket.tokens = s->cfg.challenge_ack_per_s;
	s->icmp_bucket.rate = s->icmp_bucket.tokens = s->cfg.icmp_per_s;
	uint64_t h = net_siphash(s->cfg.secret, "tern-net", 8);
	s->hash_salt = (uint32_t)h;
	s->ip_id = (uint16_t)(h >> 32);
	s->ephem_next = (uint32_t)(h >> 48);
	if (tcp_init(s) < 0) {
		mem->free(mem->ctx, s);
		return NULL;
	}
	return s;
}

/* net_destroy: abort every connection (completions/err callbacks fire) and free everything. */
void net_destroy(struct net_stack *s)
{
	if (!s)
		return;
	s->depth++;
	tcp_destroy(s);
	services_destroy(s);
	udp_close_all(s);
	arp_flush_all(s);
	for (unsigned i = 0; i < s->nifs; i++)
		s->ifs[i]->stack = NULL;
	s->mem.free(s->mem.ctx, s);
}

/* net_enter: start of a public entry point; time never goes backwards. */
void net_enter(struct net_stack *s, uint64_t now_us)
{
	s->depth++;
	if (now_us > s->now_us)
		s->now_us = now_us;
}

/* net_leave: end of a public entry point; the outermost one runs deferred work. */
void net_leave(struct net_stack *s)
{
	ASSERT(s->depth > 0);
	if (s->depth == 1) {
		tcp_flush_pending(s);
		if (s->reap_needed)
			tcp_reap(s);
	}
	s->depth--;
}

/* net_if_add: attach a driver's interface (mtu/mac/ops set); returns 0 or an error. */
int net_if_add(struct net_stack *s, struct netif *nif)
{
	if (!nif || !nif->ops || !nif->ops->send || nif->stack)
		return NET_EINVAL;
	if (s->nifs >= NET_MAX_IFS)
		return NET_ENOSPC;
	if (nif->mtu < 576)
		return NET_EINVAL; /* RFC 791: every host must accept 576-byte datagrams */
	if (nif->mtu > 65535)
		nif->mtu = 65535;
	nif->stack = s;
	nif->index = (uint8_t)s->nifs;
	nif->addr = nif->mask = nif->gw = 0;
	nif->prefix_len = 0;
	nif->link_up = false;
	s->ifs[s->nifs++] = nif;
	return NET_OK;
}

/* net_if_get: the idx-th interface, or NULL. */
struct netif *net_if_get(struct net_stack *s, unsigned idx)
{
	return idx < s->nifs ? s->ifs[idx] : NULL;
}

/* net_if_set_ipv4: address/prefix (0.0.0.0/0 clears) and default gateway (0 = none). */
int net_if_set_ipv4(struct netif *nif, net_ip4 addr, unsigned prefix_len, net_ip4 gateway,
                    uint64_t now_us)
{
	struct net_stack *s = nif ? nif->stack : NULL;
	if (!s || prefix_len > 32)
		return NET_EINVAL;
	net_ip4 mask = prefix_len ? ~0u << (32 - prefix_len) : 0;
	if (addr && (ip_is_martian_src(addr) || (prefix_len < 31 && (addr & ~mask) == ~mask)))
		return NET_EINVAL; /* multicast/broadcast cannot be a host address */
	if (gateway && addr && prefix_len && (gateway & mask) != (addr & mask))
		return NET_ENETUNREACH; /* gateway must be on-link */
	net_enter(s, now_us);
	nif->addr = addr;
	nif->mask = addr ? mask : 0;
	nif->prefix_len = addr ? (uint8_t)prefix_len : 0;
	nif->gw = gateway;
	if (addr && nif->link_up)
		net_arp_gratuitous(nif, addr, NULL, now_us);
	net_leave(s);
	return NET_OK;
}

/* net_if_set_link: report carrier up/down; going up announces the address. */
void net_if_set_link(struct netif *nif, bool up, uint64_t now_us)
{
	struct net_stack *s = nif ? nif->stack : NULL;
	if (!s)
		return;
	net_enter(s, now_us);
	bool was = nif->link_up;
	nif->link_up = up;
	if (up && !was && nif->addr)
		net_arp_gratuitous(nif, nif->addr, NULL, now_us);
	net_leave(s);
}

/* net_poll: run expired timers (cheap when none are due). */
void net_poll(struct net_stack *s, uint64_t now_us)
{
	net_enter(s, now_us);
	if (s->now_us >= s->timer_lb) {
		s->timer_lb = UINT64_MAX;
		arp_timers(s);
		tcp_timers(s);
	}
	net_leave(s);
}

/* net_next_deadline: earliest time net_poll has work (may be early, never late). */
uint64_t net_next_deadline(const struct net_stack *s)
{
	return s->timer_lb;
}

/* net_get_stats: copy the counters. */
void net_get_stats(const struct net_stack *s, struct net_stats *out)
{
	*out = s->stats;
	out->tcpx.conns_now = s->nconns;
}

/* net_strerror: short text for a NET_E* value. */
const char *net_strerror(int err)
{
	switch (err) {
	case NET_OK:
		return "ok";
	case NET_ENOENT:
		return "not found";
	case NET_EAGAIN:
		return "try again";
	case NET_ENOMEM:
		return "out of memory";
	case NET_EBUSY:
		return "busy";
	case NET_EINVAL:
		return "invalid argument";
	case NET_ENOSPC:
		return "no space";
	case NET_EPIPE:
		return "shut down for sending";
	case NET_EMSGSIZE:
		return "message too long";
	case NET_EADDRINUSE:
		return "address in use";
	case NET_ENETUNREACH:
		return "network unreachable";
	case NET_ECONNABORTED:
		return "connection aborted";
	case NET_ECONNRESET:
		return "connection reset";
	case NET_ENOTCONN:
		return "not connected";
	case NET_ETIMEDOUT:
		return "timed out";
	case NET_ECONNREFUSED:
		return "connection refused";
	case NET_EHOSTUNREACH:
		return "host unreachable";
	default:
		return "error";
	}
}

static const char *const drop_names[NET_DROP__COUNT] = {
    [NET_DROP_TRUNCATED] = "truncated",     [NET_DROP_BAD_CSUM] = "bad_csum",
    [NET_DROP_BAD_HEADER] = "bad_header",   [NET_DROP_NOT_FOR_US] = "not_for_us",
    [NET_DROP_UNSUPPORTED] = "unsupported", [NET_DROP_FRAGMENT] = "fragment",
    [NET_DROP_MARTIAN] = "martian",         [NET_DROP_NO_LISTENER] = "no_listener",
    [NET_DROP_BAD_STATE] = "bad_state",     [NET_DROP_OUT_OF_WINDOW] = "out_of_window",
    [NET_DROP_BAD_ACK] = "bad_ack",         [NET_DROP_PAWS] = "paws",
    [NET_DROP_RST_IGNORED] = "rst_ignored", [NET_DROP_SYN_BACKLOG] = "syn_backlog",
    [NET_DROP_BAD_COOKIE] = "bad_cookie",   [NET_DROP_OOO_LIMIT] = "ooo_limit",
    [NET_DROP_NO_BUFFER] = "no_buffer",     [NET_DROP_RATE_LIMIT] = "rate_limit",
    [NET_DROP_NO_ROUTE] = "no_route",       [NET_DROP_ARP_FAILED] = "arp_failed",
    [NET_DROP_ARP_QUEUE] = "arp_queue",     [NET_DROP_LINK_DOWN] = "link_down",
    [NET_DROP_TX_ERROR] = "tx_error",       [NET_DROP_TOO_BIG] = "too_big",
};

/* net_drop_name: "bad_csum" etc. */
const char *net_drop_name(enum net_drop_reason r)
{
	return (unsigned)r < NET_DROP__COUNT ? drop_names[r] : "?";
}
