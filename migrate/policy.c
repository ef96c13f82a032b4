/* The pre-copy stop rule and auto-converge; see policy.h and docs/migration.md "Migrating". */
#include "migrate/policy.h"
#include "kernel/string.h"

void mig_policy_init(struct mig_policy *p, uint64_t limit_ms)
{
	memset(p, 0, sizeof(*p));
	p->limit_ms = limit_ms;
	p->last_dirty = ~0ULL;
	p->best_ms = ~0ULL;
}

/*
 * settled: the estimate fits the limit: whether more rounds would still pay. A round costs
 * about its own estimate in time and bytes, and while the guest dirties slower than the link
 * sends, each round leaves a smaller set for the next, so going on while the estimate still
 * shrinks buys a shorter pause for little. A guest writing random data that stopped at ~200
 * ms under the 300 ms limit stops at 14-45 ms this way, in less total time.
 */
static bool settled(struct mig_policy *p, uint64_t est_ms)
{
	uint64_t floor = MIN((uint64_t)MIG_SETTLE_FLOOR_MS, p->limit_ms);
	if (est_ms <= floor || p->extra++ >= MIG_SETTLE_ROUNDS)
		return true;
	if (est_ms < p->best_ms) {
		p->best_ms = est_ms;
		p->misses = 0;
		return false;
	}
	return ++p->misses >= 2; /* a round can be unlucky; two in a row have stopped paying */
}

bool mig_policy_round(struct mig_policy *p, const struct mig_round *r)
{
	int round = p->round++;
	p->stalls = r->dirty_bytes >= p->last_dirty ? p->stalls + 1 : 0;
	p->last_dirty = r->dirty_bytes;
	bool stop = round + 1 >= MIG_MAX_ROUNDS ||
	            (r->est_ms <= p->limit_ms && settled(p, r->est_ms)) ||
	            (p->stalls >= 3 && p->throttle >= MIG_THROTTLE_MAX);
	if (!stop && round >= 1 && r->dirty_rate > r->throughput / 2 &&
	    p->throttle < MIG_THROTTLE_MAX)
		p->throttle = p->throttle ? MIN(p->throttle + MIG_THROTTLE_STEP, MIG_THROTTLE_MAX)
		                          : MIG_THROTTLE_FIRST;
	return stop;
}
