/*
 * HA guest replication and failover (the replication half of docs/ha.md), internal interface.
 *
 *   ha/guest.c          the table of HA guests on this host, the supervisor thread that keeps
 *                       each one replicated, fencing, `ha status` lines
 *   ha/output.c         output commit: the guest's transmitted frames wait for their checkpoint
 *   ha/replica_send.c   primary: one replication session (full copy, then a checkpoint every
 *                       interval) to a standby over the cluster channel
 *   ha/replica_recv.c   standby: receive, validate and apply checkpoints to a held VM
 *   ha/failover.c       view changes: promote a replica whose owner died, resolve fenced guests
 *   ha/maint.c          maintenance mode: evacuate by live migration
 *   ha/hacmd_guest.c    console commands and tern.conf keys
 *   ha/ckpt.c, outbuf.c pure logic (epochs, validation, standby choice, frame FIFO)
 *
 * Wire protocol (CHAN_PROTO_REPLICA on the cluster port, inside the authenticated channel):
 *   primary -> standby  MSG_REPL_HELLO  offer (migrate/offer.h: the VM's configuration)
 *   standby -> primary  MSG_ACCEPT | MSG_ERROR reason | MSG_REPL_STATE (it runs here already)
 *   then per checkpoint:
 *   primary -> standby  MSG_STREAM*     a complete state stream (vmm/stream.h): the first is a
 *                                       full copy (all RAM, all devices and disks), later ones
 *                                       the pages dirtied since, vCPUs, devices (no disks)
 *                       MSG_REPL_CKPT   le64 seq, le64 stream bytes, le64 guest uptime ns
 *   standby -> primary  MSG_REPL_ACK    le64 seq (applied: the replica is now at seq)
 *   primary -> standby  MSG_REPL_END    replication ends normally: drop the replica
 *   Probe (a fenced host asking before it resumes a guest):
 *   asker -> peer       MSG_REPL_PROBE  name;  peer -> asker MSG_REPL_STATE u8 REPL_*
 */
#ifndef TERN_HA_REPLICA_H
#define TERN_HA_REPLICA_H

#include "ha/ckpt.h"
#include "ha/ha.h"
#include "ha/outbuf.h"
#include "kernel/compiler.h"
#include "kernel/spinlock.h"

struct vm;
struct chan;
struct ksock;
struct vsw_iov;

#define HA_GUESTS_MAX      16
#define HA_CKPT_DEFAULT_MS 200
#define HA_OUT_SLOTS       256

/* Answers to a probe. */
enum { REPL_NONE = 0, REPL_REPLICA = 1, REPL_RUNNING = 2 };

enum ha_guest_state {
	HG_UNPROTECTED, /* no standby (none available, or between sessions) */
	HG_SYNCING,     /* first full copy to the standby in progress */
	HG_PROTECTED,   /* checkpoints acknowledged */
	HG_FENCED,      /* paused: this host lost quorum */
	HG_GONE,        /* the guest moved away or was destroyed */
};

/* An HA guest owned (run) by this host. */
struct ha_guest {
	bool used;
	char name[32];
	volatile int state; /* enum ha_guest_state */
	volatile bool fenced, in_ckpt, stop, running_thread;
	volatile bool suspend; /* a migration takes the guest: no replication session */
	char standby[32];
	char avoid[32]; /* the last standby that failed (tried last) */
	struct ckpt_track t;
	uint64_t t_acked_ns; /* when the last checkpoint was acknowledged */
	uint64_t ckpts, bytes, pause_ns_total, pause_ns_max, last_bytes, full_copy_ms;
	char error[96];
	struct spinlock lock; /* fenced/in_ckpt and the output buffer */
	struct outbuf out;
	bool holding; /* output is held (a session exists or is being set up) */
};

/* ---- guest.c ---- */
struct ha_guest *ha_guest_find(const char *name);
struct ha_guest *ha_guest_get(int i);
/* ha_guest_add / ha_guest_remove: make a running VM an HA guest here / stop protecting it. */
int ha_guest_add(const char *name, const char **err);
int ha_guest_remove(const char *name, const char **err);
/* ha_supervisor_start: the thread that starts replication for HA guests (idempotent). */
void ha_supervisor_start(void);
/* ha_ckpt_interval_ms / ha_failover_delay_ms: tern.conf settings. */
uint64_t ha_ckpt_interval_ms(void);
uint64_t ha_failover_delay_ms(void);
/* ha_fence_guest: pause one HA guest (quorum lost, or another host runs it). */
void ha_fence_guest(struct ha_guest *g);
/* ha_guest_lines: the HA guest and replica lines of `ha status`; how many were printed. */
int ha_guest_lines(void);
/* ha_guest_unfence: quorum is back: resume g (fenced) unless another host runs it. */
void ha_guest_unfence(struct ha_guest *g);

/* ---- output.c ---- */
/* ha_out_release: send every held frame whose checkpoint is acknowledged (all if unprotected). */
void ha_out_release(struct ha_guest *g, bool all);

/* ---- replica_send.c ---- */
/* replica_session: replicate g's VM to standby until failure, fence or stop; returns why. */
const char *replica_session(struct ha_guest *g, const char *standby);

/* ---- replica_recv.c ---- */
/* replica_receive: serve one replication or probe connection (peer service thread). */
void replica_receive(struct chan *ch, struct ksock *k);
/* replica_probe_local: what this host has of VM name (REPL_*). */
int replica_probe_local(const char *name);
/* replica_promote_dead_owners: promote replicas whose owner is dead (quorate view) and has
 * been for ha_failover_delay_ms(); returns the ms until the next one that still waits (0: none). */
uint64_t replica_promote_dead_owners(void);
/* replica_status_print: standby lines of `ha status`; how many. */
int replica_status_print(void);

/* ---- failover.c ---- */
/* ha_probe_peers: does any alive member run or hold name? REPL_* (the strongest answer). */
int ha_probe_peers(const char *name);
/* ha_connect: a replication-protocol channel to member `peer`; NULL with *err. */
struct ksock *ha_connect(const char *peer, struct chan *ch, uint8_t *chbuf, const char **err);

#endif
