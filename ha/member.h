/*
 * HA membership state machine (pure; docs/ha.md). One struct ha_cluster per host: this
 * host's identity and heartbeat sender, every configured peer's liveness, the witness's
 * vote, and quorum. Time comes in as arguments (now_ms: monotonic, wall_ms: wall clock).
 * Not thread-safe: the caller serialises all calls (the agent's lock).
 *
 * Per-peer states (docs/ha.md has the diagram):
 *   UNKNOWN --first valid heartbeat--> ALIVE --silent > 1.5 intervals--> LATE
 *   LATE --heartbeat--> ALIVE      ALIVE/LATE --silent >= misses x interval--> DEAD
 *   DEAD --heartbeat--> ALIVE      any --heartbeat with a new incarnation--> ALIVE (rebooted)
 * A peer's vote counts while it is ALIVE or LATE and its own heartbeats say it hears us
 * (connected both ways). The witness's vote counts while its grant is valid and its holder is
 * this host or a connected peer. Quorate: votes * 2 > configured votes.
 */
#ifndef TERN_HA_MEMBER_H
#define TERN_HA_MEMBER_H

#include "ha/hb_wire.h"

#define HA_MAX_NODES        HB_MAX_VIEW /* self + 16 peers */
#define HA_INTERVAL_DEFAULT 200         /* ms between heartbeats */
#define HA_MISSES_DEFAULT   5           /* silent intervals before a peer is dead */
#define HA_SENT_RING        128         /* send times kept for witness lease echoes */
#define HA_MAX_SKEW_DEFAULT 300000      /* ms: a new incarnation's wall clock must be this close */

enum ha_state { HA_UNKNOWN, HA_ALIVE, HA_LATE, HA_DEAD };

/* One configured node (index 0 is this host). */
struct ha_node {
	char name[HA_NAME_MAX]; /* configured name; the heartbeat's name is kept in hb_name */
	char hb_name[HA_NAME_MAX];
	uint32_t id; /* IPv4 address, host order */
	uint16_t port;
	enum ha_state state;
	uint64_t incarnation;
	bool have_rx;
	struct crypto_dgram_rx rx;
	uint64_t last_heard_ms, last_seq;
	bool maintenance, quorate, hears_us;
	bool rebooted; /* a new incarnation arrived since the last tick */
	uint64_t received;
};

/* The witness as seen from this host. */
struct ha_witness_peer {
	bool configured, alive, vote;
	uint32_t ip;
	uint16_t port;
	uint64_t incarnation;
	bool have_rx;
	struct crypto_dgram_rx rx;
	uint64_t last_heard_ms, valid_until_ms;
	uint32_t holder, lease_ms;
	uint64_t received;
};

/* Dropped datagrams by reason. */
struct ha_counters {
	uint64_t sent, received, malformed, forged, replayed, unknown, stale, self;
};

struct ha_cluster {
	uint8_t key[KEYS_CLUSTER_KEY_SIZE];
	struct ha_node node[HA_MAX_NODES];
	int n; /* configured nodes, self included */
	struct ha_witness_peer wit;
	uint32_t interval_ms, misses;
	uint64_t max_skew_ms; /* 0: no wall clock check */
	uint64_t incarnation, boot_ms;
	struct crypto_dgram_tx tx;
	struct {
		uint64_t seq, ms;
	} sent[HA_SENT_RING];
	bool maintenance;
	bool quorate;
	int votes, total_votes;
	uint64_t view_gen;
	struct ha_counters cnt;
};

/* ha_state_name: "unknown", "alive", "late", "dead". */
const char *ha_state_name(enum ha_state s);

/* ha_cluster_init: self (name, id), heartbeat timing and the sending key; no peers yet. */
void ha_cluster_init(struct ha_cluster *c, const uint8_t key[KEYS_CLUSTER_KEY_SIZE],
                     const char *name, uint32_t id, uint64_t incarnation, uint32_t interval_ms,
                     uint32_t misses, uint64_t now_ms);

/* ha_cluster_add_peer: a configured voter; its index, or -1 (full, duplicate or bad id). */
int ha_cluster_add_peer(struct ha_cluster *c, const char *name, uint32_t id, uint16_t port);

/* ha_cluster_set_witness: the witness's address (adds one configured vote). */
void ha_cluster_set_witness(struct ha_cluster *c, uint32_t ip, uint16_t port);

/* ha_cluster_set_maintenance: this host's maintenance flag; true if it changed. */
bool ha_cluster_set_maintenance(struct ha_cluster *c, bool on);

/* ha_cluster_heartbeat: one sealed heartbeat into out (>= HB_PKT_MAX); its length or -1. */
int ha_cluster_heartbeat(struct ha_cluster *c, uint64_t now_ms, uint64_t wall_ms, uint8_t *out,
                         size_t cap);

/*
 * ha_cluster_receive: one datagram from src_ip (hostile input). Returns HB_OK or the reason
 * it was dropped (also counted in c->cnt). State changes that follow (join, reboot) are
 * applied and logged by the next ha_cluster_tick.
 */
int ha_cluster_receive(struct ha_cluster *c, uint32_t src_ip, const uint8_t *pkt, size_t len,
                       uint64_t now_ms, uint64_t wall_ms);

/* ha_cluster_tick: advance liveness, the witness vote and quorum; true if the view changed. */
bool ha_cluster_tick(struct ha_cluster *c, uint64_t now_ms);

/* ha_cluster_connected: node i's vote counts (self always; peers ALIVE/LATE and hearing us). */
bool ha_cluster_connected(const struct ha_cluster *c, int i);

#endif
