/* Emulated 8254 PIT; counts are derived from the host TSC, never ticked. See pit.h. */
#include "vmm/pit.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/x86.h"
#include "vmm/platform.h"
#include "vmm/vm.h"

void vpit_init(struct vpit *p, struct vm *vm)
{
	memset(p, 0, sizeof(*p));
	spin_init(&p->lock, "vpit");
	p->vm = vm;
	for (int i = 0; i < 3; i++) {
		p->ch[i].gate = i != 2; /* gates 0 and 1 are tied high; gate 2 is port 0x61 bit 0 */
		p->ch[i].rw = 3;
	}
}

/* period: ticks of a full count (0 means 65536). */
static uint64_t period(const struct pit_channel *c)
{
	return c->reload ? c->reload : 0x10000;
}

/* elapsed: PIT ticks since counting started. */
static uint64_t elapsed(const struct pit_channel *c, uint64_t now)
{
	return muldiv64(now - c->load_tsc, PIT_FREQ, tsc_hz);
}

/* ticks_to_tsc: host TSC ticks for n PIT ticks. */
static uint64_t ticks_to_tsc(uint64_t n)
{
	return muldiv64(n, tsc_hz, PIT_FREQ);
}

/* count_now: the value a latch would capture (datasheet "counter operation"). */
static uint16_t count_now(const struct pit_channel *c, uint64_t now)
{
	if (!c->armed)
		return (uint16_t)c->reload;
	uint64_t el = elapsed(c, now), per = period(c);
	switch (c->mode) {
	case 2:
	case 3:
		if (c->mode == 3) /* square wave: counts down by two, twice per period */
			return (uint16_t)(per - ((2 * el) % per));
		return (uint16_t)(per - (el % per));
	default: /* modes 0, 1, 4, 5: count down once, then wrap through 0xffff */
		return (uint16_t)((per - el) & 0xffff);
	}
}

/* out_now: the OUT pin level. */
static bool out_now(const struct pit_channel *c, uint64_t now)
{
	if (!c->armed)
		return c->mode != 0;
	uint64_t el = elapsed(c, now), per = period(c);
	switch (c->mode) {
	case 0:
	case 1:
		return el >= per;
	case 2:
		return (el % per) != per - 1;
	case 3:
		return (el % per) < (per + 1) / 2;
	default: /* 4, 5: a one-tick low strobe at terminal count */
		return el != per;
	}
}

/* The shortest period channel 0 interrupts come at: a faster rate generator (count 1 is
 * 1.19 MHz) has its interrupts coalesced, as KVM does (min_timer_period_us), else a guest
 * keeps its vCPU exiting for every edge; the counter still reads exact. 100 us. */
#define PIT_MIN_IRQ_TICKS 119

/* schedule_irq: channel 0's next rising edge (modes 0 and 4 fire once, 2 and 3 periodically). */
static void schedule_irq(struct pit_channel *c, uint64_t now)
{
	c->next_irq = 0;
	if (!c->armed)
		return;
	uint64_t per = period(c), el = elapsed(c, now);
	if (c->mode == 0 || c->mode == 4) {
		if (el < per)
			c->next_irq = c->load_tsc + ticks_to_tsc(per);
	} else if (c->mode == 2 || c->mode == 3) {
		uint64_t step = MAX(per, (uint64_t)PIT_MIN_IRQ_TICKS);
		c->next_irq = c->load_tsc + ticks_to_tsc((el / step + 1) * step);
	}
}

/* load: a new count was written: (re)start counting in most modes. */
static void load(struct vpit *p, int i, uint32_t count)
{
	struct pit_channel *c = &p->ch[i];
	uint64_t now = rdtsc();
	c->reload = count;
	if (c->mode == 1 || c->mode == 5) {
		c->armed = false; /* hardware-triggered: waits for a gate edge */
		return;
	}
	c->load_tsc = now;
	c->armed = c->gate || i != 2;
	if (i == 0)
		schedule_irq(c, now);
}

/* control: a write to port 0x43: latch command, read-back, or new mode. */
static void control(struct vpit *p, uint8_t v)
{
	uint64_t now = rdtsc();
	int sel = v >> 6;
	if (sel == 3) { /* read-back (datasheet "read-back command") */
		for (int i = 0; i < 3; i++) {
			if (!(v & (2u << i)))
				continue;
			struct pit_channel *c = &p->ch[i];
			if (!(v & 0x20) && !c->latched) {
				c->latch = count_now(c, now);
				c->latched = true;
			}
			if (!(v & 0x10) && !c->status_latched) {
				c->status = (uint8_t)((out_now(c, now) ? 0x80 : 0) | (c->rw << 4) |
				                      (c->mode << 1) | c->bcd);
				c->status_latched = true;
			}
		}
		return;
	}
	struct pit_channel *c = &p->ch[sel];
	if (((v >> 4) & 3) == 0) { /* counter latch */
		if (!c->latched) {
			c->latch = count_now(c, now);
			c->latched = true;
		}
		return;
	}
	c->rw = (v >> 4) & 3;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4; /* 6 and 7 alias 2 and 3 */
	c->bcd = v & 1;
	c->armed = false;
	c->write_hi_next = c->read_hi_next = false;
	c->next_irq = 0;
}

/* read_counter: the latched value (or the live count) byte by byte. */
static uint8_t read_counter(struct pit_channel *c)
{
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	uint16_t v = c->latched ? c->latch : count_now(c, rdtsc());
	uint8_t b;
	if (c->rw == 1) {
		b = v & 0xff;
		c->latched = false;
	} else if (c->rw == 2) {
		b = v >> 8;
		c->latched = false;
	} else {
		b = c->read_hi_next ? v >> 8 : v & 0xff;
		if (c->read_hi_next)
			c->latched = false;
		c->read_hi_next = !c->read_hi_next;
	}
	return b;
}

/* write_counter: LSB/MSB sequencing of the count. */
static void write_counter(struct vpit *p, int i, uint8_t v)
{
	struct pit_channel *c = &p->ch[i];
	if (c->rw == 1) {
		load(p, i, v);
	} else if (c->rw == 2) {
		load(p, i, (uint32_t)v << 8);
	} else if (!c->write_hi_next) {
		c->write_lsb = v;
		c->write_hi_next = true;
	} else {
		c->write_hi_next = false;
		load(p, i, c->write_lsb | ((uint32_t)v << 8));
	}
}

/* set_gate2: port 0x61 bit 0: a rising edge (re)triggers modes 1 and 5, and starts others. */
static void set_gate2(struct vpit *p, bool gate)
{
	struct pit_channel *c = &p->ch[2];
	if (gate && !c->gate) {
		c->load_tsc = rdtsc();
		c->armed = true;
	} else if (!gate && (c->mode == 2 || c->mode == 3)) {
		c->armed = false;
	}
	c->gate = gate;
}

void vpit_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val)
{
	struct vpit *p = dev;
	(void)v;
	(void)size;
	spin_lock(&p->lock);
	if (port == 0x61) {
		if (write) {
			p->port61 = (uint8_t)*val & 3;
			set_gate2(p, *val & 1);
		} else {
			*val = p->port61 | (out_now(&p->ch[2], rdtsc()) ? 0x20 : 0) |
			       ((rdtsc() >> 14) & 1 ? 0x10 : 0); /* bit 4: refresh toggle */
		}
	} else if (port == 0x43) {
		if (write)
			control(p, (uint8_t)*val);
		else
			*val = 0xff;
	} else {
		if (write)
			write_counter(p, port - 0x40, (uint8_t)*val);
		else
			*val = read_counter(&p->ch[port - 0x40]);
	}
	spin_unlock(&p->lock);
}

uint64_t vpit_timer(struct vpit *p)
{
	uint64_t now = rdtsc();
	bool fire = false;
	spin_lock(&p->lock);
	struct pit_channel *c = &p->ch[0];
	if (c->next_irq && now >= c->next_irq) {
		fire = true;
		schedule_irq(c, now);
	}
	uint64_t next = c->next_irq;
	spin_unlock(&p->lock);
	if (fire)
		platform_pulse_irq(p->vm, IRQ_PIT);
	return next;
}
