/* Emulated CMOS RTC: time registers computed from the host clock on every read. */
#include "vmm/rtc.h"
#include "kernel/string.h"
#include "kernel/wallclock.h"

#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define B_24H (1u << 1)
#define B_BIN (1u << 2)
#define B_SET (1u << 7)

/* to_bcd: encode v unless the guest chose binary mode. */
static uint8_t enc(const struct vrtc *r, int v)
{
	return (r->ram[REG_B] & B_BIN) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int dec(const struct vrtc *r, uint8_t v)
{
	return (r->ram[REG_B] & B_BIN) ? v : (v & 0xf) + (v >> 4) * 10;
}

/* vrtc_init: BCD, 24-hour mode; memory-size bytes as PC firmware leaves them. */
void vrtc_init(struct vrtc *r, uint64_t ram_below_4g, uint64_t ram_above_4g)
{
	memset(r, 0, sizeof(*r));
	spin_init(&r->lock, "vrtc");
	r->ram[REG_A] = 0x26; /* 32.768 kHz divider, 1024 Hz rate */
	r->ram[REG_B] = B_24H;
	r->ram[REG_D] = 0x80; /* valid RAM and time */
	uint64_t above16 = ram_below_4g > (16 << 20) ? (ram_below_4g - (16 << 20)) >> 16 : 0;
	if (above16 > 0xffff)
		above16 = 0xffff;
	r->ram[0x34] = (uint8_t)above16;
	r->ram[0x35] = (uint8_t)(above16 >> 8);
	uint64_t high = ram_above_4g >> 16;
	r->ram[0x5b] = (uint8_t)high;
	r->ram[0x5c] = (uint8_t)(high >> 8);
	r->ram[0x5d] = (uint8_t)(high >> 16);
}

/* fill_time: registers 0-9 and the century from the current guest time. */
static void fill_time(struct vrtc *r)
{
	struct tm_utc t;
	epoch_to_tm((uint64_t)((int64_t)wallclock_now() + r->offset), &t);
	int hour = t.hour;
	uint8_t h;
	if (r->ram[REG_B] & B_24H) {
		h = enc(r, hour);
	} else {
		int h12 = hour % 12 ? hour % 12 : 12;
		h = (uint8_t)(enc(r, h12) | (hour >= 12 ? 0x80 : 0));
	}
	r->ram[0] = enc(r, t.sec);
	r->ram[2] = enc(r, t.min);
	r->ram[4] = h;
	r->ram[6] = enc(r, (int)((tm_to_epoch(&t) / 86400 + 4) % 7) + 1); /* 1 = Sunday */
	r->ram[7] = enc(r, t.day);
	r->ram[8] = enc(r, t.month);
	r->ram[9] = enc(r, t.year % 100);
	r->ram[0x32] = enc(r, t.year / 100);
}

/* set_time: the guest wrote the clock (SET bit cleared): remember the offset. */
static void set_time(struct vrtc *r)
{
	struct tm_utc t;
	t.sec = dec(r, r->ram[0]);
	t.min = dec(r, r->ram[2]);
	uint8_t h = r->ram[4];
	t.hour = dec(r, h & 0x7f);
	if (!(r->ram[REG_B] & B_24H))
		t.hour = (t.hour % 12) + ((h & 0x80) ? 12 : 0);
	t.day = dec(r, r->ram[7]);
	t.month = dec(r, r->ram[8]);
	t.year = dec(r, r->ram[0x32]) * 100 + dec(r, r->ram[9]);
	if (t.month >= 1 && t.month <= 12 && t.day >= 1 && t.day <= 31 && t.hour < 24)
		r->offset = (int64_t)tm_to_epoch(&t) - (int64_t)wallclock_now();
}

void vrtc_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val)
{
	struct vrtc *r = dev;
	(void)v;
	(void)size;
	spin_lock(&r->lock);
	if (port == 0x70) {
		if (write)
			r->index = (uint8_t)*val & 0x7f; /* bit 7 is the NMI mask */
		else
			*val = 0xff;
	} else if (write) {
		uint8_t b = (uint8_t)*val;
		if (r->index == REG_B) {
			bool was_set = r->ram[REG_B] & B_SET;
			r->ram[REG_B] = b;
			if (was_set && !(b & B_SET))
				set_time(r);
		} else if (r->index == REG_A) {
			r->ram[REG_A] = b & 0x7f; /* UIP is read-only */
		} else if (r->index != REG_C && r->index != REG_D) {
			r->ram[r->index] = b;
		}
	} else {
		if (r->index <= 9 || r->index == 0x32) {
			if (!(r->ram[REG_B] & B_SET))
				fill_time(r);
		}
		*val = r->ram[r->index];
		if (r->index == REG_C)
			r->ram[REG_C] = 0; /* flags clear on read */
	}
	spin_unlock(&r->lock);
}
