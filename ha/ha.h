/*
 * Tern high availability: the interface between cluster membership (ha/member*, ha/agent.c:
 * heartbeats, liveness, quorum, fencing, watchdog) and guest replication/failover
 * (ha/replica*). See docs/ha.md.
 *
 * Membership side (implemented in ha/agent.c): safe to call from any thread; values are a
 * consistent snapshot taken under the agent's lock.
 *
 * Replication side (implemented by ha/replica*): the agent calls these from its own thread.
 * ha/agent.c provides weak no-op defaults so the tree links without them.
 */
#ifndef TERN_HA_H
#define TERN_HA_H

#include <stdbool.h>
#include <stdint.h>

#define HA_NAME_MAX 32 /* node names: 1-31 characters plus NUL */

/* ---- membership (ha/agent.c) ---------------------------------------------------------------- */

/* ha_quorate: true while this host is in a partition holding a majority of the votes. */
bool ha_quorate(void);

/* ha_member_count: configured nodes including self (self is member 0). */
int ha_member_count(void);

/* One member as seen from this host. ip is in host byte order (169.254.77.1 = 0xa9fe4d01). */
struct ha_member_info {
	char name[HA_NAME_MAX];
	uint32_t ip;
	bool self, alive, maintenance;
	int votes;
	uint64_t last_heard_ms; /* time_ns()/1e6 of the last valid heartbeat (0: never) */
};

/* ha_member_get: member i (0 <= i < ha_member_count()) into *out; 0, or -1 if out of range. */
int ha_member_get(int i, struct ha_member_info *out);

/* ha_view_gen: a counter that bumps on every membership or quorum change. */
uint64_t ha_view_gen(void);

/* ha_self_name: this host's node name (tern.conf `node`). */
const char *ha_self_name(void);

/* ha_maintenance: this host's own maintenance flag (`node maintenance on|off`). */
bool ha_maintenance(void);

/* ha_detect_ms: ha_misses x ha_interval: how long a peer is silent before it is dead. */
uint32_t ha_detect_ms(void);

/*
 * ha_fence_timeout_ms: `ha_fence_timeout`: a host that lost quorum has paused its HA guests
 * (or been reset by the watchdog) at most this long after it lost quorum. Safe failover: act
 * on a dead owner's guests no earlier than this long after it was declared dead.
 */
uint32_t ha_fence_timeout_ms(void);

/* ---- replication side (ha/replica*; weak no-op defaults in ha/agent.c) ---------------------- */
/* The agent calls these on its own thread, which also reloads the hardware watchdog: they
 * must return quickly (start threads for long work), well within ha_fence_timeout_ms(). */

/* ha_on_view_change: called from the agent thread after every view change. */
void ha_on_view_change(void);

/* ha_fence: quorum lost: pause all HA guests now (called from the agent thread). */
void ha_fence(void);

/* ha_guest_status_print: print one line per HA guest for `ha status`. */
void ha_guest_status_print(void);

/* ha_maintenance_evacuate: node maintenance on (evacuate guests) / off (re-admit); 0 or -1. */
int ha_maintenance_evacuate(bool on);

/*
 * ha_replica_command: the `ha` console command belongs to ha/hacmd.c (status); every other
 * sub-command (`ha add NAME`, `ha remove NAME`, ...) is passed here with argv[1] the
 * sub-command. Return HA_CMD_UNKNOWN if argv[1] is not yours, else your handler's result
 * (0 ok, shell_error()/shell_usage() values otherwise). The weak default knows none.
 */
#define HA_CMD_UNKNOWN (-1000)
int ha_replica_command(int argc, char **argv);

/* ha_replica_usage: print extra `ha` usage lines (e.g. "  ha add NAME"); weak default: none. */
void ha_replica_usage(void);

#endif
