/* Emulated 8259A PIC pair (Intel 8259A datasheet); see pic.h. */
#include "vmm/pic.h"
#include "kernel/string.h"
#include "vmm/vm.h"

/* priority: highest-priority set bit in mask with rotation, as 0..7, or 8 if none. */
static int priority(const struct pic_chip *c, uint8_t mask)
{
	if (!mask)
		return 8;
	int p = 0;
	while (!(mask & (1u << ((p + c->priority_add) & 7))))
		p++;
	return p;
}

/* chip_irq: the IRQ (0..7) this chip would present, or -1. */
static int chip_irq(const struct pic_chip *c, bool is_master)
{
	int p = priority(c, c->irr & ~c->imr);
	if (p == 8)
		return -1;
	uint8_t in_service = c->isr;
	if (c->special_mask)
		in_service &= ~c->imr;
	if (is_master && !c->single)
		in_service &= ~(1u << 2); /* fully nested: the cascade line does not block */
	if (p < priority(c, in_service))
		return (p + c->priority_add) & 7;
	return -1;
}

/* update: recompute the cascade and the output line; kick the BSP on a new interrupt. */
static void update(struct vpic *p)
{
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	if (chip_irq(s, false) >= 0)
		m->irr |= 1u << 2;
	else
		m->irr &= ~(1u << 2);
	bool out = chip_irq(m, true) >= 0;
	bool rise = out && !p->output;
	p->output = out;
	if (rise && p->vm->nvcpus)
		vcpu_kick(p->vm->vcpu[0]);
}

/* chip_set: drive one input of a chip (edge or level per ELCR). */
static void chip_set(struct pic_chip *c, unsigned irq, bool level)
{
	uint8_t bit = 1u << irq;
	if (c->elcr & bit) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= ~bit;
	} else if (level && !(c->last_level & bit)) {
		c->irr |= bit;
	}
	if (level)
		c->last_level |= bit;
	else
		c->last_level &= ~bit;
}

void vpic_init(struct vpic *p, struct vm *vm)
{
	memset(p, 0, sizeof(*p));
	spin_init(&p->lock, "vpic");
	p->vm = vm;
	p->chip[0].elcr_mask = 0xf8; /* IRQ 0, 1, 2 are always edge */
	p->chip[1].elcr_mask = 0xde; /* IRQ 8 and 13 are always edge */
	p->chip[0].imr = p->chip[1].imr = 0xff;
}

void vpic_set_irq(struct vpic *p, unsigned irq, bool level)
{
	if (irq >= 16 || irq == 2)
		return;
	spin_lock(&p->lock);
	chip_set(&p->chip[irq >> 3], irq & 7, level);
	update(p);
	spin_unlock(&p->lock);
}

bool vpic_has_interrupt(struct vpic *p)
{
	return READ_ONCE(p->output);
}

/* chip_ack: INTA on one chip: ISR set (unless auto-EOI), edge IRR cleared. */
static void chip_ack(struct pic_chip *c, int irq)
{
	uint8_t bit = 1u << irq;
	if (c->auto_eoi) {
		if (c->priority_add == 0xff) /* rotate on auto-EOI */
			c->priority_add = (uint8_t)((irq + 1) & 7);
	} else {
		c->isr |= bit;
	}
	if (!(c->elcr & bit))
		c->irr &= ~bit;
}

uint8_t vpic_ack(struct vpic *p)
{
	spin_lock(&p->lock);
	struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
	int irq = chip_irq(m, true);
	uint8_t vector;
	if (irq < 0) {
		vector = m->base | 7; /* spurious IRQ 7 */
	} else if (irq == 2) {
		int sirq = chip_irq(s, false);
		if (sirq < 0)
			sirq = 7; /* spurious IRQ 15 */
		else
			chip_ack(s, sirq);
		chip_ack(m, 2);
		vector = (uint8_t)(s->base | sirq);
	} else {
		chip_ack(m, irq);
		vector = (uint8_t)(m->base | irq);
	}
	update(p);
	spin_unlock(&p->lock);
	return vector;
}

/* write_cmd: ICW1, OCW2 (EOI variants, rotation) or OCW3 (register select, poll). */
static void write_cmd(struct pic_chip *c, uint8_t v)
{
	if (v & 0x10) { /* ICW1 */
		c->init_step = 2;
		c->icw4 = v & 1;
		c->single = (v >> 1) & 1;
		c->imr = c->isr = c->irr = 0;
		c->priority_add = 0;
		c->read_isr = c->special_mask = c->auto_eoi = 0;
		return;
	}
	if (v & 0x08) { /* OCW3 */
		if (v & 0x04)
			c->poll = 1;
		if (v & 0x02)
			c->read_isr = v & 1;
		if (v & 0x40)
			c->special_mask = (v >> 5) & 1;
		return;
	}
	unsigned cmd = v >> 5; /* OCW2 */
	switch (cmd) {
	case 0: /* rotate in auto-EOI mode clear */
	case 4: /* set */
		c->priority_add = cmd == 4 ? 0xff : 0;
		break;
	case 1:   /* non-specific EOI */
	case 5: { /* rotate on non-specific EOI */
		int p = priority(c, c->isr);
		if (p != 8) {
			int irq = (p + c->priority_add) & 7;
			c->isr &= ~(1u << irq);
			if (cmd == 5)
				c->priority_add = (uint8_t)((irq + 1) & 7);
		}
		break;
	}
	case 3: /* specific EOI */
		c->isr &= ~(1u << (v & 7));
		break;
	case 6: /* set priority */
		c->priority_add = (uint8_t)((v + 1) & 7);
		break;
	case 7: /* rotate on specific EOI */
		c->isr &= ~(1u << (v & 7));
		c->priority_add = (uint8_t)((v + 1) & 7);
		break;
	default:
		break;
	}
}

/* write_data: ICW2-ICW4 during initialisation, else OCW1 (the mask). */
static void write_data(struct pic_chip *c, uint8_t v)
{
	switch (c->init_step) {
	case 2:
		c->base = v & 0xf8;
		c->init_step = c->single ? (c->icw4 ? 4 : 0) : 3;
		break;
	case 3:
		c->init_step = c->icw4 ? 4 : 0;
		break;
	case 4:
		c->auto_eoi = (v >> 1) & 1;
		c->init_step = 0;
		break;
	default:
		c->imr = v;
		break;
	}
}

/* poll_read: OCW3 poll mode: acknowledge and return 0x80 | irq, or 0. */
static uint8_t poll_read(struct pic_chip *c, bool is_master)
{
	c->poll = 0;
	int irq = chip_irq(c, is_master);
	if (irq < 0)
		return 0;
	chip_ack(c, irq);
	return (uint8_t)(0x80 | irq);
}

void vpic_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val)
{
	struct vpic *p = dev;
	(void)v;
	(void)size;
	spin_lock(&p->lock);
	if (port == 0x4d0 || port == 0x4d1) {
		struct pic_chip *c = &p->chip[port & 1];
		if (write)
			c->elcr = (uint8_t)*val & c->elcr_mask;
		else
			*val = c->elcr;
	} else {
		int idx = port >= 0xa0;
		struct pic_chip *c = &p->chip[idx];
		bool data = port & 1;
		if (write && data)
			write_data(c, (uint8_t)*val);
		else if (write)
			write_cmd(c, (uint8_t)*val);
		else if (c->poll)
			*val = poll_read(c, idx == 0);
		else if (data)
			*val = c->imr;
		else
			*val = c->read_isr ? c->isr : c->irr;
	}
	if (write)
		update(p);
	spin_unlock(&p->lock);
}
