/* 16550 UART driver: interrupt-driven receive into the console; transmit polled (early boot,
 * panics) or driven by the transmitter-empty interrupt (console.c's output ring). */
#include "drivers/uart.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "kernel/trap.h"
#include "kernel/x86.h"

/* Register offsets from the base port. */
#define UART_RBR 0 /* receive buffer (read, DLAB=0) */
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_IIR 2 /* interrupt identification (read) */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */

#define LCR_DLAB         0x80
#define LCR_8N1          0x03
#define FCR_FIFO         0xc7 /* enable, clear both FIFOs, 14-byte trigger */
#define MCR_DTR_RTS_OUT2 0x0b /* OUT2 gates the interrupt line on PCs */
#define LSR_DR           0x01 /* data ready */
#define LSR_THRE         0x20 /* transmit holding register empty */
#define IER_RDA          0x01 /* received data available interrupt */
#define IER_THRI         0x02 /* transmit holding register empty interrupt */
#define UART_FIFO_SIZE   16   /* 16550A transmit FIFO: bytes that fit once THRE is set */

/* uart_init: program divisor 1 (115200 baud from the 1.8432 MHz clock) and 8N1. */
void uart_init(uint16_t port)
{
	outb(port + UART_IER, 0);
	outb(port + UART_LCR, LCR_DLAB);
	outb(port + UART_DLL, 1);
	outb(port + UART_DLM, 0);
	outb(port + UART_LCR, LCR_8N1);
	outb(port + UART_FCR, FCR_FIFO);
	outb(port + UART_MCR, MCR_DTR_RTS_OUT2);
	(void)inb(port + UART_RBR);
}

/* uart_putc: wait (bounded, in case no UART is there) for THRE, then send. */
void uart_putc(uint16_t port, char c)
{
	for (int i = 0; i < 1000000 && !(inb(port + UART_LSR) & LSR_THRE); i++)
		cpu_relax();
	outb(port + UART_THR, (uint8_t)c);
}

bool uart_tx_ready(uint16_t port)
{
	return inb(port + UART_LSR) & LSR_THRE;
}

void uart_tx_burst(uint16_t port, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		outb(port + UART_THR, (uint8_t)s[i]);
}

size_t uart_fifo_size(void)
{
	return UART_FIFO_SIZE;
}

static uint16_t g_rx_port;
static bool g_irq_ok;

void uart_set_tx_irq(uint16_t port, bool on)
{
	if (g_irq_ok)
		outb(port + UART_IER, IER_RDA | (on ? IER_THRI : 0));
}

/* rx_irq: drain the receive FIFO into the console input ring, then let the console refill
 * the transmitter (the same interrupt line signals both; PC16550D "Interrupt Identification"). */
static void rx_irq(void *arg)
{
	(void)arg;
	(void)inb(g_rx_port + UART_IIR); /* acknowledges a THRE interrupt */
	char buf[32];
	size_t n = 0;
	while (inb(g_rx_port + UART_LSR) & LSR_DR) {
		buf[n++] = (char)inb(g_rx_port + UART_RBR);
		if (n == sizeof(buf)) {
			console_input(buf, n);
			n = 0;
		}
	}
	if (n)
		console_input(buf, n);
	console_tx_irq();
}

/* uart_enable_rx_irq: vector, IOAPIC route to this CPU, then IER. */
bool uart_enable_rx_irq(uint16_t port, int irq)
{
	int vec = irq_alloc_vector();
	g_rx_port = port;
	irq_register(vec, rx_irq, NULL);
	if (!ioapic_route_isa(irq, vec, lapic_id())) {
		klog("uart: cannot route IRQ %d; console input will not work", irq);
		return false;
	}
	outb(port + UART_IER, IER_RDA);
	g_irq_ok = true;
	rx_irq(NULL); /* anything typed before now */
	return true;
}
