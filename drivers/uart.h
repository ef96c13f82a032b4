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
/* uart_tx_ready: the transmitter is empty (THRE): up to uart_fifo_size() bytes may be sent
 * at once with uart_tx_burst. */
bool uart_tx_ready(uint16_t port);
void uart_tx_burst(uint16_t port, const char *s, size_t n);
size_t uart_fifo_size(void);
/* uart_set_tx_irq: interrupt (into console_tx_irq) when the transmitter empties; only once
 * uart_enable_rx_irq has routed the line. */
void uart_set_tx_irq(uint16_t port, bool on);
/* uart_enable_rx_irq: interrupt on received data, routed through the IOAPIC to this CPU;
 * false if it could not be routed. */
bool uart_enable_rx_irq(uint16_t port, int irq);

#endif
