/*
 * Bulk TCP transfers over the simulated link (1 Gbit/s, 100 us one way, 256-frame queues):
 * 10 MB arrives intact with 0% loss, with reordering + duplication, and with 5% loss in each
 * direction (SACK, and NewReno with SACK off); the simulated goodput is printed. Zero-copy and
 * copying send paths both used; every zero-copy completion must fire exactly once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"
#include "tests/unit/net_sim.h"

#define XFER_PORT 5001
#define PAGE      4096

struct xfer {
	struct sim *sm;
	bool zerocopy;
	size_t total;
	uint8_t *src;
	uint8_t *done_count; /* completions per page */
	size_t queued;       /* bytes handed to the client stack */
	size_t received;
	bool mismatch, eof, client_eof, server_err, client_err;
	struct tcp_conn *client, *server;
	uint64_t t_start, t_end;
	size_t inflight_refs;
};

struct page_ref {
	struct xfer *x;
	size_t idx;
};
static struct page_ref *refs;

/* ref_done: zero-copy completion (err 0 = acked); counted per page. */
static void ref_done(void *arg, int err)
{
	struct page_ref *r = arg;
	r->x->done_count[r->idx]++;
	r->x->inflight_refs--;
	assert_int_equal(err, 0);
}

/* fill: hand more data to the client (zero-copy pages or copies). */
static void fill(struct xfer *x)
{
	struct tcp_conn *c = x->client;
	uint64_t now = x->sm->now;
	if (x->zerocopy) {
		while (x->queued < x->total && x->inflight_refs < 512) {
			size_t n = x->total - x->queued < PAGE ? x->total - x->queued : PAGE;
			size_t idx = x->queued / PAGE;
			refs[idx].x = x;
			refs[idx].idx = idx;
			assert_int_equal(
			    tcp_write_ref(c, x->src + x->queued, n, ref_done, &refs[idx], now), 0);
			x->inflight_refs++;
			x->queued += n;
		}
	} else {
		while (x->queued < x->total) {
			size_t n = x->total - x->queued;
			if (n > 65536)
				n = 65536;
			long w = tcp_write(c, x->src + x->queued, n, now);
			assert_true(w >= 0);
			if (w == 0)
				break;
			x->queued += (size_t)w;
		}
	}
	if (x->queued == x->total)
		assert_int_equal(tcp_shutdown(c, now), 0);
}

static void cl_connected(void *arg, struct tcp_conn *c)
{
	fill(arg);
}

static void cl_sent(void *arg, struct tcp_conn *c, size_t acked)
{
	struct xfer *x = arg;
	if (x->queued < x->total)
		fill(x);
}

static void cl_recv(void *arg, struct tcp_conn *c, const void *d, size_t len)
{
	struct xfer *x = arg;
	if (!d) {
		x->client_eof = true;
		tcp_close(c, x->sm->now);
		x->client = NULL;
	}
}

static void cl_err(void *arg, struct tcp_conn *c, int err)
{
	struct xfer *x = arg;
	x->client_err = true;
	x->client = NULL;
}

static void sv_recv(void *arg, struct tcp_conn *c, const void *d, size_t len)
{
	struct xfer *x = arg;
	if (!d) {
		x->eof = true;
		x->t_end = x->sm->now;
		tcp_close(c, x->sm->now);
		return;
	}
	if (x->received + len > x->total || memcmp(x->src + x->received, d, len) != 0)
		x->mismatch = true;
	x->received += len;
	tcp_recved(c, len, x->sm->now);
}

static void sv_err(void *arg, struct tcp_conn *c, int err)
{
	struct xfer *x = arg;
	x->server_err = true;
}

static int sv_accept(void *arg, struct tcp_listener *l, struct tcp_conn *c)
{
	static const struct tcp_callbacks cb = {.recv = sv_recv, .err = sv_err};
	struct xfer *x = arg;
	x->server = c;
	tcp_set_callbacks(c, &cb, x);
	return 0;
}

static bool xfer_done(void *arg)
{
	struct xfer *x = arg;
	return (x->eof && x->client_eof) || x->mismatch || x->server_err || x->client_err;
}

/* run_xfer: one transfer of total bytes; returns goodput in Mbit/s. */
static double run_xfer(const char *name, uint64_t seed, uint32_t loss_ppm, uint32_t reorder_ppm,
                       uint32_t dup_ppm, bool zerocopy, size_t total, const struct net_config *cfg)
{
	struct sim sm;
	sim_init(&sm, seed, cfg);
	for (int i = 0; i < 2; i++) {
		sm.dir[i].loss_ppm = loss_ppm;
		sm.dir[i].reorder_ppm = reorder_ppm;
		sm.dir[i].reorder_us = 150;
		sm.dir[i].dup_ppm = dup_ppm;
		sm.dir[i].rate_bps = 1000000000ULL;
		sm.dir[i].queue_max = 256;
	}
	struct xfer x = {.sm = &sm, .zerocopy = zerocopy, .total = total};
	x.src = malloc(total);
	sim_pattern_fill(seed, 0, x.src, total);
	size_t pages = (total + PAGE - 1) / PAGE;
	x.done_count = calloc(pages, 1);
	refs = calloc(pages, sizeof(*refs));
	int err;
	struct tcp_listener *l =
	    tcp_listen(sm.node[1].s, 0, XFER_PORT, 0, NULL, sv_accept, &x, &err);
	assert_non_null(l);
	static const struct tcp_callbacks ccb = {
	    .recv = cl_recv, .sent = cl_sent, .connected = cl_connected, .err = cl_err};
	x.t_start = sm.now;
	x.client = tcp_connect(sm.node[0].s, SIM_IP_B, XFER_PORT, NULL, &ccb, &x, sm.now, &err);
	assert_non_null(x.client);
	bool ok = sim_run(&sm, sm.now + 600ULL * 1000000, xfer_done, &x);
	assert_true(ok);
	assert_false(x.mismatch);
	assert_false(x.server_err);
	assert_false(x.client_err);
	assert_int_equal(x.received, total);
	sim_run_for(&sm, 10000000); /* let acks and completions settle */
	if (zerocopy)
		for (size_t i = 0; i < pages; i++)
			assert_int_equal(x.done_count[i], 1);
	struct net_stats st[2];
	net_get_stats(sm.node[0].s, &st[0]);
	net_get_stats(sm.node[1].s, &st[1]);
	double secs = (double)(x.t_end - x.t_start) / 1e6;
	double mbps = (double)total * 8 / secs / 1e6;
	printf("   %-36s %6.3f s sim, goodput %6.1f Mbit/s\n", name, secs, mbps);
	printf(
	    "   %-36s retrans %llu: recoveries %llu (sack %llu), partial %llu, sack %llu, lost-rxt "
	    "%llu, tlp %llu, rto %llu; rcv delacks %llu; frames %llu, lost %llu, queue drops "
	    "%llu\n",
	    "", (unsigned long long)st[0].tcpx.retrans_segs,
	    (unsigned long long)st[0].tcpx.fast_retransmits,
	    (unsigned long long)st[0].tcpx.sack_recoveries,
	    (unsigned long long)st[0].tcpx.partial_acks,
	    (unsigned long long)st[0].tcpx.sack_rexmits,
	    (unsigned long long)st[0].tcpx.lost_rexmits, (unsigned long long)st[0].tcpx.tlp_probes,
	    (unsigned long long)st[0].tcpx.rto_timeouts,
	    (unsigned long long)st[1].tcpx.delayed_acks,
	    (unsigned long long)(sm.dir[0].frames + sm.dir[1].frames),
	    (unsigned long long)(sm.dir[0].lost + sm.dir[1].lost),
	    (unsigned long long)(sm.dir[0].qdrops + sm.dir[1].qdrops));
	tcp_listen_close(l);
	sim_free(&sm);
	free(x.src);
	free(x.done_count);
	free(refs);
	return mbps;
}

static void test_bulk_clean(void **state)
{
	double g = run_xfer("10 MB, 0% loss, zero-copy", 1, 0, 0, 0, true, 10u << 20, NULL);
	assert_true(g > 500);
}

static void test_bulk_reorder(void **state)
{
	run_xfer("10 MB, 2% reorder + 1% dup, copy", 2, 0, 20000, 10000, false, 10u << 20, NULL);
}

static void test_bulk_loss(void **state)
{
	static const uint64_t seeds[] = {3, 33, 333};
	for (unsigned i = 0; i < 3; i++) {
		char name[64];
		snprintf(name, sizeof(name), "10 MB, 5%% loss each way, zero-copy #%u", i + 1);
		run_xfer(name, seeds[i], 50000, 0, 0, true, 10u << 20, NULL);
	}
}

static void test_bulk_loss_newreno(void **state)
{
	struct net_config cfg;
	net_config_default(&cfg);
	cfg.tcp_sack = false; /* a peer without SACK: NewReno recovery */
	run_xfer("10 MB, 5% loss, 1% reorder, NewReno", 4, 50000, 10000, 0, false, 10u << 20, &cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bulk_clean),
	    cmocka_unit_test(test_bulk_reorder),
	    cmocka_unit_test(test_bulk_loss),
	    cmocka_unit_test(test_bulk_loss_newreno),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
