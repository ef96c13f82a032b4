/* 16550-compatible UART (National Semiconductor PC16550D datasheet). */
#ifndef TERN_UART_H
#define TERN_UART_H

#include "kernel/compiler.h"

#define COM1_PORT 0x3f8
#define COM1_IRQ  4

/* uart_init: 115200 baud, 8N1, FIFOs on, interrupts off. */
void uart_init(uint16_t port);
/* uart_putc: transmit one byte (waits for the holding register, bounded). */
void uart_putc(uint16_t port, char c);
/* uart_enable_rx_irq: interrupt on received data, routed through the IOAPIC to this CPU. */
void uart_enable_rx_irq(uint16_t port, int irq);

#endif
