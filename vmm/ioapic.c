/* Emulated IOAPIC; see ioapic.h. */
#include "vmm/ioapic.h"
#include "kernel/string.h"
#include "vmm/platform.h"
#include "vmm/vm.h"

#define REDIR_VECTOR(e)  ((uint8_t)((e)&0xff))
#define REDIR_MODE(e)    (((e) >> 8) & 7)
#define REDIR_LOGICAL    (1ULL << 11)
#define REDIR_REMOTE_IRR (1ULL << 14)
#define REDIR_LEVEL      (1ULL << 15)
#define REDIR_MASKED     (1ULL << 16)
#define REDIR_DEST(e)    ((uint32_t)((e) >> 56))
#define REDIR_RW_MASK    0xff0000000001afffULL /* all but delivery status and Remote IRR */

void vioapic_init(struct vioapic *io, struct vm *vm)
{
	memset(io, 0, sizeof(*io));
	spin_init(&io->lock, "vioapic");
	io->vm = vm;
	for (int i = 0; i < VIOAPIC_PINS; i++)
		io->redir[i] = REDIR_MASKED;
}

/* deliver: send the pin's vector to its destination LAPIC(s) (lock not held). */
static void deliver(struct vioapic *io, uint64_t e)
{
	struct vm *vm = io->vm;
	unsigned mode = REDIR_MODE(e);
	bool logical = e & REDIR_LOGICAL;
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vlapic *a = &vm->vcpu[i]->lapic;
		if (!vlapic_match_dest(a, REDIR_DEST(e), logical))
			continue;
		if (mode == APIC_DM_NMI) {
			a->nmi_pending = true;
			vcpu_kick(a->vcpu);
		} else if (mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) {
			vlapic_accept(a, REDIR_VECTOR(e), e & REDIR_LEVEL);
			if (mode == APIC_DM_LOWEST)
				break;
		}
	}
}

/* service: fire pin if it is asserted, unmasked and (for level) not awaiting EOI. */
static bool service(struct vioapic *io, unsigned pin, uint64_t *fire)
{
	uint64_t e = io->redir[pin];
	if (e & REDIR_MASKED || !((io->level >> pin) & 1))
		return false;
	if (e & REDIR_LEVEL) {
		if (e & REDIR_REMOTE_IRR)
			return false;
		io->redir[pin] |= REDIR_REMOTE_IRR;
	}
	*fire = io->redir[pin];
	return true;
}

void vioapic_set_irq(struct vioapic *io, unsigned pin, bool level)
{
	if (pin >= VIOAPIC_PINS)
		return;
	uint64_t fire = 0;
	bool go = false;
	spin_lock(&io->lock);
	bool was = (io->level >> pin) & 1;
	if (level)
		io->level |= 1u << pin;
	else
		io->level &= ~(1u << pin);
	if (level && (!was || (io->redir[pin] & REDIR_LEVEL)))
		go = service(io, pin, &fire);
	spin_unlock(&io->lock);
	if (go)
		deliver(io, fire);
}

void vioapic_eoi(struct vioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++) {
		uint64_t fire = 0;
		bool go = false;
		spin_lock(&io->lock);
		uint64_t e = io->redir[pin];
		if ((e & REDIR_LEVEL) && (e & REDIR_REMOTE_IRR) && REDIR_VECTOR(e) == vector) {
			io->redir[pin] &= ~REDIR_REMOTE_IRR;
			go = service(io, pin, &fire); /* still asserted: deliver again */
		}
		spin_unlock(&io->lock);
		if (go)
			deliver(io, fire);
	}
}

/* read_reg / write_reg: the indirect registers (ID, version, arbitration, redirection). */
static uint32_t read_reg(struct vioapic *io, uint32_t r)
{
	if (r == 0)
		return io->id << 24;
	if (r == 1)
		return ((VIOAPIC_PINS - 1) << 16) | 0x11;
	if (r == 2)
		return io->id << 24;
	if (r >= 0x10 && r < 0x10 + 2 * VIOAPIC_PINS) {
		uint64_t e = io->redir[(r - 0x10) / 2];
		return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0;
}

static void write_reg(struct vioapic *io, uint32_t r, uint32_t val, uint64_t *fire, bool *go)
{
	if (r == 0) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (r < 0x10 || r >= 0x10 + 2 * VIOAPIC_PINS)
		return;
	unsigned pin = (r - 0x10) / 2;
	uint64_t e = io->redir[pin];
	if (r & 1)
		e = (e & 0xffffffffULL) | ((uint64_t)val << 32);
	else
		e = (e & ~0xffffffffULL) | val;
	io->redir[pin] = (io->redir[pin] & ~REDIR_RW_MASK) | (e & REDIR_RW_MASK);
	if (!(io->redir[pin] & REDIR_LEVEL))
		io->redir[pin] &= ~REDIR_REMOTE_IRR;
	*go = service(io, pin, fire); /* unmasking an asserted level line fires it */
}

void vioapic_mmio(void *dev, struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
	struct vioapic *io = dev;
	uint64_t off = gpa - GUEST_IOAPIC_BASE;
	uint64_t fire = 0;
	bool go = false;
	(void)v;
	if (size != 4) {
		if (!write)
			*val = 0;
		return;
	}
	spin_lock(&io->lock);
	if (off == 0x00) {
		if (write)
			io->regsel = (uint32_t)*val & 0xff;
		else
			*val = io->regsel;
	} else if (off == 0x10) {
		if (write)
			write_reg(io, io->regsel, (uint32_t)*val, &fire, &go);
		else
			*val = read_reg(io, io->regsel);
	} else if (!write) {
		*val = 0;
	}
	spin_unlock(&io->lock);
	if (go)
		deliver(io, fire);
	if (write && off == 0x40)
		vioapic_eoi(io, (uint8_t)*val); /* directed EOI register */
}
