/*
 * The HA membership agent: tern.conf keys, a kernel thread that sends authenticated UDP
 * heartbeats to every [peer] and the witness and ticks the membership state machine
 * (ha/member.c), the receive path (a UDP socket of Tern's stack, callbacks under netd.lock),
 * quorum-loss fencing, the hardware watchdog, and the ha.h API. docs/ha.md.
 *
 * Locks: g_lock protects g_c and is taken by the agent thread and API callers only. The receive
 * callback runs in the network daemon under netd.lock and only copies the datagram into g_rxq
 * (its own leaf lock, a memcpy long); the agent authenticates it later under g_lock, so no
 * crypto runs under netd.lock. The agent never takes netd.lock while holding g_lock.
 */
#include "ha/agent.h"
#include "drivers/i6300esb.h"
#include "kernel/args.h"
#include "kernel/config.h"
#include "kernel/log.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/random.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/wallclock.h"
#include "migrate/crypto_util.h"
#include "migrate/peers.h"
#include "net/host/netd.h"

#define TICKS_PER_INTERVAL 4 /* liveness is evaluated 4 times per heartbeat interval */

static struct ha_config g_cfg = {
    .interval_ms = HA_INTERVAL_DEFAULT,
    .misses = HA_MISSES_DEFAULT,
    .fence_timeout_ms = 2000,
    .port = HB_PORT_DEFAULT,
    .watchdog = true,
    .max_skew_ms = HA_MAX_SKEW_DEFAULT,
};
static struct spinlock g_lock = SPINLOCK_INIT("ha");
static struct ha_cluster g_c;
static bool g_running;
static volatile bool g_frozen;
static struct udp_sock *g_sock;
static struct thread *g_agent; /* the agent thread: ha_rx posts it an event */
static uint64_t g_fences, g_last_fence_ms;

/* ---- tern.conf ------------------------------------------------------------------------------ */

/* conf_ha: `ha = on|off` (default: on with a cluster key and peers or a witness). */
static const char *conf_ha(const char *v)
{
	if (!parse_bool(v, &g_cfg.enabled))
		return "ha must be on or off";
	g_cfg.enabled_set = true;
	return NULL;
}
CONF_KEY(ha_on, "ha", conf_ha);

/* conf_range: a decimal in [lo, hi] into *out. */
static bool conf_range(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	return parse_u64(v, out) && *out >= lo && *out <= hi;
}

static const char *conf_interval(const char *v)
{
	uint64_t x;
	if (!conf_range(v, 10, 10000, &x))
		return "ha_interval must be 10-10000 (ms)";
	g_cfg.interval_ms = (uint32_t)x;
	return NULL;
}
CONF_KEY(ha_interval, "ha_interval", conf_interval);

static const char *conf_misses(const char *v)
{
	uint64_t x;
	if (!conf_range(v, 2, 100, &x))
		return "ha_misses must be 2-100";
	g_cfg.misses = (uint32_t)x;
	return NULL;
}
CONF_KEY(ha_misses, "ha_misses", conf_misses);

static const char *conf_port(const char *v)
{
	uint64_t x;
	if (!conf_range(v, 1, 65535, &x))
		return "ha_port must be 1-65535";
	g_cfg.port = (uint16_t)x;
	return NULL;
}
CONF_KEY(ha_port, "ha_port", conf_port);

static const char *conf_fence(const char *v)
{
	uint64_t x;
	if (!conf_range(v, 100, 600000, &x))
		return "ha_fence_timeout must be 100-600000 (ms)";
	g_cfg.fence_timeout_ms = (uint32_t)x;
	return NULL;
}
CONF_KEY(ha_fence, "ha_fence_timeout", conf_fence);

static const char *conf_watchdog(const char *v)
{
	return parse_bool(v, &g_cfg.watchdog) ? NULL : "ha_watchdog must be on or off";
}
CONF_KEY(ha_watchdog, "ha_watchdog", conf_watchdog);

static const char *conf_skew(const char *v)
{
	uint64_t x;
	if (!conf_range(v, 0, 86400, &x))
		return "ha_max_skew must be 0-86400 (s)";
	g_cfg.max_skew_ms = x * 1000;
	return NULL;
}
CONF_KEY(ha_skew, "ha_max_skew", conf_skew);

/* conf_witness: `witness = IP[:PORT]`. */
static const char *conf_witness(const char *v)
{
	char ip[16];
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);
	uint64_t port = HB_PORT_DEFAULT;
	if (n >= sizeof(ip))
		return "witness must be IPv4[:PORT]";
	memcpy(ip, v, n);
	ip[n] = 0;
	if (!parse_ipv4(ip, &g_cfg.witness_ip) || !g_cfg.witness_ip)
		return "witness must be IPv4[:PORT]";
	if (colon && !conf_range(colon + 1, 1, 65535, &port))
		return "witness port must be 1-65535";
	g_cfg.witness_port = (uint16_t)port;
	g_cfg.witness = true;
	return NULL;
}
CONF_KEY(witness, "witness", conf_witness);

const struct ha_config *ha_agent_config(void)
{
	return &g_cfg;
}

/* ---- time ----------------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	return time_ns() / 1000000;
}

static uint64_t wall_ms(void)
{
	return wallclock_now() * 1000 + (time_ns() / 1000000) % 1000;
}

/* ---- datagrams ------------------------------------------------------------------------------ */

/*
 * Received datagrams waiting for the agent: ha_rx (network daemon, netd.lock held) copies each
 * one in with its arrival time and posts the agent an event (no lock); the agent opens them
 * (AEAD) under g_lock. One producer, one consumer; the lock only guards head and tail. A full
 * queue (a burst faster than the agent) drops (counted in `ha status`).
 */
#define RXQ_LEN 64
struct rx_item {
	uint32_t src;
	uint32_t
	    len; /* as received; at most HB_PKT_MAX bytes are kept (longer ones are malformed) */
	uint64_t t_ms, w_ms;
	uint8_t pkt[HB_PKT_MAX];
};
static struct {
	struct spinlock lock;
	unsigned head, tail; /* free-running */
	uint64_t overflow;
	struct rx_item item[RXQ_LEN];
} g_rxq = {.lock = SPINLOCK_INIT("ha-rxq")};

/* ha_rx: a datagram on the HA port (netd context, netd.lock held): hostile input, queued as is. */
static void ha_rx(void *arg, struct udp_sock *u, net_ip4 src, uint16_t sport, const void *data,
                  size_t len)
{
	(void)arg, (void)u, (void)sport;
	if (g_frozen)
		return;
	spin_lock(&g_rxq.lock);
	if (g_rxq.head - g_rxq.tail >= RXQ_LEN) {
		g_rxq.overflow++;
		spin_unlock(&g_rxq.lock);
		return;
	}
	struct rx_item *it = &g_rxq.item[g_rxq.head % RXQ_LEN];
	spin_unlock(&g_rxq.lock);
	/* The slot is ours until head moves: the agent reads only slots before head. */
	it->src = src;
	it->len = (uint32_t)MIN(len, (size_t)UINT32_MAX);
	it->t_ms = now_ms();
	it->w_ms = wall_ms();
	memcpy(it->pkt, data, MIN(len, sizeof(it->pkt)));
	spin_lock(&g_rxq.lock);
	g_rxq.head++;
	spin_unlock(&g_rxq.lock);
	struct thread *t = __atomic_load_n(&g_agent, __ATOMIC_ACQUIRE);
	if (t)
		thread_post(t);
}

/* process_rx: authenticate and apply every queued datagram (agent thread), oldest first. */
static void process_rx(void)
{
	for (;;) {
		spin_lock(&g_rxq.lock);
		struct rx_item *it =
		    g_rxq.head != g_rxq.tail ? &g_rxq.item[g_rxq.tail % RXQ_LEN] : NULL;
		spin_unlock(&g_rxq.lock);
		if (!it)
			return;
		/* Longer than HB_PKT_MAX: only the length is looked at (hb_peek drops it). */
		spin_lock(&g_lock);
		ha_cluster_receive(&g_c, it->src, it->pkt, it->len, it->t_ms, it->w_ms);
		spin_unlock(&g_lock);
		spin_lock(&g_rxq.lock);
		g_rxq.tail++;
		spin_unlock(&g_rxq.lock);
	}
}

/* ha_agent_rx_overflow: datagrams dropped because the agent had not taken the earlier ones. */
uint64_t ha_agent_rx_overflow(void)
{
	return READ_ONCE(g_rxq.overflow);
}

/* One heartbeat ready to go out. */
struct outgoing {
	uint32_t ip;
	uint16_t port;
	int len;
	uint8_t pkt[HB_PKT_MAX];
};
static struct outgoing g_out[HA_MAX_NODES + 1]; /* the agent thread's only */

/* send_heartbeats: seal one datagram per peer and the witness, then send them. */
static void send_heartbeats(void)
{
	int n = 0;
	uint64_t t = now_ms(), w = wall_ms();
	spin_lock(&g_lock);
	for (int i = 1; i < g_c.n; i++, n++) {
		g_out[n].ip = g_c.node[i].id;
		g_out[n].port = g_c.node[i].port;
		g_out[n].len = ha_cluster_heartbeat(&g_c, t, w, g_out[n].pkt, HB_PKT_MAX);
	}
	if (g_c.wit.configured) {
		g_out[n].ip = g_c.wit.ip;
		g_out[n].port = g_c.wit.port;
		g_out[n].len = ha_cluster_heartbeat(&g_c, t, w, g_out[n].pkt, HB_PKT_MAX);
		n++;
	}
	spin_unlock(&g_lock);
	spin_lock(&netd.lock);
	for (int i = 0; i < n; i++)
		if (g_out[i].len > 0)
			udp_sendto(g_sock, g_out[i].ip, g_out[i].port, g_out[i].pkt,
			           (size_t)g_out[i].len, netd_now_us());
	spin_unlock(&netd.lock);
	netd_kick();
}

/* ---- the agent thread ----------------------------------------------------------------------- */

/* fence: quorum lost: the replication side pauses every HA guest; time it. */
static void fence(void)
{
	uint64_t t0 = now_ms();
	ha_fence();
	uint64_t took = now_ms() - t0;
	g_fences++;
	g_last_fence_ms = took;
	klog("ha: fenced (HA guests paused) in %llu ms%s", (unsigned long long)took,
	     took > g_cfg.fence_timeout_ms ? ": LONGER than ha_fence_timeout" : "");
}

/* agent_step: tick the state machine; react to a view change or a loss of quorum. */
static void agent_step(bool *was_quorate)
{
	spin_lock(&g_lock);
	bool changed = ha_cluster_tick(&g_c, now_ms());
	bool quorate = g_c.quorate;
	spin_unlock(&g_lock);
	if (*was_quorate && !quorate)
		fence();
	*was_quorate = quorate;
	if (changed)
		ha_on_view_change();
}

/* agent_thread: heartbeat every interval, tick 4 times per interval, pet the watchdog; take
 * received datagrams as they come (ha_rx posts an event). */
static void agent_thread(void *arg)
{
	(void)arg;
	bool was_quorate = false;
	uint64_t next_send = 0,
	         tick_ns = (uint64_t)g_cfg.interval_ms * 1000000 / TICKS_PER_INTERVAL;
	if (g_cfg.watchdog && esb_wdt_present()) {
		esb_wdt_start(g_cfg.fence_timeout_ms);
		klog("ha: watchdog armed, %u ms", esb_wdt_timeout_ms());
	}
	uint64_t next_tick = rdtsc();
	for (;;) {
		while (g_frozen)
			thread_sleep_ns(1000000000ull); /* a hung agent: no pets, no heartbeats */
		process_rx();
		if (rdtsc() < next_tick) {
			thread_wait_event(next_tick);
			continue;
		}
		esb_wdt_pet();
		if (now_ms() >= next_send) {
			send_heartbeats();
			next_send = now_ms() + g_cfg.interval_ms;
		}
		agent_step(&was_quorate);
		next_tick = rdtsc() + ns_to_tsc(tick_ns);
	}
}

/* self_address: eth0's address (the first configured one): this host's node id. */
static uint32_t self_address(void)
{
	uint32_t ip = 0;
	spin_lock(&netd.lock);
	for (int i = 0; i < netd.nifs && !ip; i++)
		ip = netd.nif[i].addr;
	spin_unlock(&netd.lock);
	return ip;
}

/* configure: the state machine from tern.conf's peers and witness. */
static void configure(uint32_t self, const uint8_t key[KEYS_CLUSTER_KEY_SIZE])
{
	uint64_t rnd = 0;
	random_bytes(&rnd, sizeof(rnd));
	uint64_t inc = (wall_ms() << 16) | (rnd & 0xffff);
	ha_cluster_init(&g_c, key, node_name(), self, inc, g_cfg.interval_ms, g_cfg.misses,
	                now_ms());
	g_c.max_skew_ms = g_cfg.max_skew_ms;
	for (int i = 0; i < peers_count(); i++) {
		const struct peer *p = peers_get(i);
		if (ha_cluster_add_peer(&g_c, p->name, p->ip, g_cfg.port) < 0)
			klog("ha: peer %s ignored (duplicate address or our own)", p->name);
	}
	if (g_cfg.witness)
		ha_cluster_set_witness(&g_c, g_cfg.witness_ip, g_cfg.witness_port);
}

/* ha_agent_start: with a cluster key and peers or a witness, start heartbeats (boot). */
void ha_agent_start(void)
{
	uint8_t key[KEYS_CLUSTER_KEY_SIZE];
	if (esb_wdt_init() && !g_cfg.watchdog)
		klog("ha: watchdog present but ha_watchdog = off");
	bool want = g_cfg.enabled_set ? g_cfg.enabled : (peers_count() > 0 || g_cfg.witness);
	if (!want || !netd_ready() || !netd.nifs)
		return;
	if (!peers_key(key)) {
		klog("ha: no cluster_key in tern.conf; HA membership is off");
		return;
	}
	uint32_t self = self_address();
	if (!self) {
		klog("ha: no IPv4 address; HA membership is off");
		crypto_wipe(key, sizeof(key));
		return;
	}
	configure(self, key);
	crypto_wipe(key, sizeof(key));
	int err;
	spin_lock(&netd.lock);
	g_sock = udp_open(netd.stack, 0, g_cfg.port, ha_rx, NULL, &err);
	spin_unlock(&netd.lock);
	if (!g_sock) {
		klog("ha: cannot open UDP port %u: %s", g_cfg.port, net_strerror(err));
		return;
	}
	int cpu = ncpus > 1 && cpus[1].online ? 1 : 0;
	struct thread *t = thread_create("ha-agent", agent_thread, NULL, cpu);
	if (!t)
		panic("ha: cannot start the agent thread");
	__atomic_store_n(&g_agent, t, __ATOMIC_RELEASE);
	g_running = true;
	klog("ha: agent on UDP port %u: %d voters%s, heartbeat %u ms, dead after %u misses",
	     g_cfg.port, g_c.total_votes, g_cfg.witness ? " (witness included)" : "",
	     g_cfg.interval_ms, g_cfg.misses);
}

/* ---- API (ha.h) ----------------------------------------------------------------------------- */

bool ha_agent_running(void)
{
	return g_running;
}

/* ha_agent_snapshot: a consistent copy of the membership state (false if HA is off). */
bool ha_agent_snapshot(struct ha_cluster *out)
{
	if (!g_running)
		return false;
	spin_lock(&g_lock);
	*out = g_c;
	spin_unlock(&g_lock);
	crypto_wipe(out->key, sizeof(out->key));
	return true;
}

/* ha_agent_set_maintenance: this host's maintenance flag (carried in heartbeats). */
void ha_agent_set_maintenance(bool on)
{
	if (!g_running) {
		g_c.maintenance = on;
		klog("ha: %s maintenance %s", node_name(), on ? "on" : "off");
		return;
	}
	spin_lock(&g_lock);
	ha_cluster_set_maintenance(&g_c, on);
	spin_unlock(&g_lock);
}

/* ha_agent_freeze: test aid: the agent thread stops (no heartbeats, no watchdog pets). */
void ha_agent_freeze(void)
{
	g_frozen = true;
}

void ha_agent_fence_stats(uint64_t *count, uint64_t *last_ms)
{
	*count = g_fences;
	*last_ms = g_last_fence_ms;
}

/* ha_quorate: HA off means a standalone host, its own majority. */
bool ha_quorate(void)
{
	return g_running ? READ_ONCE(g_c.quorate) : true;
}

int ha_member_count(void)
{
	return g_running ? g_c.n : 1;
}

/* ha_member_get: member i under the lock; self is 0. */
int ha_member_get(int i, struct ha_member_info *out)
{
	if (i < 0 || i >= ha_member_count())
		return -1;
	memset(out, 0, sizeof(*out));
	if (!g_running) {
		tern_strlcpy(out->name, node_name(), sizeof(out->name));
		out->self = out->alive = true;
		out->votes = 1;
		out->last_heard_ms = now_ms();
		return 0;
	}
	spin_lock(&g_lock);
	const struct ha_node *p = &g_c.node[i];
	tern_strlcpy(out->name, p->name, sizeof(out->name));
	out->ip = p->id;
	out->self = i == 0;
	out->alive = i == 0 || p->state == HA_ALIVE || p->state == HA_LATE;
	out->maintenance = p->maintenance;
	out->votes = ha_cluster_connected(&g_c, i) ? 1 : 0;
	out->last_heard_ms = i == 0 ? now_ms() : p->last_heard_ms;
	spin_unlock(&g_lock);
	return 0;
}

uint64_t ha_view_gen(void)
{
	return g_running ? READ_ONCE(g_c.view_gen) : 0;
}

const char *ha_self_name(void)
{
	return node_name();
}

bool ha_maintenance(void)
{
	return READ_ONCE(g_c.maintenance);
}

uint32_t ha_detect_ms(void)
{
	return g_cfg.interval_ms * g_cfg.misses;
}

uint32_t ha_fence_timeout_ms(void)
{
	return g_cfg.fence_timeout_ms;
}

/* ---- replication-side defaults (ha/replica*, ha/guest.c override them) ---------------------- */

__attribute__((weak)) void ha_on_view_change(void)
{
}

__attribute__((weak)) void ha_fence(void)
{
}

__attribute__((weak)) void ha_guest_status_print(void)
{
}

__attribute__((weak)) int ha_maintenance_evacuate(bool on)
{
	(void)on;
	return 0;
}

__attribute__((weak)) int ha_replica_command(int argc, char **argv)
{
	(void)argc, (void)argv;
	return HA_CMD_UNKNOWN;
}

__attribute__((weak)) void ha_replica_usage(void)
{
}
