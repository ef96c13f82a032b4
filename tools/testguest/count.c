/*
 * Tern test guest: `count`: a counter for snapshot and migration tests. Prints
 *   TGUEST COUNT n=<n> tsc=<guest TSC> ms=<ms since start> pass=<p> sum=0x<sum> errors=<e>
 * every tguest.interval ms (default 200) of TSC time, forever (or tguest.count=N lines, then
 * DONE). Meanwhile it rewrites a region of tguest.cpages pages (default 64) without pause:
 * pass p stores a value derived from (p, page, line) in every 64-byte line, after checking
 * that the line still holds pass p-1's value; a mismatch (a page lost by a snapshot or a
 * migration) prints COUNT FAIL and counts in errors=. sum is the checksum of the last
 * complete pass.
 */
#include "tg.h"

/* value: what pass p stores in line l of page g. */
static uint64_t value(uint64_t p, uint64_t g, uint64_t l)
{
	uint64_t x = p * 0x9e3779b97f4a7c15ULL ^ (g << 6 | l) * 0xc2b2ae3d27d4eb4fULL;
	x ^= x >> 31;
	return x * 0x94d049bb133111ebULL;
}

void test_count(void)
{
	test_begin("count");
	uint64_t base = ALIGN_UP(g_env.image_end, 2ULL << 20);
	uint64_t npages = opt_u64("cpages", 64), interval = opt_u64("interval", 200);
	uint64_t limit = opt_u64("count", 0);
	if (!npages || !interval || !e820_is_ram(base, npages * 4096))
		fail_stop("bad tguest.cpages/interval or not enough RAM for the region");
	volatile uint64_t *mem = (volatile uint64_t *)base;
	for (uint64_t g = 0; g < npages; g++)
		for (uint64_t l = 0; l < 64; l++)
			mem[g * 512 + l * 8] = value(0, g, l);
	uint64_t per = interval * (g_env.tsc_hz / 1000), start = rdtsc(), next = start + per;
	uint64_t n = 0, pass = 1, sum = 0, last_sum = 0, errors = 0;
	say("COUNT start region=0x%lx pages=%lu interval_ms=%lu", base, npages, interval);
	for (;;) {
		for (uint64_t g = 0; g < npages; g++) {
			for (uint64_t l = 0; l < 64; l++) {
				volatile uint64_t *w = &mem[g * 512 + l * 8];
				uint64_t want = value(pass - 1, g, l), got = *w;
				if (got != want && errors++ < 8)
					say("COUNT FAIL page=0x%lx line=%lu pass=%lu got=0x%lx "
					    "want=0x%lx",
					    base + g * 4096, l, pass, got, want);
				uint64_t v = value(pass, g, l);
				*w = v;
				sum += v;
			}
			uint64_t now = rdtsc();
			if (now < next)
				continue;
			say("COUNT n=%lu tsc=%lu ms=%lu pass=%lu sum=0x%lx errors=%lu", n, now,
			    tsc_ms(now - start), pass - 1, last_sum, errors);
			n++;
			next = now - next > per ? now + per : next + per;
			if (limit && n >= limit) {
				check(errors == 0, "memory-intact", "%lu errors in %lu passes",
				      errors, pass - 1);
				test_end();
				return;
			}
		}
		last_sum = sum;
		sum = 0;
		pass++;
	}
}
