/* Emulated local APIC; see lapic.h. */
#include "vmm/lapic.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/x86.h"
#include "vmm/ioapic.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* Register offsets (SDM 3A table 11-1). */
#define REG_ID         0x020
#define REG_VERSION    0x030
#define REG_TPR        0x080
#define REG_APR        0x090
#define REG_PPR        0x0a0
#define REG_EOI        0x0b0
#define REG_LDR        0x0d0
#define REG_DFR        0x0e0
#define REG_SVR        0x0f0
#define REG_ISR        0x100
#define REG_TMR        0x180
#define REG_IRR        0x200
#define REG_ESR        0x280
#define REG_LVT_CMCI   0x2f0
#define REG_ICR_LO     0x300
#define REG_ICR_HI     0x310
#define REG_LVT_TIMER  0x320
#define REG_LVT_ERROR  0x370
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CUR  0x390
#define REG_TIMER_DIV  0x3e0

#define LVT_MASKED         (1u << 16)
#define LVT_TIMER_MODE(l)  (((l) >> 17) & 3)
#define TIMER_ONESHOT      0
#define TIMER_PERIODIC     1
#define TIMER_TSC_DEADLINE 2
#define SVR_ENABLED        (1u << 8)
#define APIC_VERSION       0x00050014 /* version 0x14, six LVT entries */
#define APIC_BASE_ENABLE   (1ULL << 11)
#define APIC_BASE_BSP      (1ULL << 8)

#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_LOGICAL      (1u << 11)
#define ICR_SHORTHAND(l) (((l) >> 18) & 3)

static const uint32_t lvt_valid_mask[7] = {0x000117ff, 0x000710ff, 0x000117ff, 0x000117ff,
                                           0x0001f7ff, 0x0001f7ff, 0x000110ff};

/* bit_test / set / clr on the 256-bit register arrays. */
static bool vtest(const uint32_t *r, unsigned v)
{
	return (r[v / 32] >> (v % 32)) & 1;
}
static void vset(uint32_t *r, unsigned v)
{
	r[v / 32] |= 1u << (v % 32);
}
static void vclr(uint32_t *r, unsigned v)
{
	r[v / 32] &= ~(1u << (v % 32));
}

/* highest: the highest set vector in a 256-bit register, or -1. */
static int highest(const uint32_t *r)
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

/* ppr: processor priority (SDM 3A 11.8.3.1). */
static uint32_t ppr(const struct vlapic *a)
{
	int isrv = highest(a->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
	return (a->tpr & 0xf0) >= isr_class ? a->tpr & 0xff : isr_class;
}

void vlapic_init(struct vlapic *a, struct vcpu *v, uint32_t id, bool bsp)
{
	memset(a, 0, sizeof(*a));
	spin_init(&a->lock, "vlapic");
	a->vcpu = v;
	a->id = id;
	a->dfr = 0xffffffff;
	a->svr = 0xff;
	for (int i = 0; i < 7; i++)
		a->lvt[i] = LVT_MASKED;
	a->apic_base_msr = VLAPIC_BASE | APIC_BASE_ENABLE | (bsp ? APIC_BASE_BSP : 0);
}

bool vlapic_enabled(const struct vlapic *a)
{
	return (a->apic_base_msr & APIC_BASE_ENABLE) && (a->svr & SVR_ENABLED);
}

/* divisor: the timer divide configuration value (SDM 3A figure 11-10). */
static uint64_t divisor(const struct vlapic *a)
{
	uint32_t d = (a->timer_div & 3) | ((a->timer_div >> 1) & 4);
	return d == 7 ? 1 : 2ULL << d;
}

/* period_tsc: host TSC ticks for one full count. */
static uint64_t period_tsc(const struct vlapic *a)
{
	return ns_to_tsc((uint64_t)a->timer_init * divisor(a) * (1000000000ULL / VLAPIC_BUS_HZ));
}

/* arm_count: (re)start the one-shot/periodic count from now (lock held). */
static void arm_count(struct vlapic *a)
{
	a->timer_start = rdtsc();
	a->timer_deadline = a->timer_init ? a->timer_start + MAX(period_tsc(a), 1) : 0;
	a->vcpu->guest_deadline = a->timer_deadline;
}

/* current_count: what the current-count register reads now. */
static uint32_t current_count(const struct vlapic *a)
{
	if (!a->timer_init || LVT_TIMER_MODE(a->lvt[1]) == TIMER_TSC_DEADLINE)
		return 0;
	uint64_t per = period_tsc(a), el = rdtsc() - a->timer_start;
	if (LVT_TIMER_MODE(a->lvt[1]) == TIMER_PERIODIC && per)
		el %= per;
	else if (el >= per)
		return 0;
	uint64_t ticks = muldiv64(tsc_to_ns(el), VLAPIC_BUS_HZ / 1000000000ULL, divisor(a));
	return ticks >= a->timer_init ? 0 : a->timer_init - (uint32_t)ticks;
}

/* kick_target: after state changes that need the target vCPU's attention. */
static void kick_target(struct vlapic *a)
{
	vcpu_kick(a->vcpu);
}

/* vlapic_accept: set IRR (and TMR for level-triggered) for vector. */
void vlapic_accept(struct vlapic *a, uint8_t vector, bool level)
{
	if (vector < 16)
		return; /* illegal vector: would raise a receive error, dropped */
	spin_lock(&a->lock);
	vset(a->irr, vector);
	if (level)
		vset(a->tmr, vector);
	else
		vclr(a->tmr, vector);
	spin_unlock(&a->lock);
	kick_target(a);
}

/* vlapic_pending: highest IRR vector above the processor priority. */
int vlapic_pending(struct vlapic *a)
{
	if (!vlapic_enabled(a))
		return -1;
	spin_lock(&a->lock);
	int v = highest(a->irr);
	if (v >= 0 && ((uint32_t)v & 0xf0) <= (ppr(a) & 0xf0))
		v = -1;
	spin_unlock(&a->lock);
	return v;
}

void vlapic_ack(struct vlapic *a, uint8_t vector)
{
	spin_lock(&a->lock);
	vclr(a->irr, vector);
	vset(a->isr, vector);
	spin_unlock(&a->lock);
}

/* eoi: retire the highest in-service vector; level-triggered ones reach the IOAPIC. */
static void eoi(struct vlapic *a)
{
	spin_lock(&a->lock);
	int v = highest(a->isr);
	bool level = false;
	if (v >= 0) {
		vclr(a->isr, (unsigned)v);
		level = vtest(a->tmr, (unsigned)v);
	}
	spin_unlock(&a->lock);
	if (level)
		vioapic_eoi(&a->vcpu->vm->plat.ioapic, (uint8_t)v);
	if (v >= 0)
		kick_target(a); /* a lower-priority interrupt may now be deliverable */
}

/* vlapic_match_dest: physical id match, broadcast, or logical flat/cluster match. */
bool vlapic_match_dest(const struct vlapic *a, uint32_t dest, bool logical)
{
	if (!logical)
		return dest == 0xff || dest == a->id;
	uint32_t ldr = a->ldr >> 24;
	if (dest == 0xff)
		return true;
	if ((a->dfr >> 28) == 0xf) /* flat model: bitmask */
		return (ldr & dest) != 0;
	/* cluster model: high nibble cluster id, low nibble members */
	return (ldr >> 4) == (dest >> 4) && (ldr & dest & 0xf) != 0;
}

/* deliver_one: act on one target of an IPI according to the delivery mode. */
static void deliver_one(struct vlapic *t, unsigned mode, uint8_t vector, bool level)
{
	struct vcpu *v = t->vcpu;
	switch (mode) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		vlapic_accept(t, vector, level);
		break;
	case APIC_DM_NMI:
		t->nmi_pending = true;
		kick_target(t);
		break;
	case APIC_DM_INIT:
		if (v->id != 0) {
			t->init_pending = true;
			kick_target(t);
		}
		break;
	case APIC_DM_STARTUP:
		if (v->run_state == VCPU_WAIT_SIPI && !v->sipi_pending) {
			v->sipi_vector = vector;
			v->sipi_pending = true;
			kick_target(t);
		}
		break;
	default:
		break; /* SMI, ExtINT via IPI: not supported, dropped */
	}
}

/* send_ipi: route the ICR command to its destinations in the same VM. */
static void send_ipi(struct vlapic *a)
{
	struct vm *vm = a->vcpu->vm;
	uint32_t lo = a->icr_lo, dest = a->icr_hi >> 24;
	unsigned mode = (lo >> 8) & 7, sh = ICR_SHORTHAND(lo);
	uint8_t vector = lo & 0xff;
	bool logical = lo & ICR_LOGICAL, level = (lo >> 15) & 1;
	if (mode == APIC_DM_INIT && !(lo & ICR_LEVEL_ASSERT))
		return; /* INIT level de-assert: no-op on modern CPUs */
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vlapic *t = &vm->vcpu[i]->lapic;
		bool self = t == a;
		bool hit = sh == 1   ? self
		           : sh == 2 ? true
		           : sh == 3 ? !self
		                     : vlapic_match_dest(t, dest, logical);
		if (!hit)
			continue;
		deliver_one(t, mode, vector, level && mode == APIC_DM_FIXED);
		if (mode == APIC_DM_LOWEST && sh == 0)
			break; /* lowest priority: one target is enough */
	}
}

/* write_reg: register writes (lock not held; takes it where state is shared). */
static void write_reg(struct vlapic *a, uint32_t off, uint32_t val)
{
	switch (off) {
	case REG_ID:
		a->id = val >> 24;
		break;
	case REG_TPR:
		a->tpr = val & 0xff;
		kick_target(a);
		break;
	case REG_EOI:
		eoi(a);
		break;
	case REG_LDR:
		a->ldr = val & 0xff000000;
		break;
	case REG_DFR:
		a->dfr = val | 0x0fffffff;
		break;
	case REG_SVR:
		a->svr = val & 0x1ff;
		if (!(a->svr & SVR_ENABLED))
			for (int i = 0; i < 7; i++)
				a->lvt[i] |= LVT_MASKED;
		break;
	case REG_ESR:
		a->esr = 0;
		break;
	case REG_ICR_LO:
		a->icr_lo = val & ~(1u << 12); /* delivery status always idle */
		send_ipi(a);
		break;
	case REG_ICR_HI:
		a->icr_hi = val & 0xff000000;
		break;
	case REG_TIMER_INIT:
		spin_lock(&a->lock);
		a->timer_init = val;
		if (LVT_TIMER_MODE(a->lvt[1]) != TIMER_TSC_DEADLINE)
			arm_count(a);
		spin_unlock(&a->lock);
		break;
	case REG_TIMER_DIV:
		a->timer_div = val & 0xb;
		break;
	default:
		if (off == REG_LVT_CMCI || (off >= REG_LVT_TIMER && off <= REG_LVT_ERROR)) {
			int i = off == REG_LVT_CMCI ? 0 : (int)((off - REG_LVT_TIMER) >> 4) + 1;
			spin_lock(&a->lock);
			uint32_t old = a->lvt[i];
			a->lvt[i] = val & lvt_valid_mask[i];
			if (!(a->svr & SVR_ENABLED))
				a->lvt[i] |= LVT_MASKED;
			if (i == 1 && LVT_TIMER_MODE(old) != LVT_TIMER_MODE(a->lvt[1])) {
				a->timer_deadline = 0; /* a mode switch disarms the timer */
				a->tsc_deadline = 0;
				a->vcpu->guest_deadline = 0;
			}
			spin_unlock(&a->lock);
		}
		break; /* read-only registers ignore writes */
	}
}

/* read_reg: register reads. */
static uint32_t read_reg(struct vlapic *a, uint32_t off)
{
	switch (off) {
	case REG_ID:
		return a->id << 24;
	case REG_VERSION:
		return APIC_VERSION;
	case REG_TPR:
		return a->tpr;
	case REG_APR:
		return 0;
	case REG_PPR:
		return ppr(a);
	case REG_LDR:
		return a->ldr;
	case REG_DFR:
		return a->dfr;
	case REG_SVR:
		return a->svr;
	case REG_ESR:
		return a->esr;
	case REG_ICR_LO:
		return a->icr_lo;
	case REG_ICR_HI:
		return a->icr_hi;
	case REG_TIMER_INIT:
		return a->timer_init;
	case REG_TIMER_CUR:
		return current_count(a);
	case REG_TIMER_DIV:
		return a->timer_div;
	case REG_LVT_CMCI:
		return a->lvt[0];
	default:
		if (off >= REG_ISR && off < REG_ISR + 0x80)
			return a->isr[(off - REG_ISR) >> 4];
		if (off >= REG_TMR && off < REG_TMR + 0x80)
			return a->tmr[(off - REG_TMR) >> 4];
		if (off >= REG_IRR && off < REG_IRR + 0x80)
			return a->irr[(off - REG_IRR) >> 4];
		if (off >= REG_LVT_TIMER && off <= REG_LVT_ERROR)
			return a->lvt[((off - REG_LVT_TIMER) >> 4) + 1];
		return 0;
	}
}

/* vlapic_mmio: 32-bit accesses at 16-byte aligned offsets; others read 0 / are ignored. */
void vlapic_mmio(struct vlapic *a, uint64_t off, unsigned size, bool write, uint64_t *val)
{
	if (!(a->apic_base_msr & APIC_BASE_ENABLE) || (off & 0xf) || size != 4 || off >= 0x1000) {
		if (!write)
			*val = 0;
		return;
	}
	if (write)
		write_reg(a, (uint32_t)off, (uint32_t)*val);
	else
		*val = read_reg(a, (uint32_t)off);
}

/* vlapic_timer_check: deliver an expired timer and re-arm a periodic one. */
void vlapic_timer_check(struct vlapic *a)
{
	uint64_t now = rdtsc();
	spin_lock(&a->lock);
	if (!a->timer_deadline || now < a->timer_deadline) {
		spin_unlock(&a->lock);
		return;
	}
	uint32_t lvt = a->lvt[1];
	if (LVT_TIMER_MODE(lvt) == TIMER_PERIODIC && a->timer_init) {
		uint64_t per = MAX(period_tsc(a), 1);
		uint64_t missed = (now - a->timer_deadline) / per + 1;
		a->timer_deadline += missed * per; /* coalesce missed periods into one interrupt */
	} else {
		a->timer_deadline = 0;
		a->tsc_deadline = 0;
	}
	a->vcpu->guest_deadline = a->timer_deadline;
	spin_unlock(&a->lock);
	if (!(lvt & LVT_MASKED))
		vlapic_accept(a, lvt & 0xff, false);
}

uint64_t vlapic_tsc_deadline_read(struct vlapic *a)
{
	return LVT_TIMER_MODE(a->lvt[1]) == TIMER_TSC_DEADLINE ? a->tsc_deadline : 0;
}

/* vlapic_tsc_deadline_write: arm for a guest TSC value (0 disarms); ignored in other modes. */
void vlapic_tsc_deadline_write(struct vlapic *a, uint64_t guest_tsc)
{
	if (LVT_TIMER_MODE(a->lvt[1]) != TIMER_TSC_DEADLINE)
		return;
	spin_lock(&a->lock);
	a->tsc_deadline = guest_tsc;
	a->timer_deadline = guest_tsc ? MAX(guest_tsc - a->vcpu->tsc_offset, 1) : 0;
	a->vcpu->guest_deadline = a->timer_deadline;
	spin_unlock(&a->lock);
}
