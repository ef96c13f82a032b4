/*
 * Checkpoint bookkeeping and validation for HA replication (pure; host-tested).
 *
 * Epochs: the primary tags everything the guest does between two checkpoints with the open
 * epoch e; checkpoint e closes it (taken with the vCPUs parked) and opens e + 1. Network output
 * of epoch e is released once the standby acknowledges checkpoint e. One checkpoint is in
 * flight at a time; a lost session abandons it (its output waits for the next acknowledged
 * checkpoint, which covers it: a later checkpoint contains everything an earlier one did).
 *
 * Validation: the standby checks every record of an incremental checkpoint before it applies
 * any (bounds of RAM runs, vCPU ids, record framing, no disk-replacing records), so a bad
 * checkpoint is dropped whole and the replica stays at the last good one.
 */
#ifndef TERN_HA_CKPT_H
#define TERN_HA_CKPT_H

#include "ha/ha.h"
#include "kernel/compiler.h"

struct ckpt_track {
	uint64_t epoch; /* open epoch: output now belongs to it */
	uint64_t sent;  /* checkpoint in flight (0: none) */
	uint64_t acked; /* last acknowledged checkpoint */
};

/* ckpt_track_init: epoch 1 open, nothing sent or acknowledged. */
void ckpt_track_init(struct ckpt_track *t);
/* ckpt_close_epoch: checkpoint the open epoch (vCPUs parked); returns its sequence number. */
uint64_t ckpt_close_epoch(struct ckpt_track *t);
/* ckpt_ack: the standby acknowledged seq; false if it is not the one in flight. */
bool ckpt_ack(struct ckpt_track *t, uint64_t seq);
/* ckpt_abandon: the session ended with a checkpoint in flight (never acknowledged). */
void ckpt_abandon(struct ckpt_track *t);

/* What the standby knows about the replica a checkpoint applies to. */
struct ckpt_shape {
	uint64_t mem_bytes, npages;
	uint32_t nvcpus;
	uint32_t fpu_size; /* bytes of one vCPU's FPU area on this host */
};

/* ckpt_next_seq_ok: a checkpoint numbered seq may follow the last one applied (0: none). */
bool ckpt_next_seq_ok(uint64_t last_applied, uint64_t seq);
/* ckpt_check_record: NULL if the record of an incremental checkpoint is well-formed and fits
 * the replica, else why not. REC_END is the caller's. */
const char *ckpt_check_record(const struct ckpt_shape *sh, uint16_t type, uint16_t version,
                              const uint8_t *rec, uint32_t len);

/* ha_pick_standby: among members (n of them), the one to hold a replica of vm: alive, not
 * this host, not in maintenance, not named in avoid[navoid]; spread over the candidates by
 * a hash of the VM's name. Returns the member index or -1. */
int ha_pick_standby(const struct ha_member_info *m, int n, const char *vm, const char *const *avoid,
                    int navoid);

#endif
