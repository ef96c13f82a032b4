/* Console commands of HA membership: `ha status`, `peers`, `node maintenance` (docs/console.md). */
#include "drivers/i6300esb.h"
#include "ha/agent.h"
#include "kernel/args.h"
#include "kernel/config.h"
#include "kernel/fmt.h"
#include "kernel/log.h"
#include "kernel/shell.h"
#include "kernel/string.h"
#include "kernel/time.h"

static struct ha_cluster g_snap; /* console thread only: too big for its stack */

/* ip_str: dotted quad into buf (16 bytes). */
static const char *ip_str(uint32_t ip, char *buf)
{
	format_ipv4(ip, buf, 16);
	return buf;
}

/* age: "N ms" since t, or "never". */
static const char *age(uint64_t t, uint64_t now, char *buf, size_t cap)
{
	if (!t)
		return "never";
	fmt_snprintf(buf, cap, "%llu ms", (unsigned long long)(now - t));
	return buf;
}

/* print_watchdog: the hardware watchdog's state. */
static void print_watchdog(void)
{
	if (!esb_wdt_present())
		kprintf("watchdog: none (no i6300esb)\n");
	else if (!esb_wdt_armed())
		kprintf("watchdog: i6300esb present, not armed%s\n",
		        ha_agent_config()->watchdog ? "" : " (ha_watchdog = off)");
	else
		kprintf("watchdog: i6300esb armed, resets the host after %u ms without the agent\n",
		        esb_wdt_timeout_ms());
	if (esb_wdt_fired_before())
		kprintf("watchdog: the last reset was caused by the watchdog\n");
}

/* print_members: one line per configured node. */
static void print_members(const struct ha_cluster *c, uint64_t now)
{
	char ip[16], a[24];
	kprintf("  %-16s %-15s %-8s %-4s %-10s %s\n", "NAME", "ADDRESS", "STATE", "VOTE", "HEARD",
	        "MAINT");
	for (int i = 0; i < c->n; i++) {
		const struct ha_node *p = &c->node[i];
		kprintf("  %-16s %-15s %-8s %-4d %-10s %s%s\n", p->name, ip_str(p->id, ip),
		        i == 0 ? "self" : ha_state_name(p->state),
		        ha_cluster_connected(c, i) ? 1 : 0,
		        i == 0 ? "-" : age(p->last_heard_ms, now, a, sizeof(a)),
		        p->maintenance ? "on" : "off",
		        i && (p->state == HA_ALIVE || p->state == HA_LATE) && !p->hears_us
		            ? "  (does not hear us)"
		            : "");
	}
}

/* print_witness: the witness's liveness and vote. */
static void print_witness(const struct ha_cluster *c, uint64_t now)
{
	char ip[16], a[24];
	const struct ha_witness_peer *w = &c->wit;
	if (!w->configured)
		return;
	const char *holder = "none";
	for (int i = 0; i < c->n; i++)
		if (w->holder && c->node[i].id == w->holder)
			holder = c->node[i].name;
	kprintf("witness %s:%u: %s, vote %s (holder %s), heard %s\n", ip_str(w->ip, ip), w->port,
	        w->alive ? "up" : "down", w->vote ? "counted" : "not counted", holder,
	        age(w->last_heard_ms, now, a, sizeof(a)));
}

/* cmd_status: `ha status`. */
static int cmd_status(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("ha status");
	if (!ha_agent_snapshot(&g_snap)) {
		kprintf("ha: off (needs cluster_key and [peer] sections or a witness)\n");
		print_watchdog();
		ha_guest_status_print();
		return 0;
	}
	const struct ha_cluster *c = &g_snap;
	uint64_t now = time_ns() / 1000000, fences, last;
	ha_agent_fence_stats(&fences, &last);
	kprintf("node %s, incarnation %llx, heartbeat %u ms, dead after %u misses, UDP port %u\n",
	        c->node[0].name, (unsigned long long)c->incarnation, c->interval_ms, c->misses,
	        ha_agent_config()->port);
	kprintf("quorum: %s (%d of %d votes), view %llu, maintenance %s\n",
	        c->quorate ? "yes" : "NO", c->votes, c->total_votes,
	        (unsigned long long)c->view_gen, c->maintenance ? "on" : "off");
	print_watchdog();
	kprintf("members:\n");
	print_members(c, now);
	print_witness(c, now);
	kprintf("heartbeats: %llu sent, %llu received; dropped: %llu forged, %llu replayed, "
	        "%llu malformed, %llu unknown sender, %llu stale, %llu own\n",
	        (unsigned long long)c->cnt.sent, (unsigned long long)c->cnt.received,
	        (unsigned long long)c->cnt.forged, (unsigned long long)c->cnt.replayed,
	        (unsigned long long)c->cnt.malformed, (unsigned long long)c->cnt.unknown,
	        (unsigned long long)c->cnt.stale, (unsigned long long)c->cnt.self);
	if (ha_agent_rx_overflow())
		kprintf("receive queue full: %llu heartbeats dropped before authentication\n",
		        (unsigned long long)ha_agent_rx_overflow());
	kprintf("fenced: %llu times, last took %llu ms (limit %u ms)\n", (unsigned long long)fences,
	        (unsigned long long)last, ha_agent_config()->fence_timeout_ms);
	kprintf("guests:\n");
	ha_guest_status_print();
	return 0;
}

/* cmd_freeze: test aid: stop the agent so the watchdog resets the host. */
static int cmd_freeze(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("ha agent-freeze");
	ha_agent_freeze();
	kprintf("ha: agent frozen (test aid): no heartbeats, no watchdog pets\n");
	return 0;
}

static const struct shell_sub g_ha_subs[] = {
    {"status", "ha status", "members, votes, quorum, watchdog, HA guests", cmd_status},
};

/* cmd_ha: `ha status` here, `ha agent-freeze` (hidden), the rest to the replication side. */
static int cmd_ha(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "agent-freeze"))
		return cmd_freeze(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "status") != 0) {
		int rc = ha_replica_command(argc, argv);
		if (rc != HA_CMD_UNKNOWN)
			return rc;
		shell_error("ha: unknown sub-command '%s'", argv[1]);
		kprintf("usage:\n  %-44s %s\n", g_ha_subs[0].usage, g_ha_subs[0].help);
		ha_replica_usage();
		return 2;
	}
	if (argc < 2) {
		kprintf("usage:\n  %-44s %s\n", g_ha_subs[0].usage, g_ha_subs[0].help);
		ha_replica_usage();
		return 2;
	}
	return shell_dispatch_sub("ha", g_ha_subs, ARRAY_SIZE(g_ha_subs), argc, argv);
}
SHELL_COMMAND(ha, "ha", "ha status | ha SUB ...", "high availability: membership and HA guests",
              cmd_ha);

/* cmd_peers: configured peers and their liveness. */
static int cmd_peers(int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return shell_usage("peers");
	if (!ha_agent_snapshot(&g_snap)) {
		kprintf("ha: off; no liveness information\n");
		return 0;
	}
	uint64_t now = time_ns() / 1000000;
	char ip[16], a[24];
	kprintf("  %-16s %-15s %-8s %-10s %-9s %s\n", "PEER", "ADDRESS", "STATE", "HEARD",
	        "HEARS US", "HEARTBEATS");
	for (int i = 1; i < g_snap.n; i++) {
		const struct ha_node *p = &g_snap.node[i];
		kprintf("  %-16s %-15s %-8s %-10s %-9s %llu\n", p->name, ip_str(p->id, ip),
		        ha_state_name(p->state), age(p->last_heard_ms, now, a, sizeof(a)),
		        p->hears_us ? "yes" : "no", (unsigned long long)p->received);
	}
	print_witness(&g_snap, now);
	return 0;
}
SHELL_COMMAND(peers, "peers", "peers", "configured peers and their liveness (HA heartbeats)",
              cmd_peers);

/* cmd_maintenance: `node maintenance on|off`: the flag, then the evacuation hook. */
static int cmd_maintenance(int argc, char **argv)
{
	bool on;
	if (argc != 2 || !parse_bool(argv[1], &on))
		return shell_usage("node maintenance on|off");
	ha_agent_set_maintenance(on);
	kprintf("node %s: maintenance %s\n", ha_self_name(), on ? "on" : "off");
	if (ha_maintenance_evacuate(on) < 0)
		return shell_error("maintenance %s: evacuation failed (see log)",
		                   on ? "on" : "off");
	return 0;
}

static const struct shell_sub g_node_subs[] = {
    {"maintenance", "node maintenance on|off", "maintenance mode: evacuate guests / re-admit",
     cmd_maintenance},
};

static int cmd_node(int argc, char **argv)
{
	return shell_dispatch_sub("node", g_node_subs, ARRAY_SIZE(g_node_subs), argc, argv);
}
SHELL_COMMAND(node, "node", "node maintenance on|off", "this host's cluster role", cmd_node);
