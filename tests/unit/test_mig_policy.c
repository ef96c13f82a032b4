/* The pre-copy stop rule and auto-converge (migrate/policy.c), round by round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "migrate/policy.h"

#define MIB (1ULL << 20)

/* rnd: a round whose estimate is est ms at 20 MiB/s, dirtying at rate MiB/s. */
static struct mig_round rnd(uint64_t est, uint64_t rate)
{
	return (struct mig_round){est, est * 20 * MIB / 1000, rate * MIB, 20 * MIB};
}

/* run: feed estimates (with one dirty rate) until the policy stops; returns the rounds it
 * took, or -1 if it never stopped. */
static int run(struct mig_policy *p, const uint64_t *est, int n, uint64_t rate)
{
	for (int i = 0; i < n; i++) {
		struct mig_round r = rnd(est[i], rate);
		if (mig_policy_round(p, &r))
			return i + 1;
	}
	return -1;
}

/* An idle guest: round 0 fits; one more round finds almost nothing; never throttled. */
static void test_idle_guest(void **state)
{
	(void)state;
	struct mig_policy p;
	mig_policy_init(&p, 300);
	const uint64_t est[] = {31, 3};
	assert_int_equal(run(&p, est, 2, 12), 2);
	assert_int_equal(p.throttle, 0); /* dirty 12 > 20 / 2, but it was the last round */
}

/* Once it fits, rounds go on while they shrink the estimate, to the floor. */
static void test_settles_to_the_floor(void **state)
{
	(void)state;
	struct mig_policy p;
	mig_policy_init(&p, 300);
	const uint64_t est[] = {1500, 1200, 600, 270, 160, 90, 40, 9, 1000};
	assert_int_equal(run(&p, est, 9, 5), 8); /* stops at 9 ms */
}

/* Two rounds in a row that do not beat the best end it (one does not). */
static void test_two_misses_stop(void **state)
{
	(void)state;
	struct mig_policy p;
	mig_policy_init(&p, 300);
	const uint64_t est[] = {250, 120, 130, 100, 110, 105, 50};
	/* 250 fits (best), 120 best, 130 miss, 100 best, 110 miss, 105 miss: stop */
	assert_int_equal(run(&p, est, 7, 5), 6);
}

/* An estimate back above the limit is not a settling round: it neither stops nor counts. */
static void test_above_the_limit_again(void **state)
{
	(void)state;
	struct mig_policy p;
	mig_policy_init(&p, 100);
	const uint64_t est[] = {90, 400, 500, 80, 85, 95};
	/* 90 best; 400 and 500 do not fit (no decision); 80 best; 85, 95 misses: stop */
	assert_int_equal(run(&p, est, 6, 5), 6);
}

/* At most MIG_SETTLE_ROUNDS rounds past the first fit, however it keeps shrinking. */
static void test_settle_rounds_are_bounded(void **state)
{
	(void)state;
	struct mig_policy p;
	mig_policy_init(&p, 300);
	uint64_t est[20];
	for (int i = 0; i < 20; i++)
		est[i] = 290 - 10 * (uint64_t)i;
	assert_int_equal(run(&p, est, 20, 5), MIG_SETTLE_ROUNDS + 1);
}

/* A limit below the floor is the floor: downtime=5 settles to 5 ms, not 10. */
static void test_limit_below_the_floor(void **state)
{
	(void)state;
	struct mig_policy p;
	mig_policy_init(&p, 5);
	const uint64_t est[] = {200, 8, 7, 5};
	assert_int_equal(run(&p, est, 4, 5), 4);
}

/* A busy guest: 20%, then 10% more every round from round 1 on, up to 99%; a guest that
 * never converges stops three stalled rounds after full throttle, and MIG_MAX_ROUNDS bounds
 * everything. */
static void test_auto_converge(void **state)
{
	(void)state;
	struct mig_policy p;
	mig_policy_init(&p, 300);
	struct mig_round r = rnd(5000, 15); /* dirties 15 MiB/s against 20 sent */
	assert_false(mig_policy_round(&p, &r));
	assert_int_equal(p.throttle, 0); /* round 0 sends all of RAM: no judgement yet */
	const int want[] = {20, 30, 40, 50, 60, 70, 80, 90, 99};
	for (int i = 0; i < 9; i++) {
		assert_false(mig_policy_round(&p, &r));
		assert_int_equal(p.throttle, want[i]);
	}
	/* the dirty set has not shrunk for 9 rounds and the throttle is full */
	assert_true(mig_policy_round(&p, &r));
	assert_int_equal(p.throttle, MIG_THROTTLE_MAX);
	/* a guest dirtying slowly is left alone */
	mig_policy_init(&p, 300);
	struct mig_round slow = rnd(5000, 9);
	for (int i = 0; i < 5; i++)
		assert_false(mig_policy_round(&p, &slow));
	assert_int_equal(p.throttle, 0);
	/* shrinking sets never stall out: the round cap stops it */
	mig_policy_init(&p, 1);
	int rounds = 0;
	for (uint64_t e = 100000; !rounds || rounds < 100; e -= 10) {
		struct mig_round shrink = rnd(e, 15);
		rounds++;
		if (mig_policy_round(&p, &shrink))
			break;
	}
	assert_int_equal(rounds, MIG_MAX_ROUNDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_idle_guest),
	    cmocka_unit_test(test_settles_to_the_floor),
	    cmocka_unit_test(test_two_misses_stop),
	    cmocka_unit_test(test_above_the_limit_again),
	    cmocka_unit_test(test_settle_rounds_are_bounded),
	    cmocka_unit_test(test_limit_below_the_floor),
	    cmocka_unit_test(test_auto_converge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
