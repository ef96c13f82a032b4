/* Wall-clock time from the host RTC; see wallclock.h. */
#include "kernel/wallclock.h"
#include "kernel/log.h"
#include "kernel/time.h"
#include "kernel/x86.h"

static uint64_t g_epoch_at_boot; /* seconds at time_ns() == 0 */

/* days_from_civil: days since 1970-01-01 for a proleptic Gregorian date. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

uint64_t tm_to_epoch(const struct tm_utc *t)
{
	int64_t days = days_from_civil(t->year, t->month, t->day);
	return (uint64_t)(days * 86400 + t->hour * 3600 + t->min * 60 + t->sec);
}

/* epoch_to_tm: inverse of tm_to_epoch (civil_from_days). */
void epoch_to_tm(uint64_t secs, struct tm_utc *t)
{
	int64_t z = (int64_t)(secs / 86400) + 719468;
	uint64_t rem = secs % 86400;
	int64_t era = z / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	t->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	t->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	t->year = (int)(yoe + era * 400 + (t->month <= 2));
	t->hour = (int)(rem / 3600);
	t->min = (int)(rem / 60 % 60);
	t->sec = (int)(rem % 60);
}

#ifndef TERN_HOST
/* cmos: one RTC register. */
static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static int bcd(uint8_t v, bool binary)
{
	return binary ? v : (v & 0xf) + (v >> 4) * 10;
}

/* wallclock_init: read twice until stable, outside an update cycle (register A bit 7). */
void wallclock_init(void)
{
	struct tm_utc t, u;
	for (int tries = 0; tries < 10; tries++) {
		for (int i = 0; i < 100000 && (cmos(0x0a) & 0x80); i++)
			cpu_relax();
		uint8_t b = cmos(0x0b);
		bool bin = b & 4, h24 = b & 2;
		t.sec = bcd(cmos(0x00), bin);
		t.min = bcd(cmos(0x02), bin);
		uint8_t hr = cmos(0x04);
		t.hour = bcd(hr & 0x7f, bin);
		if (!h24 && (hr & 0x80))
			t.hour = (t.hour % 12) + 12;
		else if (!h24 && t.hour == 12)
			t.hour = 0;
		t.day = bcd(cmos(0x07), bin);
		t.month = bcd(cmos(0x08), bin);
		t.year = 2000 + bcd(cmos(0x09), bin);
		u = t;
		if (cmos(0x00) ==
		    (bin ? (uint8_t)u.sec : (uint8_t)(((u.sec / 10) << 4) | (u.sec % 10))))
			break;
	}
	if (t.month < 1 || t.month > 12 || t.day < 1 || t.day > 31) {
		klog("wallclock: RTC unreadable, starting at 2026-01-01");
		t = (struct tm_utc){2026, 1, 1, 0, 0, 0};
	}
	g_epoch_at_boot = tm_to_epoch(&t) - time_ns() / 1000000000ULL;
	klog("wallclock: %04d-%02d-%02d %02d:%02d:%02d UTC", t.year, t.month, t.day, t.hour, t.min,
	     t.sec);
}

uint64_t wallclock_now(void)
{
	return g_epoch_at_boot + time_ns() / 1000000000ULL;
}
#endif
