/*
 * Reacting to membership: a view change on a quorate host promotes the replicas whose owner
 * is dead (after ha_failover_delay_ms, so the owner's own fencing, which runs on the same
 * heartbeat clock, is done first); a host without quorum fences its HA guests. Also the
 * connection helper and the probe a fenced host uses before it resumes a guest.
 */
#include "ha/replica.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/pmm.h"
#include "kernel/random.h"
#include "kernel/sched.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "migrate/channel.h"
#include "migrate/crypto_util.h"
#include "migrate/peers.h"
#include "kernel/config.h"
#include "net/host/ksock.h"

#define CONNECT_TIMEOUT_MS 2000
#define PROBE_TIMEOUT_MS   3000

static volatile bool g_failover_pending;

struct ksock *ha_connect(const char *peer, struct chan *ch, uint8_t *chbuf, const char **err)
{
	uint8_t key[KEYS_CLUSTER_KEY_SIZE], nonce[KEYS_NONCE_SIZE];
	uint32_t ip;
	int e = 0;
	if (!peer_resolve(peer, &ip)) {
		*err = "standby is not a [peer] of tern.conf";
		return NULL;
	}
	if (!peers_key(key)) {
		*err = "no cluster_key in tern.conf";
		return NULL;
	}
	struct ksock *k = ksock_connect(ip, peers_port(), CONNECT_TIMEOUT_MS, &e);
	if (!k) {
		crypto_wipe(key, sizeof(key));
		*err = net_strerror(e);
		return NULL;
	}
	ksock_set_io_timeout(k, PROBE_TIMEOUT_MS);
	random_bytes(nonce, sizeof(nonce));
	struct chan_io io = {ksock_io_send, ksock_io_recv, k};
	int rc = chan_client(ch, &io, chbuf, CHAN_PROTO_REPLICA, key, nonce, node_name());
	crypto_wipe(key, sizeof(key));
	if (rc < 0) {
		*err = ch->error;
		ksock_abort(k);
		return NULL;
	}
	return k;
}

/* probe_one: what member `peer` has of name (REPL_*), or -1 if it could not be asked. */
static int probe_one(const char *peer, const char *name, uint8_t *chbuf)
{
	struct chan ch;
	const char *err;
	uint8_t type;
	const uint8_t *d;
	size_t n;
	struct ksock *k = ha_connect(peer, &ch, chbuf, &err);
	if (!k)
		return -1;
	int r = -1;
	if (chan_send1(&ch, MSG_REPL_PROBE, name, strlen(name)) == 0 &&
	    chan_recv(&ch, &type, &d, &n) == 0 && type == MSG_REPL_STATE && n == 1 &&
	    d[0] <= REPL_RUNNING)
		r = d[0];
	chan_close(&ch);
	ksock_close(k);
	return r;
}

int ha_probe_peers(const char *name)
{
	uint8_t *chbuf = pmm_alloc_kva(CHAN_BUF_SIZE);
	int best = REPL_NONE;
	if (!chbuf)
		return -1;
	for (int i = 0; i < ha_member_count() && best >= 0; i++) {
		struct ha_member_info m;
		if (ha_member_get(i, &m) < 0 || m.self || !m.alive)
			continue;
		int r = probe_one(m.name, name, chbuf);
		best = r < 0 ? -1 : MAX(best, r);
	}
	pmm_free_kva(chbuf, CHAN_BUF_SIZE);
	return best;
}

/* failover_thread: wait out the fencing margin, then promote what is still orphaned. The
 * margin counts from each owner's death, not from the view change that started this thread
 * (an earlier one, e.g. the witness vote moving, coalesces the death's into it). */
static void failover_thread(void *arg)
{
	(void)arg;
	uint64_t wait = ha_failover_delay_ms();
	thread_sleep_ns(wait * 1000000ULL);
	g_failover_pending = false;
	while (ha_quorate() && (wait = replica_promote_dead_owners()))
		thread_sleep_ns(wait * 1000000ULL);
}

void ha_on_view_change(void)
{
	ha_supervisor_start();
	if (!ha_quorate()) {
		ha_fence();
		return;
	}
	if (g_failover_pending)
		return;
	g_failover_pending = true;
	if (!thread_create("ha-failover", failover_thread, NULL, 0))
		g_failover_pending = false;
}
