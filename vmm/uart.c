/* Emulated 16550A; transmitted bytes go to the VM's console buffer. See uart.h. */
#include "vmm/uart.h"
#include "kernel/string.h"
#include "vmm/gconsole.h"
#include "vmm/platform.h"
#include "vmm/vm.h"

#define RBR 0
#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define IER_RDA    0x01
#define IER_THRE   0x02
#define IER_RLS    0x04
#define IER_MS     0x08
#define LCR_DLAB   0x80
#define MCR_LOOP   0x10
#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_THRE   0x20
#define LSR_TEMT   0x40
#define FCR_ENABLE 0x01

void vuart_init(struct vuart *u, struct vm *vm, uint16_t base, unsigned irq)
{
	memset(u, 0, sizeof(*u));
	spin_init(&u->lock, "vuart");
	u->vm = vm;
	u->base = base;
	u->irq = irq;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = 0xb0; /* DCD, DSR, CTS asserted */
	u->divisor = 12;
}

/* iir: the highest-priority pending interrupt identification (datasheet table 4). */
static uint8_t iir(const struct vuart *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? 0xc0 : 0;
	if ((u->ier & IER_RLS) && (u->lsr & LSR_OE))
		return fifo | 0x06;
	if ((u->ier & IER_RDA) && u->rx_count)
		return fifo | 0x04;
	if ((u->ier & IER_THRE) && u->thre_pending)
		return fifo | 0x02;
	return fifo | 0x01; /* none */
}

/* update_irq: drive the interrupt line from the pending conditions (lock held). */
static void update_irq(struct vuart *u, bool *changed, bool *level)
{
	bool l = (iir(u) & 1) == 0 && (u->mcr & 0x08); /* OUT2 gates the line on PCs */
	*changed = l != u->irq_level;
	*level = l;
	u->irq_level = l;
}

/* rx_push: one byte into the receive FIFO (lock held). */
static bool rx_push(struct vuart *u, uint8_t c)
{
	if (u->rx_count >= VUART_FIFO) {
		u->lsr |= LSR_OE;
		return false;
	}
	u->rx[(u->rx_head + u->rx_count++) % VUART_FIFO] = c;
	u->lsr |= LSR_DR;
	return true;
}

/* write_reg: register writes. */
static void write_reg(struct vuart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case THR:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (u->divisor & 0xff00) | v;
			break;
		}
		if (u->mcr & MCR_LOOP)
			rx_push(u, v);
		else
			gconsole_output(u->vm, (const char *)&v, 1);
		u->thre_pending = true; /* transmitted at once: THR is empty again */
		break;
	case IER:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (u->divisor & 0xff) | (uint16_t)(v << 8);
			break;
		}
		if (!(u->ier & IER_THRE) && (v & IER_THRE))
			u->thre_pending = true; /* enabling THRE with THR empty interrupts */
		u->ier = v & 0x0f;
		break;
	case FCR:
		u->fcr = v & 0xc9;
		if (v & 0x02) { /* clear receive FIFO */
			u->rx_count = 0;
			u->lsr &= ~LSR_DR;
		}
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		u->mcr = v & 0x1f;
		break;
	case SCR:
		u->scr = v;
		break;
	default:
		break;
	}
}

/* read_reg: register reads, with their side effects. */
static uint8_t read_reg(struct vuart *u, unsigned reg)
{
	uint8_t v = 0;
	switch (reg) {
	case RBR:
		if (u->lcr & LCR_DLAB)
			return u->divisor & 0xff;
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % VUART_FIFO;
			if (--u->rx_count == 0)
				u->lsr &= ~LSR_DR;
		}
		return v;
	case IER:
		return (u->lcr & LCR_DLAB) ? u->divisor >> 8 : u->ier;
	case IIR:
		v = iir(u);
		if ((v & 0x0f) == 0x02)
			u->thre_pending = false; /* reading IIR clears a THRE interrupt */
		return v;
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		v = u->lsr;
		u->lsr &= ~LSR_OE;
		return v;
	case MSR:
		if (u->mcr & MCR_LOOP) /* loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
			return (uint8_t)(((u->mcr & 1) << 5) | ((u->mcr & 2) << 3) |
			                 ((u->mcr & 4) << 4) | ((u->mcr & 8) << 4));
		return u->msr;
	case SCR:
		return u->scr;
	default:
		return 0xff;
	}
}

void vuart_pio(void *dev, struct vcpu *v, uint16_t port, unsigned size, bool write, uint32_t *val)
{
	struct vuart *u = dev;
	unsigned reg = (port - u->base) & 7;
	bool changed, level;
	(void)v;
	(void)size;
	spin_lock(&u->lock);
	if (write)
		write_reg(u, reg, (uint8_t)*val);
	else
		*val = read_reg(u, reg);
	update_irq(u, &changed, &level);
	spin_unlock(&u->lock);
	if (changed)
		platform_set_irq(u->vm, u->irq, level);
}

size_t vuart_receive(struct vuart *u, const char *s, size_t n)
{
	size_t done = 0;
	bool changed, level;
	spin_lock(&u->lock);
	while (done < n && u->rx_count < VUART_FIFO)
		rx_push(u, (uint8_t)s[done++]);
	update_irq(u, &changed, &level);
	spin_unlock(&u->lock);
	if (changed)
		platform_set_irq(u->vm, u->irq, level);
	return done;
}
