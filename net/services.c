/*
 * Built-in services on the raw API: echo (RFC 862), discard (RFC 863) and chargen (RFC 864),
 * TCP and UDP. They are the throughput sink (discard) and source (chargen): chargen streams
 * zero-copy references into one pattern buffer per stack, so a bulk test costs no copy.
 */
#include "net/tcp.h"

#define SVC_ECHO_PORT    7
#define SVC_DISCARD_PORT 9
#define SVC_CHARGEN_PORT 19
#define CG_LINE          72                   /* RFC 864 line length */
#define CG_PERIOD        (95 * (CG_LINE + 2)) /* the pattern repeats after 95 lines */
#define CG_UDP_LEN       512

struct net_services {
	unsigned mask;
	struct tcp_listener *l_echo, *l_discard, *l_chargen;
	struct udp_sock *u_echo, *u_discard, *u_chargen;
	uint8_t *pattern; /* one period of the RFC 864 pattern */
};

/* Per-connection chargen state. */
struct cg_conn {
	uint32_t target; /* bytes kept queued */
	const uint8_t *pattern;
};

/* echo_recv: send back what arrived; the window reopens as the echo is acknowledged. */
static void echo_recv(void *arg, struct tcp_conn *c, const void *data, size_t len)
{
	if (!data) {
		tcp_close(c, c->s->now_us);
		return;
	}
	long n = tcp_write(c, data, len, c->s->now_us);
	if (n < 0 || (size_t)n != len)
		tcp_abort(c, c->s->now_us); /* cannot buffer the echo: give up loudly */
}

/* echo_sent: echoed bytes were acknowledged: let the peer send as much again. */
static void echo_sent(void *arg, struct tcp_conn *c, size_t acked)
{
	tcp_recved(c, acked, c->s->now_us);
}

/* discard_recv: consume and forget. */
static void discard_recv(void *arg, struct tcp_conn *c, const void *data, size_t len)
{
	if (!data)
		tcp_close(c, c->s->now_us);
	else
		tcp_recved(c, len, c->s->now_us);
}

/* cg_fill: keep target bytes of pattern queued, whole periods by reference (a period ends
 * with CRLF, so the stream continues seamlessly). */
static void cg_fill(struct cg_conn *g, struct tcp_conn *c)
{
	while (!(c->flags & TF_DEAD)) {
		uint32_t queued = c->sq_end - c->snd_una;
		if (queued >= g->target)
			break;
		if (tcp_write_ref(c, g->pattern, CG_PERIOD, NULL, NULL, c->s->now_us) < 0)
			break;
	}
}

/* cg_recv: chargen ignores input; the peer's FIN ends the stream. */
static void cg_recv(void *arg, struct tcp_conn *c, const void *data, size_t len)
{
	if (data) {
		tcp_recved(c, len, c->s->now_us);
		return;
	}
	net_free(c->s, arg);
	tcp_close(c, c->s->now_us);
}

/* cg_sent: room in flight again: queue more pattern. */
static void cg_sent(void *arg, struct tcp_conn *c, size_t acked)
{
	cg_fill(arg, c);
}

/* cg_err: the connection died: free the state. */
static void cg_err(void *arg, struct tcp_conn *c, int err)
{
	net_free(c->s, arg);
}

/* svc_accept: attach the service behind listener l to a new connection. */
static int svc_accept(void *arg, struct tcp_listener *l, struct tcp_conn *c)
{
	struct net_services *svc = arg;
	struct net_stack *s = c->s;
	if (l == svc->l_echo) {
		static const struct tcp_callbacks cb = {.recv = echo_recv, .sent = echo_sent};
		tcp_set_callbacks(c, &cb, NULL);
	} else if (l == svc->l_discard) {
		static const struct tcp_callbacks cb = {.recv = discard_recv};
		tcp_set_callbacks(c, &cb, NULL);
	} else {
		struct cg_conn *g = net_alloc(s, sizeof(*g));
		if (!g)
			return NET_ENOMEM;
		g->pattern = svc->pattern;
		g->target = MAX(c->sndbuf, 4u * CG_PERIOD);
		static const struct tcp_callbacks cb = {
		    .recv = cg_recv, .sent = cg_sent, .err = cg_err};
		tcp_set_callbacks(c, &cb, g);
		cg_fill(g, c);
	}
	return 0;
}

/* udp_echo: send the datagram back. */
static void udp_echo(void *arg, struct udp_sock *u, net_ip4 src, uint16_t sport, const void *data,
                     size_t len)
{
	struct net_stack *s = arg;
	if (sport)
		udp_sendto(u, src, sport, data, len, s->now_us);
}

/* udp_chargen: answer any datagram with a chunk of the pattern (RFC 864 UDP service). */
static void udp_chargen(void *arg, struct udp_sock *u, net_ip4 src, uint16_t sport,
                        const void *data, size_t len)
{
	struct net_stack *s = arg;
	if (sport && s->svc && s->svc->pattern)
		udp_sendto(u, src, sport, s->svc->pattern, CG_UDP_LEN, s->now_us);
}

/* cg_pattern: RFC 864 rotating lines of the 95 printable ASCII characters (one period). */
static void cg_pattern(uint8_t *p)
{
	size_t n = 0;
	for (int line = 0; line < 95; line++) {
		for (int i = 0; i < CG_LINE; i++)
			p[n++] = (uint8_t)(' ' + (line + i) % 95);
		p[n++] = '\r';
		p[n++] = '\n';
	}
}

/* udp_discard: forget the datagram. */
static void udp_discard(void *arg, struct udp_sock *u, net_ip4 src, uint16_t sport,
                        const void *data, size_t len)
{
}

/* svc_open: open one service's TCP listener and UDP socket. */
static int svc_open(struct net_stack *s, uint16_t port, struct tcp_listener **l,
                    struct udp_sock **u, udp_recv_fn ufn)
{
	struct tcp_opts o = {.rcvbuf = s->cfg.tcp_rcvbuf, .sndbuf = s->cfg.tcp_rcvbuf + 65536};
	int err;
	*l = tcp_listen(s, 0, port, 0, &o, svc_accept, s->svc, &err);
	if (!*l)
		return err;
	if (ufn)
		*u = udp_open(s, 0, port, ufn, s, &err);
	return NET_OK;
}

/* svc_close: close one service's listener and socket (connections live on). */
static void svc_close(struct tcp_listener **l, struct udp_sock **u)
{
	tcp_listen_close(*l);
	udp_close(*u);
	*l = NULL;
	*u = NULL;
}

/* net_services_set: enable exactly the services in mask (others are closed). */
int net_services_set(struct net_stack *s, unsigned mask)
{
	if (!s->svc) {
		s->svc = net_zalloc(s, sizeof(*s->svc));
		if (!s->svc)
			return NET_ENOMEM;
	}
	struct net_services *svc = s->svc;
	if ((mask & NET_SVC_CHARGEN) && !svc->pattern) {
		svc->pattern = net_alloc(s, CG_PERIOD);
		if (!svc->pattern)
			return NET_ENOMEM;
		cg_pattern(svc->pattern);
	}
	int r = NET_OK;
	unsigned on = mask & ~svc->mask, off = svc->mask & ~mask;
	if (off & NET_SVC_ECHO)
		svc_close(&svc->l_echo, &svc->u_echo);
	if (off & NET_SVC_DISCARD)
		svc_close(&svc->l_discard, &svc->u_discard);
	if (off & NET_SVC_CHARGEN)
		svc_close(&svc->l_chargen, &svc->u_chargen);
	svc->mask &= ~off;
	if ((on & NET_SVC_ECHO) &&
	    (r = svc_open(s, SVC_ECHO_PORT, &svc->l_echo, &svc->u_echo, udp_echo)) == NET_OK)
		svc->mask |= NET_SVC_ECHO;
	if ((on & NET_SVC_DISCARD) && r == NET_OK &&
	    (r = svc_open(s, SVC_DISCARD_PORT, &svc->l_discard, &svc->u_discard, udp_discard)) ==
	        NET_OK)
		svc->mask |= NET_SVC_DISCARD;
	if ((on & NET_SVC_CHARGEN) && r == NET_OK &&
	    (r = svc_open(s, SVC_CHARGEN_PORT, &svc->l_chargen, &svc->u_chargen, udp_chargen)) ==
	        NET_OK)
		svc->mask |= NET_SVC_CHARGEN;
	return r;
}

/* net_services_get: the enabled mask. */
unsigned net_services_get(const struct net_stack *s)
{
	return s->svc ? s->svc->mask : 0;
}

/* services_destroy: free the service state (after TCP is torn down: chargen connections
 * reference the pattern until then; listeners are freed by tcp_destroy). */
void services_destroy(struct net_stack *s)
{
	struct net_services *svc = s->svc;
	if (!svc)
		return;
	udp_close(svc->u_echo);
	udp_close(svc->u_discard);
	udp_close(svc->u_chargen);
	net_free(s, svc->pattern);
	net_free(s, svc);
	s->svc = NULL;
}
