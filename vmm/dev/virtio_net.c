/*
 * virtio-net device model (virtio v1.2 section 5.1): one receive and one transmit queue, a
 * port on the host's virtual switch (vmm/dev/hostswitch.h) locked to the NIC's MAC.
 * Offered: MAC, STATUS (link always up). No offloads and no mergeable buffers: every frame
 * fits one receive buffer (Linux posts 1518 + 12 bytes per buffer), frames are at most
 * VSW_MAX_FRAME bytes.
 *
 * Transmit: the notifying vCPU thread pops each chain, skips the 12-byte virtio_net_hdr and
 * hands the frame to the switch as a gather list of pointers into its guest memory; the
 * receiving port copies it once into its guest's receive buffer.
 *
 * Receive: the switch calls port_rx with its lock held, on the sender's thread. Taking the
 * receive queue's lock there could deadlock against a vCPU of this VM that holds it while it
 * resets the device, so port_rx only *tries* it: if that fails (or the guest has posted no
 * buffers) the frame is copied into a backlog of RX_BACKLOG frames, and whoever holds the
 * queue lock drains the backlog before and after releasing it (so no frame waits for a
 * notification that never comes). The guest's RX notifications (new buffers) drain it too;
 * EVENT_IDX is armed only when frames wait for buffers. While the VM is pausing (snapshot),
 * frames wait in the backlog and guest memory is not touched; resume drains.
 */
#include "vmm/dev/vdevs.h"
#include "kernel/endian.h"
#include "kernel/heap.h"
#include "kernel/string.h"
#include "ha/output.h"
#include "vmm/dev/hostswitch.h"
#include "vmm/vm.h"

#define RXQ        0
#define TXQ        1
#define QSIZE      256
#define HDR        12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define CFG_SIZE   10 /* mac, status, max_virtqueue_pairs */
#define RX_BACKLOG 128
#define TX_IOV     32

struct vnet {
	struct vdev *d;
	int port;
	uint8_t mac[6];
	struct spinlock bl_lock; /* the backlog ring; a leaf lock */
	unsigned bl_head, bl_count;
	uint16_t bl_len[RX_BACKLOG];
	uint8_t (*bl)[VSW_MAX_FRAME];
	uint8_t bounce[VSW_MAX_FRAME]; /* transmit frames in too many pieces (qlock[TXQ]) */
	struct vnet_stats st;
};

static void net_cfg(struct vdev *d, uint8_t *c)
{
	struct vnet *n = d->priv;
	memcpy(c, n->mac, 6);
	le16_store(c + 6, VIRTIO_NET_S_LINK_UP);
	le16_store(c + 8, 1);
}

/* ---- receive ----------------------------------------------------------------------------- */

/* rx_one: put one frame into the next receive buffer: 1 done (or dropped: buffer too small),
 * 0 no buffer posted, < 0 the driver broke the queue. qlock[RXQ] held. */
static int rx_one(struct vnet *n, const struct vsw_iov *iov, unsigned cnt, size_t len)
{
	struct vdev *d = n->d;
	struct virtq_chain *c = &d->chain[RXQ];
	int rc = virtq_pop(&d->vq[RXQ], c);
	if (rc <= 0) {
		if (rc < 0)
			vdev_fail(d, RXQ, rc);
		return rc;
	}
	if (c->wlen < HDR + len) {
		n->st.rx_small_buffer++;
		virtq_push(&d->vq[RXQ], c->head, 0);
		return 1;
	}
	uint8_t hdr[HDR];
	memset(hdr, 0, sizeof(hdr));
	le16_store(hdr + 10, 1); /* num_buffers */
	struct gmem *m = &d->vm->mem;
	size_t off = virtq_write(m, c, 0, hdr, HDR);
	for (unsigned i = 0; i < cnt; i++)
		off += virtq_write(m, c, off, iov[i].base, iov[i].len);
	virtq_push(&d->vq[RXQ], c->head, (uint32_t)off);
	n->st.rx_packets++;
	n->st.rx_bytes += len;
	return 1;
}

/* rx_ok: guest memory may be written now (qlock[RXQ] held). */
static bool rx_ok(struct vnet *n)
{
	return vdev_live(n->d) && n->d->vq[RXQ].ready && !vdev_stopping(n->d);
}

static bool backlog_empty(struct vnet *n)
{
	return READ_ONCE(n->bl_count) == 0;
}

/* drain_locked: move backlog frames into receive buffers; true if the backlog is empty after
 * it (else frames wait for buffers, and the queue is armed for a notification, or the VM is
 * pausing). qlock[RXQ] held. */
static bool drain_locked(struct vnet *n)
{
	struct vdev *d = n->d;
	while (rx_ok(n)) {
		spin_lock(&n->bl_lock);
		unsigned cnt = n->bl_count, head = n->bl_head;
		spin_unlock(&n->bl_lock);
		if (!cnt)
			break;
		struct vsw_iov iov = {n->bl[head], n->bl_len[head]};
		int rc = rx_one(n, &iov, 1, iov.len); /* only this drainer touches the head slot */
		if (rc < 0)
			break;
		if (rc == 0) {
			if (virtq_arm(&d->vq[RXQ]))
				continue; /* buffers arrived meanwhile */
			break;
		}
		spin_lock(&n->bl_lock);
		n->bl_head = (n->bl_head + 1) % RX_BACKLOG;
		n->bl_count--;
		spin_unlock(&n->bl_lock);
	}
	vdev_queue_done(d, RXQ);
	return backlog_empty(n);
}

/* try_drain: drain while the queue lock is free; after every release, look again (a frame
 * queued by someone whose trylock failed while we held the lock is ours to deliver). */
static void try_drain(struct vnet *n)
{
	struct spinlock *l = &n->d->qlock[RXQ];
	while (!backlog_empty(n) && spin_trylock(l)) {
		bool all = drain_locked(n);
		spin_unlock(l);
		if (!all)
			break; /* waiting for buffers (armed), or the VM is pausing */
	}
}

/* backlog_push: copy a frame into the backlog; false if it is full. */
static bool backlog_push(struct vnet *n, const struct vsw_iov *iov, unsigned cnt, size_t len)
{
	spin_lock(&n->bl_lock);
	bool ok = n->bl_count < RX_BACKLOG;
	if (ok) {
		unsigned slot = (n->bl_head + n->bl_count) % RX_BACKLOG;
		size_t off = 0;
		for (unsigned i = 0; i < cnt; i++) {
			memcpy(n->bl[slot] + off, iov[i].base, iov[i].len);
			off += iov[i].len;
		}
		n->bl_len[slot] = (uint16_t)len;
		n->bl_count++;
		n->st.rx_backlogged++;
	}
	spin_unlock(&n->bl_lock);
	return ok;
}

/* port_rx: the switch delivers a frame (switch lock held; see the comment at the top). */
static bool port_rx(void *priv, const struct vsw_iov *iov, unsigned cnt, size_t len)
{
	struct vnet *n = priv;
	struct vdev *d = n->d;
	if (!vdev_live(d)) {
		n->st.rx_dropped++; /* no driver (yet): nobody would read it */
		return false;
	}
	bool ok = true;
	struct spinlock *l = &d->qlock[RXQ];
	if (backlog_empty(n) && spin_trylock(l)) {
		int rc = rx_ok(n) ? rx_one(n, iov, cnt, len) : 0;
		if (rc == 0)
			ok = backlog_push(n, iov, cnt, len);
		drain_locked(n); /* arms the queue if the frame waits for a buffer; interrupts */
		spin_unlock(l);
		ok &= rc >= 0;
	} else {
		ok = backlog_push(n, iov, cnt, len);
	}
	if (!ok)
		n->st.rx_dropped++;
	try_drain(n);
	return ok;
}

static const struct vsw_port_ops g_port_ops = {port_rx};

/* ---- transmit ---------------------------------------------------------------------------- */

/* tx_chain: one frame to the switch, as pointers into guest memory where possible. */
static uint32_t tx_chain(struct vdev *d, unsigned q, struct virtq_chain *c)
{
	struct vnet *n = d->priv;
	struct gmem *m = &d->vm->mem;
	(void)q;
	if (c->rlen < HDR + VSW_MIN_FRAME || c->rlen - HDR > VSW_MAX_FRAME) {
		n->st.tx_bad++;
		return 0;
	}
	size_t len = (size_t)(c->rlen - HDR);
	struct vsw_iov iov[TX_IOV];
	unsigned cnt = 0;
	bool fits = true;
	struct virtq_iter it;
	uint64_t gpa, pl;
	virtq_iter_init(&it, c, false, HDR);
	while (fits && virtq_iter_next(&it, ~0ULL, &gpa, &pl)) {
		while (pl && fits) { /* pieces may not cross a 2 MiB chunk of guest RAM */
			uint64_t k = MIN(pl, GMEM_CHUNK_SIZE - (gpa & (GMEM_CHUNK_SIZE - 1)));
			void *p = gmem_hva(m, gpa, k);
			if (!p || cnt == TX_IOV) {
				fits = false;
				break;
			}
			iov[cnt++] = (struct vsw_iov){p, k};
			gpa += k;
			pl -= k;
		}
	}
	if (!fits) {
		if (virtq_read(m, c, HDR, n->bounce, len) != len) {
			n->st.tx_bad++;
			return 0;
		}
		iov[0] = (struct vsw_iov){n->bounce, len};
		cnt = 1;
	}
	n->st.tx_packets++;
	n->st.tx_bytes += len;
	if (d->vm->ha && ha_out_hold(d->vm, n->port, iov, cnt, len))
		return 0; /* HA output commit: leaves when its checkpoint is acknowledged */
	hostsw_input(n->port, iov, cnt, len);
	return 0;
}

void vnet_announce(struct vdev *d)
{
	struct vnet *n = d->priv;
	/* RARP "request reverse" (RFC 903), as QEMU's announce_self: Ethernet broadcast from the
	 * guest's MAC, htype 1, ptype IPv4, hlen 6, plen 4, op 3, sha = tha = the MAC, IPs 0 */
	uint8_t f[60] = {0};
	memset(f, 0xff, 6);
	memcpy(f + 6, n->mac, 6);
	f[12] = 0x80, f[13] = 0x35;
	f[15] = 1, f[16] = 0x08, f[18] = 6, f[19] = 4, f[21] = 3;
	memcpy(f + 22, n->mac, 6);
	memcpy(f + 32, n->mac, 6);
	struct vsw_iov v = {f, sizeof(f)};
	hostsw_input(n->port, &v, 1, sizeof(f));
}

static void net_notify(struct vdev *d, unsigned q)
{
	struct vnet *n = d->priv;
	if (q == TXQ) {
		vdev_process(d, TXQ, tx_chain);
		return;
	}
	spin_lock(&d->qlock[RXQ]); /* new receive buffers */
	drain_locked(n);
	spin_unlock(&d->qlock[RXQ]);
	try_drain(n);
}

/* net_reset: frames waiting for the old driver are dropped. */
static void net_reset(struct vdev *d)
{
	struct vnet *n = d->priv;
	spin_lock(&n->bl_lock);
	n->st.rx_dropped += n->bl_count;
	n->bl_head = n->bl_count = 0;
	spin_unlock(&n->bl_lock);
}

static const struct vdev_ops g_net_ops = {
    .name = "virtio-net",
    .type = VIRTIO_ID_NET,
    .class_rev = 0x02000001, /* network / Ethernet, revision 1 */
    .nqueues = 2,
    .qsize = QSIZE,
    .cfg_size = CFG_SIZE,
    .cfg_read = net_cfg,
    .notify = net_notify,
    .reset = net_reset,
};

struct vdev *vnet_create(struct vm *vm, const uint8_t mac[6], int index, const char **err)
{
	struct vnet *n = kzalloc(sizeof(*n));
	if (n)
		n->bl = kmalloc(sizeof(*n->bl) * RX_BACKLOG);
	if (!n || !n->bl) {
		if (n)
			kfree(n);
		*err = "out of memory for the NIC";
		return NULL;
	}
	memcpy(n->mac, mac, 6);
	spin_init(&n->bl_lock, "vnet-backlog");
	n->port = -1;
	n->d = vdev_create(vm, &g_net_ops,
	                   (1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS), n, index);
	if (n->d)
		n->port = hostsw_port_add(vm->cfg.name, &g_port_ops, n, VSW_PORT_LOCK_MAC, mac);
	if (!n->d || n->port < 0) {
		*err = n->d ? "the virtual switch has no free port" : "out of memory for the NIC";
		if (n->d)
			vdev_destroy(n->d);
		kfree(n->bl);
		kfree(n);
		return NULL;
	}
	return n->d;
}

bool vnet_is(const struct vdev *d)
{
	return d->ops == &g_net_ops;
}

void vnet_destroy(struct vdev *d)
{
	struct vnet *n = d->priv;
	hostsw_port_del(n->port); /* after this the switch never calls port_rx again */
	kfree(n->bl);
	kfree(n);
	vdev_destroy(d);
}

const struct vnet_stats *vnet_stats(const struct vdev *d, int *port, const uint8_t **mac)
{
	const struct vnet *n = d->priv;
	*port = n->port;
	*mac = n->mac;
	return &n->st;
}
