/* Wall-clock time: the host's CMOS RTC read once at boot, advanced by the TSC. */
#ifndef TERN_WALLCLOCK_H
#define TERN_WALLCLOCK_H

#include "kernel/compiler.h"

struct tm_utc {
	int year, month, day, hour, min, sec;
};

/* wallclock_init: read the RTC (MC146818 registers via ports 0x70/0x71). */
void wallclock_init(void);
/* wallclock_now: seconds since 1970-01-01 UTC. */
uint64_t wallclock_now(void);
/* Pure conversions (host-tested). */
uint64_t tm_to_epoch(const struct tm_utc *t);
void epoch_to_tm(uint64_t secs, struct tm_utc *t);

#endif
