/* The host's virtual switch and the `vswitch` command; see hostswitch.h. */
#include "vmm/dev/hostswitch.h"
#include "kernel/log.h"
#include "kernel/shell.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"

static struct vswitch g_sw;
static struct spinlock g_lock = SPINLOCK_INIT("vswitch");
static bool g_ready;

/* The MACs of locked ports (guest NICs, the host stack), readable under a leaf lock so that
 * holders of other locks (the host stack's) can ask "is this MAC on this host?" without the
 * switch lock. */
static struct {
	struct spinlock lock;
	bool used[VSW_MAX_PORTS];
	uint8_t mac[VSW_MAX_PORTS][6];
} g_local = {.lock = SPINLOCK_INIT("vswitch-macs")};

/* local_set: record (or forget, mac NULL) port p's locked MAC. */
static void local_set(int p, const uint8_t *mac)
{
	if (p < 0 || p >= VSW_MAX_PORTS)
		return;
	spin_lock(&g_local.lock);
	g_local.used[p] = mac != NULL;
	if (mac)
		memcpy(g_local.mac[p], mac, 6);
	spin_unlock(&g_local.lock);
}

bool hostsw_is_local_mac(const uint8_t mac[6])
{
	bool found = false;
	spin_lock(&g_local.lock);
	for (int i = 0; i < VSW_MAX_PORTS && !found; i++)
		found = g_local.used[i] && !memcmp(g_local.mac[i], mac, 6);
	spin_unlock(&g_local.lock);
	return found;
}

/* sw: the switch, initialised on first use (lock held). */
static struct vswitch *sw(void)
{
	if (!g_ready) {
		vswitch_init(&g_sw, VSW_DEFAULT_AGE_NS);
		g_ready = true;
	}
	return &g_sw;
}

int hostsw_port_add(const char *name, const struct vsw_port_ops *ops, void *priv, uint32_t flags,
                    const uint8_t mac[6])
{
	spin_lock(&g_lock);
	int p = vswitch_port_add(sw(), name, ops, priv, flags, mac);
	spin_unlock(&g_lock);
	if (p >= 0 && (flags & VSW_PORT_LOCK_MAC))
		local_set(p, mac);
	return p;
}

void hostsw_port_del(int port)
{
	if (port < 0)
		return;
	local_set(port, NULL);
	spin_lock(&g_lock);
	vswitch_port_del(sw(), port);
	spin_unlock(&g_lock);
}

void hostsw_input(int port, const struct vsw_iov *iov, unsigned iovcnt, size_t len)
{
	uint64_t now = time_ns();
	spin_lock(&g_lock);
	vswitch_input(sw(), port, iov, iovcnt, len, now);
	spin_unlock(&g_lock);
}

/* fmt_mac: aa:bb:cc:dd:ee:ff */
static void print_mac(const uint8_t *m)
{
	kprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* cmd_vswitch: ports with their counters, then the MAC table. */
static int cmd_vswitch(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("vswitch");
	static struct vswitch snap; /* a copy, printed without holding the lock */
	uint64_t now = time_ns();
	spin_lock(&g_lock);
	snap = *sw();
	spin_unlock(&g_lock);
	kprintf("%-4s %-16s %-6s %10s %12s %10s %12s %8s %8s\n", "PORT", "NAME", "FLAGS", "IN_PKTS",
	        "IN_BYTES", "OUT_PKTS", "OUT_BYTES", "IN_DROP", "OUT_DROP");
	for (int i = 0; i < VSW_MAX_PORTS; i++) {
		const struct vsw_port *p = &snap.port[i];
		if (!p->used)
			continue;
		kprintf("%-4d %-16s %-6s %10llu %12llu %10llu %12llu %8llu %8llu\n", i, p->name,
		        (p->flags & VSW_PORT_UPLINK)     ? "uplink"
		        : (p->flags & VSW_PORT_LOCK_MAC) ? "locked"
		                                         : "-",
		        (unsigned long long)p->st.in_packets, (unsigned long long)p->st.in_bytes,
		        (unsigned long long)p->st.out_packets, (unsigned long long)p->st.out_bytes,
		        (unsigned long long)p->st.in_dropped,
		        (unsigned long long)p->st.out_dropped);
	}
	kprintf("MAC table (learned %llu, moved %llu, evicted %llu):\n",
	        (unsigned long long)snap.learned, (unsigned long long)snap.moved,
	        (unsigned long long)snap.evicted);
	for (int i = 0; i < VSW_TABLE; i++) {
		const struct vsw_mac *e = &snap.table[i];
		if (e->port < 0 || now - e->seen_ns >= snap.age_ns)
			continue;
		kprintf("  ");
		print_mac(e->mac);
		kprintf("  port %d (%s), %llu s ago\n", e->port, snap.port[e->port].name,
		        (unsigned long long)((now - e->seen_ns) / 1000000000ULL));
	}
	return 0;
}
SHELL_COMMAND(vswitch, "vswitch", "vswitch", "the host's virtual switch: ports, counters, MACs",
              cmd_vswitch);
