/* The host bridge: uplink NIC and host stack as virtual-switch ports; see bridge.h. */
#include "net/host/bridge.h"
#include "drivers/nic.h"
#include "kernel/config.h"
#include "kernel/heap.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "net/host/netd.h"
#include "vmm/dev/hostswitch.h"

#define BR_RING   256 /* frames per direction */
#define BR_BUDGET 64  /* frames per direction per poll */

/* A frame waiting in a ring, with the switch port it enters from or leaves through. */
struct br_frame {
	uint16_t len;
	int16_t port;
	uint8_t data[VSW_MAX_FRAME];
};

/* A single-consumer ring (the network daemon); producers hold br.lock. */
struct br_ring {
	struct br_frame *f;
	unsigned head, tail; /* free-running; head - tail frames are queued */
	uint64_t frames, drops;
};

static struct {
	struct spinlock lock; /* leaf: protects the rings' head/tail */
	struct br_ring to_sw, from_sw;
	int ifindex; /* uplink interface; -1 = no bridge */
	int uplink_port, host_port;
	char want[16]; /* tern.conf `bridge` */
} br = {.lock = SPINLOCK_INIT("bridge"), .ifindex = -1, .want = "eth0"};

/* key_bridge: tern.conf `bridge = ethN | none`. */
static const char *key_bridge(const char *v)
{
	if (strcmp(v, "none") && (strncmp(v, "eth", 3) || !v[3] || strlen(v) > 5))
		return "expected ethN (the uplink NIC) or none";
	tern_strlcpy(br.want, v, sizeof(br.want));
	return NULL;
}
CONF_KEY(bridge, "bridge", key_bridge);

/* ring_put: copy a gathered frame into r; false (counted) when r is full. */
static bool ring_put(struct br_ring *r, int port, const struct vsw_iov *iov, unsigned n, size_t len)
{
	spin_lock(&br.lock);
	bool ok = r->head - r->tail < BR_RING && len <= VSW_MAX_FRAME;
	if (ok) {
		struct br_frame *f = &r->f[r->head % BR_RING];
		size_t off = 0;
		for (unsigned i = 0; i < n; i++) {
			memcpy(f->data + off, iov[i].base, iov[i].len);
			off += iov[i].len;
		}
		f->len = (uint16_t)len;
		f->port = (int16_t)port;
		r->head++;
		r->frames++;
	} else {
		r->drops++;
	}
	spin_unlock(&br.lock);
	return ok;
}

/* ring_peek: the oldest frame of r, or NULL; it stays valid until ring_pop (one consumer). */
static struct br_frame *ring_peek(struct br_ring *r)
{
	spin_lock(&br.lock);
	struct br_frame *f = r->head != r->tail ? &r->f[r->tail % BR_RING] : NULL;
	spin_unlock(&br.lock);
	return f;
}

/* ring_pop: release the frame ring_peek returned. */
static void ring_pop(struct br_ring *r)
{
	spin_lock(&br.lock);
	r->tail++;
	spin_unlock(&br.lock);
}

/* wake_locked: the daemon has bridge work (netd.lock held; netd_kick takes no lock). */
static void wake_locked(void)
{
	netd_kick();
}

/* uplink_rx: the switch sends a frame out of the uplink (switch lock held: queue it). */
static bool uplink_rx(void *priv, const struct vsw_iov *iov, unsigned n, size_t len)
{
	bool ok = ring_put(&br.from_sw, br.uplink_port, iov, n, len);
	netd_kick();
	return ok;
}

/* host_rx: the switch delivers a frame to the host stack (switch lock held: queue it). */
static bool host_rx(void *priv, const struct vsw_iov *iov, unsigned n, size_t len)
{
	bool ok = ring_put(&br.from_sw, br.host_port, iov, n, len);
	netd_kick();
	return ok;
}

static const struct vsw_port_ops g_uplink_ops = {uplink_rx};
static const struct vsw_port_ops g_host_ops = {host_rx};

void bridge_start(void)
{
	if (!strcmp(br.want, "none"))
		return;
	int idx = -1;
	for (int i = 0; i < netd.nifs; i++)
		if (!strcmp(netd.nif[i].name, br.want))
			idx = i;
	if (idx < 0) {
		if (strcmp(br.want, "eth0"))
			klog("net: bridge: no interface %s; guests have no uplink", br.want);
		return;
	}
	br.to_sw.f = kmalloc(BR_RING * sizeof(struct br_frame));
	br.from_sw.f = kmalloc(BR_RING * sizeof(struct br_frame));
	if (!br.to_sw.f || !br.from_sw.f) {
		klog("net: bridge: out of memory");
		return;
	}
	struct nic *n = netd.nic[idx];
	br.uplink_port = hostsw_port_add(n->name, &g_uplink_ops, NULL, VSW_PORT_UPLINK, NULL);
	br.host_port = hostsw_port_add("host", &g_host_ops, NULL, VSW_PORT_LOCK_MAC, n->mac);
	if (br.uplink_port < 0 || br.host_port < 0) {
		klog("net: bridge: the virtual switch is full");
		return;
	}
	if (n->ops->promisc)
		n->ops->promisc(n, true);
	spin_lock(&netd.lock);
	br.ifindex = idx;
	spin_unlock(&netd.lock);
	klog("net: bridge: %s and the host stack are ports of the virtual switch", n->name);
}

bool bridge_nic_rx(int ifindex, const void *frame, size_t len)
{
	if (ifindex != br.ifindex || len < VSW_MIN_FRAME)
		return false;
	if (!memcmp(frame, netd.nif[ifindex].mac, 6))
		return false; /* for the host: straight to the stack */
	struct vsw_iov v = {frame, len};
	ring_put(&br.to_sw, br.uplink_port, &v, 1, len);
	wake_locked();
	return true;
}

bool bridge_host_tx(int ifindex, const struct net_iov *iov, unsigned iovcnt, size_t len)
{
	if (ifindex != br.ifindex || iovcnt == 0 || iov[0].len < 6)
		return false;
	const uint8_t *dst = iov[0].base;
	if (!(dst[0] & 1) && !hostsw_is_local_mac(dst))
		return false; /* unicast off this host: straight to the NIC */
	struct vsw_iov v[8];
	if (iovcnt > 8)
		return false;
	for (unsigned i = 0; i < iovcnt; i++)
		v[i] = (struct vsw_iov){iov[i].base, iov[i].len};
	ring_put(&br.to_sw, br.host_port, v, iovcnt, len);
	wake_locked();
	return true;
}

/* drain_from_switch: frames the switch sent to the NIC or to the stack (netd.lock held). */
static int drain_from_switch(void)
{
	int n = 0;
	struct br_frame *f;
	while (n < BR_BUDGET && (f = ring_peek(&br.from_sw))) {
		if (f->port == br.host_port) {
			net_rx(&netd.nif[br.ifindex], f->data, f->len, netd_now_us());
		} else {
			struct net_iov v = {f->data, f->len};
			netd_xmit(br.ifindex, &v, 1, f->len);
		}
		ring_pop(&br.from_sw);
		n++;
	}
	return n;
}

/* drain_to_switch: frames from the wire and the stack into the switch (netd.lock held;
 * released meanwhile). */
static int drain_to_switch(void)
{
	int n = 0;
	struct br_frame *f;
	if (!ring_peek(&br.to_sw))
		return 0; /* nothing to do: keep netd.lock (dropping it every round invites
		             spinning) */
	spin_unlock(&netd.lock);
	while (n < BR_BUDGET && (f = ring_peek(&br.to_sw))) {
		struct vsw_iov v = {f->data, f->len};
		hostsw_input(f->port, &v, 1, f->len);
		ring_pop(&br.to_sw);
		n++;
	}
	spin_lock(&netd.lock);
	return n;
}

int bridge_poll(void)
{
	if (br.ifindex < 0)
		return 0;
	return drain_from_switch() + drain_to_switch();
}

void bridge_print(void)
{
	if (br.ifindex < 0) {
		kprintf("bridge: none (guests have no uplink)\n");
		return;
	}
	spin_lock(&br.lock);
	uint64_t tf = br.to_sw.frames, td = br.to_sw.drops, ff = br.from_sw.frames,
	         fd = br.from_sw.drops;
	unsigned tq = br.to_sw.head - br.to_sw.tail, fq = br.from_sw.head - br.from_sw.tail;
	spin_unlock(&br.lock);
	kprintf("bridge: %s; into the switch %llu frames (%u queued, %llu dropped), out of it "
	        "%llu (%u queued, %llu dropped)\n",
	        netd.nif[br.ifindex].name, (unsigned long long)tf, tq, (unsigned long long)td,
	        (unsigned long long)ff, fq, (unsigned long long)fd);
}
