/*
 * When a pre-copy migration stops iterating, and how hard it holds the guest back meanwhile
 * (pure; host-tested in tests/unit/test_mig_policy.c). After every round the source feeds the
 * round's figures in and gets the decision back:
 *   - stop once the estimated downtime fits the limit and further rounds stop paying: up to
 *     MIG_SETTLE_ROUNDS more rounds while they beat the lowest estimate so far (two rounds in
 *     a row that do not end it), down to MIG_SETTLE_FLOOR_MS;
 *   - stop after MIG_MAX_ROUNDS rounds, or when the dirty set stops shrinking for three
 *     rounds with the guest already throttled to 99%;
 *   - auto-converge: for the rounds still to come, while the guest dirties faster than half
 *     the throughput, throttle it 20%, then 10% more each round, up to 99% (QEMU's
 *     cpu-throttle steps); never on the round that stops.
 */
#ifndef TERN_MIG_POLICY_H
#define TERN_MIG_POLICY_H

#include "kernel/compiler.h"

#define MIG_MAX_ROUNDS      30
#define MIG_SETTLE_ROUNDS   8  /* rounds past the limit while the estimate shrinks */
#define MIG_SETTLE_FLOOR_MS 10 /* ... down to this estimate */
#define MIG_THROTTLE_FIRST  20 /* percent */
#define MIG_THROTTLE_STEP   10
#define MIG_THROTTLE_MAX    99

/* What one finished pre-copy round measured. */
struct mig_round {
	uint64_t est_ms;      /* dirty bytes now / this round's throughput */
	uint64_t dirty_bytes; /* left for the next round (as they will go on the wire) */
	uint64_t dirty_rate;  /* bytes per second dirtied during the round */
	uint64_t throughput;  /* bytes per second sent during the round */
};

/* The policy's memory between rounds; mig_policy_init starts it. */
struct mig_policy {
	uint64_t limit_ms;   /* the downtime limit */
	int round;           /* rounds decided so far */
	int throttle;        /* percent the guest's vCPUs are held back */
	uint64_t last_dirty; /* for the stall count */
	int stalls;          /* rounds in a row whose dirty set did not shrink */
	uint64_t best_ms;    /* lowest estimate since it first fitted */
	int extra;           /* rounds since the estimate first fitted */
	int misses;          /* rounds in a row that did not beat best_ms */
};

void mig_policy_init(struct mig_policy *p, uint64_t limit_ms);
/* mig_policy_round: the decision after a round: true = pause the guest and send the rest now;
 * p->throttle is the throttle for the rounds still to come. */
bool mig_policy_round(struct mig_policy *p, const struct mig_round *r);

#endif
