/*
 * The operator console: the COM1 UART, plus optional extra output sinks (later: a network
 * console). Output goes out polled, under a lock, with \n expanded to \r\n; input arrives by
 * the UART receive interrupt into a ring that console_getc() sleeps on.
 */
#ifndef TERN_CONSOLE_H
#define TERN_CONSOLE_H

#include "kernel/compiler.h"

void console_init(void);
/* console_write: raw bytes to the console (\n becomes \r\n). */
void console_write(const char *s, size_t n);
/* console_write_log: a log line that may arrive while the shell is editing a line: the line
 * is erased, the message written, and the prompt and line redrawn after it. */
void console_write_log(const char *s, size_t n);
/* console_edit_write: the shell's echo bytes, plus the bytes that redraw the line being
 * edited from column 0 (rn = 0 when no line is being edited, e.g. a command runs). */
#define CONSOLE_EDIT_MAX 1280
void console_edit_write(const char *echo, size_t n, const char *redraw, size_t rn);
/* console_puts: a NUL-terminated string. */
void console_puts(const char *s);
/* console_write_text: untrusted text with control characters replaced by '?'. */
void console_write_text(const char *s, size_t n);
/* Console output of one thread collected in a buffer instead of printed (remote commands). */
struct console_capture {
	char *buf;
	size_t len, cap;
	bool truncated;
};
/* console_capture_begin / end: redirect the current thread's console output. */
void console_capture_begin(struct console_capture *c, char *buf, size_t cap);
void console_capture_end(void);
/* console_getc: next input byte; sleeps until one arrives. */
int console_getc(void);
/* console_getc_timeout: next input byte or -1 after timeout_ms. */
int console_getc_timeout(uint64_t timeout_ms);
/* console_input: feed received bytes (from the UART interrupt). */
void console_input(const char *s, size_t n);
/* console_start_async: from now on output is queued and sent by the UART's transmit
 * interrupt (once uart_enable_rx_irq routed it): printing never waits for the line. */
void console_start_async(void);
/* console_tx_irq: the UART can take more bytes (interrupt context). */
void console_tx_irq(void);
/* console_set_emergency: after a panic, write without taking the (maybe held) lock. */
void console_set_emergency(void);

#endif
