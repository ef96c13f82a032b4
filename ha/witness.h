/*
 * The HA witness's decision logic (pure; used by tools/ternwitness.c; docs/ha.md). The
 * witness hears the hosts' heartbeats (any sender holding the cluster key) and answers each
 * with a witness heartbeat that names its vote's holder, echoes the sequence number it
 * answers, and carries the lease.
 *
 * Vote: the holder keeps the vote while it is heard (within the lease). When the holder has
 * been silent for a lease the vote is withdrawn (replies name no holder); a full lease after
 * the last reply that named a holder, it goes to the lowest id heard within the lease. Hosts count
 * the vote only while their echoed heartbeat is less than 7/8 lease old and the holder is
 * themselves or a peer they are connected to; so a silent holder's side has lost the vote before
 * anyone else can get it, and the witness never votes for two sides within a lease.
 */
#ifndef TERN_HA_WITNESS_H
#define TERN_HA_WITNESS_H

#include "ha/hb_wire.h"

#define WIT_MAX_HOSTS     64
#define WIT_LEASE_DEFAULT 400 /* ms; keep it under half of the hosts' misses x interval */

struct wit_host {
	bool used;
	uint32_t id, ip;
	uint16_t port;
	char name[HA_NAME_MAX];
	uint64_t incarnation;
	struct crypto_dgram_rx rx;
	uint64_t last_heard_ms, last_seq, last_reply_ms;
	uint64_t received;
};

struct witness {
	uint8_t key[KEYS_CLUSTER_KEY_SIZE];
	struct wit_host host[WIT_MAX_HOSTS];
	uint32_t holder; /* 0: none */
	uint32_t lease_ms;
	uint64_t incarnation, boot_ms, max_skew_ms;
	uint64_t last_named_ms; /* last reply that named a holder */
	struct crypto_dgram_tx tx;
	uint64_t sent, received, forged, replayed, malformed, stale, full;
};

/* witness_init: a witness with the cluster key, this run's incarnation and the lease. */
void witness_init(struct witness *w, const uint8_t key[KEYS_CLUSTER_KEY_SIZE], uint64_t incarnation,
                  uint32_t lease_ms, uint64_t now_ms);

/*
 * witness_receive: one datagram from src_ip:src_port (hostile). On HB_OK *idx is the host to
 * answer (witness_reply). Otherwise the hb_err reason (counted).
 */
int witness_receive(struct witness *w, uint32_t src_ip, uint16_t src_port, const uint8_t *pkt,
                    size_t len, uint64_t now_ms, uint64_t wall_ms, int *idx);

/* witness_tick: move the vote if the holder went silent; true if the holder changed. */
bool witness_tick(struct witness *w, uint64_t now_ms);

/* witness_reply: the answer to host idx's last heartbeat into out; its length or -1. */
int witness_reply(struct witness *w, int idx, uint64_t now_ms, uint64_t wall_ms, uint8_t *out,
                  size_t cap);

/* witness_host_name: the name of the host with this id, or "-". */
const char *witness_host_name(const struct witness *w, uint32_t id);

#endif
