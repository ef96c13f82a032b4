/*
 * Test harness for net/: a simulated Ethernet link joining two stacks (loss, duplication,
 * reordering, delay, bandwidth; seeded PRNG, virtual clock), and a "raw peer" that captures
 * what one stack sends and injects hand-made frames into it.
 */
#ifndef TERN_TEST_NET_SIM_H
#define TERN_TEST_NET_SIM_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "net/net.h"

#define SIM_IP_A NET_IP4(10, 0, 0, 1)
#define SIM_IP_B NET_IP4(10, 0, 0, 2)

extern const uint8_t sim_mac_a[6], sim_mac_b[6];
extern const struct net_alloc_ops sim_alloc;

/* ---- PRNG ----------------------------------------------------------------------------- */
uint64_t sim_rand(uint64_t *state);
/* sim_pattern: deterministic keyed byte stream (content check for transfers). */
uint8_t sim_pattern_byte(uint64_t key, uint64_t off);
void sim_pattern_fill(uint64_t key, uint64_t off, uint8_t *buf, size_t len);

/* ---- simulated link ------------------------------------------------------------------- */
struct sim_frame {
	uint64_t at, order;
	int to;
	size_t len;
	uint8_t data[];
};

struct sim_dir {
	uint32_t loss_ppm, dup_ppm, reorder_ppm;
	uint64_t delay_us, reorder_us; /* propagation; extra delay of a reordered frame */
	uint64_t rate_bps;             /* 0 = unlimited */
	uint64_t busy_ns;              /* transmitter busy until (ns) */
	uint32_t queue_max;            /* frames waiting for the transmitter (drop-tail) */
	uint64_t frames, bytes, lost, dups, reordered, qdrops;
	/* drop hook: return true to drop this frame */
	bool (*drop)(void *ctx, const uint8_t *f, size_t len);
	void *drop_ctx;
};

struct sim;
struct sim_node {
	struct sim *sim;
	int idx;
	struct netif nif;
	struct net_stack *s;
};

struct sim {
	uint64_t now;
	uint64_t rng;
	uint64_t order;
	struct sim_node node[2];
	struct sim_dir dir[2]; /* dir[i]: frames sent by node i */
	struct sim_frame **heap;
	size_t nheap, capheap;
};

/* sim_init: two stacks A (10.0.0.1) and B (10.0.0.2) on a /24, links up; cfg may be NULL. */
void sim_init(struct sim *sm, uint64_t seed, const struct net_config *cfg);
/* sim_free: destroy both stacks and in-flight frames. */
void sim_free(struct sim *sm);
/* sim_step: advance to the next event and run it; false if nothing is pending. */
bool sim_step(struct sim *sm);
/* sim_run: step until done(arg) or until time `until`; returns done's last value. */
bool sim_run(struct sim *sm, uint64_t until, bool (*done)(void *), void *arg);
/* sim_run_for: step for a duration of virtual time. */
void sim_run_for(struct sim *sm, uint64_t us);

/* ---- raw peer --------------------------------------------------------------------------- */
struct raw_frame {
	size_t len;
	uint8_t data[1600];
};

struct rawpeer {
	uint64_t now;
	struct net_stack *s;
	struct netif nif;
	struct raw_frame *cap; /* captured frames sent by the stack */
	size_t ncap, capcap, rd;
	uint16_t ip_id;
};

/* A parsed TCP segment sent by the stack. */
struct seg_view {
	net_ip4 src, dst;
	uint16_t sport, dport;
	uint32_t seq, ack, wnd;
	uint8_t flags, ttl;
	uint32_t dlen;
	const uint8_t *data;
	bool has_mss, has_ws, has_ts, has_sackok;
	int nsack;
	uint32_t sack[4][2];
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
};

/* rp_init: a stack at 10.0.0.1 whose peer 10.0.0.2 is us (static ARP). */
void rp_init(struct rawpeer *rp, const struct net_config *cfg);
void rp_free(struct rawpeer *rp);
/* rp_pending: captured frames not read yet. */
size_t rp_pending(const struct rawpeer *rp);
/* rp_next: next captured frame (NULL if none). */
const struct raw_frame *rp_next(struct rawpeer *rp);
/* rp_next_tcp: next captured TCP segment, skipping other frames; false if none. */
bool rp_next_tcp(struct rawpeer *rp, struct seg_view *v);
/* rp_drain: forget captured frames. */
void rp_drain(struct rawpeer *rp);
/* rp_tcp: inject a TCP segment from 10.0.0.2:sport to the stack's dport. opts may be NULL. */
void rp_tcp(struct rawpeer *rp, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
            uint8_t flags, uint16_t wnd, const uint8_t *opts, size_t olen, const void *data,
            size_t dlen);
/* rp_ip: inject an IPv4 datagram (header built here, checksums right) with proto payload. */
void rp_ip(struct rawpeer *rp, uint8_t proto, const void *payload, size_t len);
/* rp_frame: inject a raw Ethernet frame. */
void rp_frame(struct rawpeer *rp, const void *f, size_t len);
/* rp_advance: move the clock and poll. */
void rp_advance(struct rawpeer *rp, uint64_t us);
/* parse_tcp: parse a captured frame as IPv4/TCP. */
bool parse_tcp(const uint8_t *f, size_t len, struct seg_view *v);
/* inet_csum: plain reference RFC 1071 checksum (for building test frames). */
uint16_t ref_csum(const void *p, size_t len, uint32_t sum);

/* ---- TCP helpers over the raw peer ------------------------------------------------------ */

/* An application recording every callback. */
struct test_app {
	struct tcp_conn *c;
	int connected, accepted, errs, last_err, eofs;
	size_t rcvd, acked;
	uint8_t *buf; /* received bytes, up to cap */
	size_t cap;
	bool auto_recved;
	bool reject;
};
extern const struct tcp_callbacks test_app_cb;
int test_app_accept(void *arg, struct tcp_listener *l, struct tcp_conn *c);
void test_app_init(struct test_app *a, size_t cap);
void test_app_free(struct test_app *a);

/* The raw peer's side of one connection. */
struct rp_conn {
	uint16_t port;      /* peer (10.0.0.2) port */
	uint16_t sport;     /* stack (10.0.0.1) port */
	uint32_t snd_nxt;   /* peer's next sequence number */
	uint32_t rcv_nxt;   /* next byte expected from the stack */
	uint16_t wnd;       /* window field the peer advertises */
	bool ts;            /* timestamps in use */
	uint32_t tsval;     /* peer clock */
	uint32_t ts_recent; /* last TSval from the stack */
};

/* rp_syn_opts: MSS/WS/TS options for a peer SYN; returns length. */
size_t rp_syn_opts(uint8_t *o, uint16_t mss, int ws, bool ts, uint32_t tsval, uint32_t tsecr);
/* rp_seg: send a segment on pc (TS added if pc->ts); advances snd_nxt by len (+SYN/FIN). */
void rp_seg(struct rawpeer *rp, struct rp_conn *pc, uint8_t flags, const void *data, size_t len);
/* rp_establish_active: stack connects to pc->port, peer answers; app gets the conn. */
void rp_establish_active(struct rawpeer *rp, struct test_app *app, struct rp_conn *pc,
                         uint16_t peer_port, bool ts, int ws);
/* rp_establish_passive: stack listens on port (listener returned), peer connects. */
struct tcp_listener *rp_establish_passive(struct rawpeer *rp, struct test_app *app,
                                          struct rp_conn *pc, uint16_t port, bool ts, int ws);
/* rp_expect: next TCP segment from the stack must exist; updates pc->ts_recent. */
void rp_expect(struct rawpeer *rp, struct rp_conn *pc, struct seg_view *v);
/* rp_state: the state of the stack's only (or first) connection, TCP_CLOSED if none. */
enum tcp_state rp_state(struct rawpeer *rp);
/* rp_count_tcp: number of captured-but-unread TCP segments (does not consume). */
size_t rp_count_tcp(struct rawpeer *rp);

/* TCP flag bits for tests */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#endif
