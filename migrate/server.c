/* The peer service: accepts authenticated channels on the cluster port and dispatches
 * them to the control protocol or to an incoming migration. */
#include "kernel/config.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/random.h"
#include "kernel/sched.h"
#include "ha/replica.h"
#include "migrate/control.h"
#include "migrate/crypto_util.h"
#include "migrate/migration.h"
#include "migrate/peers.h"
#include "net/host/ksock.h"
#include "net/host/netd.h"

#define HANDSHAKE_TIMEOUT_MS 10000
#define IO_TIMEOUT_MS        60000

static bool proto_ok(uint8_t p)
{
	return p == CHAN_PROTO_CONTROL || p == CHAN_PROTO_MIGRATE || p == CHAN_PROTO_REPLICA;
}

/* conn_thread: one peer connection. */
static void conn_thread(void *arg)
{
	struct ksock *k = arg;
	uint8_t key[KEYS_CLUSTER_KEY_SIZE], nonce[KEYS_NONCE_SIZE];
	uint8_t *buf = pmm_alloc_kva(CHAN_BUF_SIZE);
	struct chan ch;
	net_ip4 ip;
	uint16_t port;
	ksock_peer(k, &ip, &port);
	ksock_set_io_timeout(k, HANDSHAKE_TIMEOUT_MS);
	random_bytes(nonce, sizeof(nonce));
	struct chan_io io = {ksock_io_send, ksock_io_recv, k};
	if (!buf || !peers_key(key)) {
		ksock_abort(k);
		pmm_free_kva(buf, CHAN_BUF_SIZE);
		return;
	}
	if (chan_server(&ch, &io, buf, key, nonce, node_name(), proto_ok) < 0) {
		klog("peer: connection from %u.%u.%u.%u refused: %s", ip >> 24, (ip >> 16) & 255,
		     (ip >> 8) & 255, ip & 255, ch.error);
	} else {
		ksock_set_io_timeout(k, IO_TIMEOUT_MS);
		if (ch.proto == CHAN_PROTO_MIGRATE)
			migrate_receive(&ch);
		else if (ch.proto == CHAN_PROTO_REPLICA)
			replica_receive(&ch, k); /* HA replication (ha/replica_recv.c) */
		else
			control_serve(&ch);
	}
	crypto_wipe(key, sizeof(key));
	chan_close(&ch);
	pmm_free_kva(buf, CHAN_BUF_SIZE);
	ksock_close(k);
}

/* peerd: accept loop. */
static void peerd(void *arg)
{
	struct klistener *l = arg;
	for (;;) {
		int err;
		struct ksock *k = ksock_accept(l, 0, &err);
		if (!k)
			continue;
		int cpu = 0; /* not the network daemon's CPU: an incoming migration decrypts */
		if (!thread_create("peer-conn", conn_thread, k, cpu))
			ksock_abort(k);
	}
}

/* peer_service_start: listen on the cluster port if a cluster key is configured. */
void peer_service_start(void)
{
	uint8_t key[KEYS_CLUSTER_KEY_SIZE];
	if (!netd_ready() || !netd.nifs)
		return;
	if (!peers_key(key)) {
		klog("peer: no cluster_key in tern.conf; migration and remote control are off");
		return;
	}
	crypto_wipe(key, sizeof(key));
	int err;
	struct klistener *l = ksock_listen(peers_port(), 8, &err);
	if (!l) {
		klog("peer: cannot listen on port %u: %s", peers_port(), net_strerror(err));
		return;
	}
	thread_create("peerd", peerd, l, 0);
	klog("peer: listening on port %u", peers_port());
}
