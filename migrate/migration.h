/*
 * Live migration between Tern hosts (pre-copy): the source sends all guest RAM, then the pages
 * dirtied meanwhile, round after round, until the remaining dirty memory can be sent within
 * the downtime limit and further rounds stop shrinking it (or rounds/bytes stop shrinking
 * altogether); then it pauses the vCPUs and sends the last pages and the vCPU and device
 * state. The destination loads everything without running it and says so; only then does the
 * source release the VM (COMMIT) and the destination run it
 * (two-phase commit: a VM never runs on two hosts; any failure before COMMIT leaves the source
 * VM running and the destination with nothing). Everything crosses the wire inside the
 * authenticated, encrypted channel (migrate/channel.h) as the VM state stream (vmm/stream.h).
 */
#ifndef TERN_MIGRATION_H
#define TERN_MIGRATION_H

#include "kernel/compiler.h"
#include "migrate/channel.h"
#include "migrate/policy.h"
#include "vmm/ramrec.h"

struct vm;

#define MIG_MAX              8
#define MIG_DEFAULT_DOWNTIME 300 /* ms */

enum mig_phase {
	MIG_CONNECTING,
	MIG_PRECOPY,
	MIG_STOPCOPY,
	MIG_COMMITTING,
	MIG_DONE,
	MIG_FAILED,
	MIG_INDOUBT, /* committed but no answer: the VM stays paused here until resolved */
	MIG_INCOMING,
};

struct migration {
	bool used, incoming;
	char vm_name[32];
	char peer[32];
	uint32_t ip;
	uint64_t downtime_limit_ms;
	uint64_t bandwidth; /* bytes per second, 0 = unlimited */
	volatile bool cancel;
	bool verify; /* send per-chunk RAM checksums for the destination to compare */
	volatile int phase;
	int round;
	uint64_t ram_bytes;   /* guest RAM size */
	uint64_t bytes_sent;  /* on the wire */
	struct ram_stats ram; /* pages sent: zero, raw, compressed */
	uint64_t skipped;     /* pages left to a later round: written again before their turn */
	uint64_t rounds_bytes[MIG_MAX_ROUNDS + 2];
	uint64_t disk_bytes; /* disk data in the last pre-copy round (deltas) */
	uint64_t ratio;      /* per mille: the last round's compressed size of its pages */
	uint64_t dirty_rate; /* bytes per second dirtied (as compressed), last round */
	uint64_t throughput; /* bytes per second sent, last round */
	uint64_t est_downtime_ms;
	int throttle;
	uint64_t t_start, t_pause, t_end; /* time_ns */
	/* inside the downtime: vCPUs parked, last pages and state sent, destination said OK */
	uint64_t t_parked, t_sent, t_state_ok;
	uint64_t catchup_ns;  /* waiting for the destination to load the backlog before the pause */
	uint64_t final_bytes; /* sent while paused */
	uint64_t downtime_ms;
	char error[128];
};

/* migrate_start: begin migrating VM name to peer (name or IPv4) in the background. */
int migrate_start(const char *name, const char *peer, uint64_t downtime_ms, uint64_t mbps,
                  bool verify, const char **err);
/* migrate_cancel: abort an outgoing migration (the VM keeps running here). */
int migrate_cancel(const char *name, const char **err);
/* migrate_receive: serve an incoming migration on an authenticated channel (server thread). */
void migrate_receive(struct chan *ch);
/* migrate_table: for `migrate status`. */
struct migration *migrate_get(int i);
/* migrate_slot / migrate_release: the shared table (source and destination). */
struct migration *migrate_slot(const char *vm_name, bool incoming);
void migrate_release(struct migration *m);
const char *migrate_phase_name(int phase);

#endif
