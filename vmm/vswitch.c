/* Virtual L2 switch; see vswitch.h. */
#include "vmm/vswitch.h"
#include "kernel/string.h"

void vswitch_init(struct vswitch *sw, uint64_t age_ns)
{
	memset(sw, 0, sizeof(*sw));
	sw->age_ns = age_ns ? age_ns : VSW_DEFAULT_AGE_NS;
	for (int i = 0; i < VSW_TABLE; i++)
		sw->table[i].port = -1;
}

int vswitch_port_add(struct vswitch *sw, const char *name, const struct vsw_port_ops *ops,
                     void *priv, uint32_t flags, const uint8_t mac[6])
{
	for (int i = 0; i < VSW_MAX_PORTS; i++) {
		struct vsw_port *p = &sw->port[i];
		if (p->used)
			continue;
		memset(p, 0, sizeof(*p));
		p->used = true;
		tern_strlcpy(p->name, name ? name : "", sizeof(p->name));
		p->flags = flags;
		if (mac)
			memcpy(p->mac, mac, 6);
		p->ops = ops;
		p->priv = priv;
		return i;
	}
	return -1;
}

void vswitch_port_del(struct vswitch *sw, int port)
{
	if (port < 0 || port >= VSW_MAX_PORTS)
		return;
	sw->port[port].used = false;
	for (int i = 0; i < VSW_TABLE; i++)
		if (sw->table[i].port == port)
			sw->table[i].port = -1;
}

/* mac_hash: FNV-1a of the address, folded onto the table. */
static unsigned mac_hash(const uint8_t mac[6])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 6; i++)
		h = (h ^ mac[i]) * 16777619u;
	return (h ^ (h >> 16)) % VSW_TABLE;
}

/* live: an entry holding a MAC that has not aged out. */
static bool live(const struct vswitch *sw, const struct vsw_mac *e, uint64_t now)
{
	return e->port >= 0 && now - e->seen_ns < sw->age_ns;
}

int vswitch_lookup(const struct vswitch *sw, const uint8_t mac[6], uint64_t now_ns)
{
	unsigned h = mac_hash(mac);
	for (unsigned k = 0; k < VSW_PROBE; k++) {
		const struct vsw_mac *e = &sw->table[(h + k) % VSW_TABLE];
		if (live(sw, e, now_ns) && !memcmp(e->mac, mac, 6))
			return e->port;
	}
	return -1;
}

/* learn: remember that mac lives behind port (update, take a free/aged slot, or evict). */
static void learn(struct vswitch *sw, const uint8_t mac[6], int port, uint64_t now)
{
	unsigned h = mac_hash(mac);
	struct vsw_mac *slot = NULL, *oldest = NULL;
	for (unsigned k = 0; k < VSW_PROBE; k++) {
		struct vsw_mac *e = &sw->table[(h + k) % VSW_TABLE];
		if (e->port >= 0 && !memcmp(e->mac, mac, 6)) {
			if (e->port != port)
				sw->moved++;
			e->port = (int16_t)port;
			e->seen_ns = now;
			return;
		}
		if (!slot && !live(sw, e, now))
			slot = e;
		if (!oldest || e->seen_ns < oldest->seen_ns)
			oldest = e;
	}
	if (!slot) {
		slot = oldest;
		sw->evicted++;
	}
	memcpy(slot->mac, mac, 6);
	slot->port = (int16_t)port;
	slot->seen_ns = now;
	sw->learned++;
}

/* deliver: hand the frame to one port. */
static void deliver(struct vswitch *sw, int port, const struct vsw_iov *iov, unsigned n, size_t len)
{
	struct vsw_port *p = &sw->port[port];
	if (p->ops && p->ops->rx && p->ops->rx(p->priv, iov, n, len)) {
		p->st.out_packets++;
		p->st.out_bytes += len;
	} else {
		p->st.out_dropped++;
	}
}

/* header: the first 14 bytes of the frame, gathered (false if the pieces are shorter). */
static bool header(const struct vsw_iov *iov, unsigned n, uint8_t *h)
{
	size_t got = 0;
	for (unsigned i = 0; i < n && got < VSW_MIN_FRAME; i++) {
		size_t k = MIN(iov[i].len, (size_t)VSW_MIN_FRAME - got);
		memcpy(h + got, iov[i].base, k);
		got += k;
	}
	return got == VSW_MIN_FRAME;
}

void vswitch_input(struct vswitch *sw, int port, const struct vsw_iov *iov, unsigned iovcnt,
                   size_t len, uint64_t now_ns)
{
	if (port < 0 || port >= VSW_MAX_PORTS || !sw->port[port].used)
		return;
	struct vsw_port *in = &sw->port[port];
	size_t total = 0;
	for (unsigned i = 0; i < iovcnt; i++)
		total += iov[i].len;
	uint8_t h[VSW_MIN_FRAME]; /* a private copy: the sender may change its buffers */
	if (len < VSW_MIN_FRAME || len > VSW_MAX_FRAME || total != len || !header(iov, iovcnt, h)) {
		in->st.in_dropped++;
		return;
	}
	const uint8_t *dst = h, *src = h + 6;
	if ((src[0] & 1) || ((in->flags & VSW_PORT_LOCK_MAC) && memcmp(src, in->mac, 6))) {
		in->st.in_dropped++;
		return;
	}
	int owner = vswitch_lookup(sw, src, now_ns);
	if (owner >= 0 && owner != port && (sw->port[owner].flags & VSW_PORT_LOCK_MAC) &&
	    !memcmp(sw->port[owner].mac, src, 6)) {
		in->st.in_dropped++; /* another port's locked MAC (e.g. spoofed on the uplink) */
		return;
	}
	in->st.in_packets++;
	in->st.in_bytes += len;
	learn(sw, src, port, now_ns);
	int out = (dst[0] & 1) ? -1 : vswitch_lookup(sw, dst, now_ns);
	if (out == port)
		return; /* the destination is behind the port it came from */
	if (out >= 0) {
		deliver(sw, out, iov, iovcnt, len);
		return;
	}
	in->st.flooded++;
	for (int i = 0; i < VSW_MAX_PORTS; i++)
		if (i != port && sw->port[i].used)
			deliver(sw, i, iov, iovcnt, len);
}
