/* The host network daemon; see netd.h. */
#include "net/host/netd.h"
#include "drivers/nic.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/random.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "net/host/bridge.h"
#include "net/host/netconf.h"

#define RX_BUDGET    64
#define POLL_IDLE_US 500 /* polled NICs are checked at least this often */
#define POLL_TXQ_US  50  /* and NICs with frames waiting for ring space */
/* carrier checks at most this often: each reads device registers (an exit when Tern runs
 * virtualised), and a busy daemon polls thousands of times a second */
#define LINK_POLL_US 20000

struct netd netd = {.lock = SPINLOCK_INIT("netd")};

uint64_t netd_now_us(void)
{
	return time_ns() / 1000;
}

bool netd_ready(void)
{
	return netd.stack != NULL;
}

/* netd_kick: wake the daemon without its lock (thread_post), so NIC interrupts on another CPU
 * and threads that hold netd.lock can kick it and never spin on netd.lock for it. */
void netd_kick(void)
{
	struct thread *t = __atomic_load_n(&netd.thread, __ATOMIC_ACQUIRE);
	if (t)
		thread_post(t);
}

static void nic_kick_cb(void *owner)
{
	(void)owner;
	netd_kick();
}

/* txq_put: keep a copy of a frame the NIC cannot take now; false if the backlog is full. */
static bool txq_put(struct netd_txq *q, const struct net_iov *iov, unsigned n, size_t len)
{
	if (!q->frame || q->head - q->tail >= q->cap || len > q->slot)
		return false;
	uint8_t *f = q->frame + (size_t)(q->head % q->cap) * q->slot;
	size_t off = 0;
	for (unsigned k = 0; k < n; k++) {
		memcpy(f + off, iov[k].base, iov[k].len);
		off += iov[k].len;
	}
	q->len[q->head % q->cap] = (uint16_t)len;
	q->head++;
	q->queued++;
	return true;
}

/* txq_flush: hand waiting frames to NIC i while it takes them; returns how many it took. */
static int txq_flush(int i)
{
	struct netd_txq *q = &netd.txq[i];
	struct nic *nic = netd.nic[i];
	int sent = 0;
	while (q->head != q->tail) {
		unsigned at = q->tail % q->cap;
		struct net_iov v = {q->frame + (size_t)at * q->slot, q->len[at]};
		int r = nic->ops->send(nic, &v, 1, v.len);
		if (r == NIC_TX_BUSY)
			break;
		q->tail++;
		sent++;
	}
	return sent;
}

int netd_xmit(int i, const struct net_iov *iov, unsigned n, size_t len)
{
	struct netd_txq *q = &netd.txq[i];
	struct nic *nic = netd.nic[i];
	if (q->head == q->tail) {
		int r = nic->ops->send(nic, iov, n, len);
		if (r != NIC_TX_BUSY)
			return r == 0 ? 0 : NET_EAGAIN;
	}
	if (txq_put(q, iov, n, len))
		return 0;
	q->dropped++;
	nic->stats.tx_dropped++;
	return NET_EAGAIN;
}

/* nif_send: the stack transmits through the NIC behind the interface. */
static int nif_send(struct netif *nif, const struct net_iov *iov, unsigned n, size_t len)
{
	if (bridge_host_tx(nif->index, iov, n, len))
		return 0;
	return netd_xmit(nif->index, iov, n, len);
}

static const struct netif_ops g_nif_ops = {nif_send};

/* nic_rx_cb: a frame from a NIC, handed to the stack (netd.lock is held by the poller). */
static void nic_rx_cb(void *owner, const void *frame, size_t len)
{
	struct netif *nif = owner;
	if (bridge_nic_rx(nif->index, frame, len))
		return;
	net_rx(nif, frame, len, netd_now_us());
}

static void *net_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return kmalloc(size);
}

static void net_free(void *ctx, void *p)
{
	(void)ctx;
	kfree(p);
}

static const struct net_alloc_ops g_mem = {net_alloc, net_free, NULL};

void netd_tx_hold(void)
{
	for (int i = 0; i < netd.nifs; i++)
		netd.nic[i]->tx_hold = true;
}

void netd_tx_flush(void)
{
	for (int i = 0; i < netd.nifs; i++) {
		netd.nic[i]->tx_hold = false;
		nic_tx_flush(netd.nic[i]);
	}
}

/* poll_links: carrier changes of every NIC, at most every LINK_POLL_US. */
static void poll_links(uint64_t now)
{
	static uint64_t next_us;
	if (now < next_us)
		return;
	next_us = now + LINK_POLL_US;
	for (int i = 0; i < netd.nifs; i++) {
		bool up = netd.nic[i]->ops->link(netd.nic[i]);
		if (up != netd.link[i]) {
			netd.link[i] = up;
			net_if_set_link(&netd.nif[i], up, now);
			klog("net: %s link %s", netd.nif[i].name, up ? "up" : "down");
		}
	}
}

/* poll_all: one round over every NIC's receive ring and the stack's timers; what the round
 * transmits (ACKs, forwarded frames, retransmissions) rings each NIC's doorbell once. */
static int poll_all(uint64_t now)
{
	int work = 0;
	netd_tx_hold();
	for (int i = 0; i < netd.nifs; i++) {
		struct nic *n = netd.nic[i];
		work += txq_flush(i);
		work += n->ops->poll_rx(n, RX_BUDGET);
	}
	poll_links(now);
	work += bridge_poll();
	net_poll(netd.stack, now);
	netd_tx_flush();
	return work;
}

/* netd_main: poll, then sleep until a kick (NIC interrupt, new work), a timer, or the polling
 * interval. Kicks are events of this thread (thread_post), so one that comes while it polls
 * is not lost and the kicker never waits for netd.lock. */
static void netd_main(void *arg)
{
	(void)arg;
	bool polled = false;
	for (int i = 0; i < netd.nifs; i++)
		polled |= !netd.nic[i]->has_irq;
	spin_lock(&netd.lock);
	for (;;) {
		uint64_t now = netd_now_us();
		int work = poll_all(now);
		if (work) {
			spin_unlock(&netd.lock);
			thread_yield();
			spin_lock(&netd.lock);
			continue;
		}
		uint64_t next = net_next_deadline(netd.stack);
		bool backlog = false;
		for (int i = 0; i < netd.nifs; i++)
			backlog |= netd.txq[i].head != netd.txq[i].tail;
		if ((polled || backlog) && (next == UINT64_MAX || next > now + POLL_IDLE_US))
			next = now + (backlog ? POLL_TXQ_US : POLL_IDLE_US);
		uint64_t deadline = 0;
		if (next != UINT64_MAX)
			deadline = rdtsc() + ns_to_tsc((next > now ? next - now : 0) * 1000);
		spin_unlock(&netd.lock);
		thread_wait_event(deadline);
		spin_lock(&netd.lock);
	}
}

/* attach: one stack interface per NIC. */
static void attach(struct nic *n)
{
	if (netd.nifs >= NETD_MAX_IFS)
		return;
	int i = netd.nifs++;
	struct netif *nif = &netd.nif[i];
	memset(nif, 0, sizeof(*nif));
	nif->ops = &g_nif_ops;
	nif->priv = n;
	memcpy(nif->name, n->name, sizeof(nif->name));
	memcpy(nif->mac, n->mac, 6);
	nif->mtu = netconf_mtu(i, n->max_mtu);
	netd.nic[i] = n;
	struct netd_txq *q = &netd.txq[i];
	q->slot = ALIGN_UP(NIC_FRAME_MAX(n->max_mtu), 64);
	q->cap = NETD_TXQ_BYTES / q->slot;
	q->frame = kmalloc((size_t)q->cap * q->slot);
	q->len = kmalloc(q->cap * sizeof(uint16_t));
	if (!q->frame || !q->len)
		q->frame = NULL; /* no backlog: a full ring drops */
	n->rx = nic_rx_cb;
	n->kick = nic_kick_cb;
	n->owner = nif;
	net_if_add(netd.stack, nif);
}

void netd_start(void)
{
	nic_probe_all();
	struct net_config cfg;
	net_config_default(&cfg);
	random_bytes(cfg.secret, sizeof(cfg.secret));
	netd.stack = net_create(&g_mem, &cfg);
	if (!netd.stack) {
		klog("net: cannot create the TCP/IP stack");
		return;
	}
	for (int i = 0; i < nic_count(); i++)
		attach(nic_get(i));
	netconf_apply();
	bridge_start();
	int cpu = ncpus > 1 && cpus[1].online ? 1 : 0;
	__atomic_store_n(&netd.thread, thread_create("net", netd_main, NULL, cpu),
	                 __ATOMIC_RELEASE);
	if (netd.nifs == 0)
		klog("net: no network interface found");
}
