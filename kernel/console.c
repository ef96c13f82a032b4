/* The operator console on COM1; see console.h. */
#include "kernel/console.h"
#include "drivers/uart.h"
#include "kernel/fmt.h"
#include "kernel/panic.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"

#define RX_RING 1024
#define TX_RING (256 * 1024) /* output waiting for the UART */

static struct spinlock g_out_lock = SPINLOCK_INIT("console-out");
static struct spinlock g_in_lock = SPINLOCK_INIT("console-in");
static struct waitq g_in_wait;
static char g_rx[RX_RING];
static uint32_t g_rx_head, g_rx_tail; /* free-running */
static volatile bool g_emergency;

/*
 * Output goes through a ring that the UART drains on its transmitter-empty interrupt, so a
 * thread that prints never waits for the serial line (115200 baud is 11.5 KB/s, and a QEMU
 * console nobody reads never drains at all): when the ring is full, output is dropped and
 * counted, and a marker says so. Before interrupts work (early boot) and after a panic
 * started, output is written synchronously.
 */
static char g_tx[TX_RING];
static uint32_t g_tx_head, g_tx_tail; /* free-running; under g_out_lock */
static uint64_t g_tx_dropped, g_tx_dropped_told;
static bool g_async;

void console_init(void)
{
	uart_init(COM1_PORT);
}

void console_set_emergency(void)
{
	g_emergency = true;
}

static char g_last; /* last byte sent, so that "\r\n" is not expanded twice */

/* put_raw: bytes to the UART with a lone \n expanded to \r\n (synchronous). */
static void put_raw(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' && g_last != '\r')
			uart_putc(COM1_PORT, '\r');
		uart_putc(COM1_PORT, s[i]);
		g_last = s[i];
	}
}

/* tx_pump: move ring bytes into the UART's FIFO while it is empty; ask for an interrupt while
 * bytes remain (g_out_lock held). */
static void tx_pump(void)
{
	while (g_tx_head != g_tx_tail && uart_tx_ready(COM1_PORT)) {
		uint32_t n = MIN(g_tx_head - g_tx_tail, (uint32_t)uart_fifo_size());
		n = MIN(n, TX_RING - g_tx_tail % TX_RING); /* contiguous */
		uart_tx_burst(COM1_PORT, g_tx + g_tx_tail % TX_RING, n);
		g_tx_tail += n;
	}
	uart_set_tx_irq(COM1_PORT, g_tx_head != g_tx_tail);
}

/* tx_put: one byte into the ring; false if it is full. */
static bool tx_put(char c)
{
	if (g_tx_head - g_tx_tail >= TX_RING)
		return false;
	g_tx[g_tx_head++ % TX_RING] = c;
	return true;
}

/* queue_raw: as put_raw, into the ring (g_out_lock held); what does not fit is counted. */
static void queue_raw(const char *s, size_t n)
{
	if (g_tx_dropped != g_tx_dropped_told && g_tx_head - g_tx_tail < TX_RING / 2) {
		char m[80];
		size_t k = fmt_snprintf(m, sizeof(m), "\r\n[console: %llu bytes dropped]\r\n",
		                        (unsigned long long)(g_tx_dropped - g_tx_dropped_told));
		for (size_t i = 0; i < k; i++)
			tx_put(m[i]);
		g_tx_dropped_told = g_tx_dropped;
	}
	for (size_t i = 0; i < n; i++) {
		bool ok = true;
		if (s[i] == '\n' && g_last != '\r')
			ok = tx_put('\r');
		if (ok && tx_put(s[i]))
			g_last = s[i];
		else
			g_tx_dropped++;
	}
}

/* flush_sync: the ring's bytes, synchronously (a panic prints after what came before). */
static void flush_sync(void)
{
	while (g_tx_head != g_tx_tail) {
		uart_putc(COM1_PORT, g_tx[g_tx_tail % TX_RING]);
		g_tx_tail++;
	}
}

void console_start_async(void)
{
	spin_lock(&g_out_lock);
	g_async = true;
	spin_unlock(&g_out_lock);
}

void console_tx_irq(void)
{
	if (g_emergency)
		return;
	spin_lock(&g_out_lock);
	tx_pump();
	spin_unlock(&g_out_lock);
}

/* capture_write: append to the current thread's capture buffer, if it has one. */
static bool capture_write(const char *s, size_t n)
{
	struct thread *t = g_emergency ? NULL : current_or_null();
	struct console_capture *c = t ? t->capture : NULL;
	if (!c)
		return false;
	size_t room = c->cap - c->len;
	if (n > room) {
		n = room;
		c->truncated = true;
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
	return true;
}

void console_capture_begin(struct console_capture *c, char *buf, size_t cap)
{
	c->buf = buf;
	c->cap = cap;
	c->len = 0;
	c->truncated = false;
	current()->capture = c;
}

void console_capture_end(void)
{
	current()->capture = NULL;
}

/*
 * The shell's line in progress: a log line from another thread must not split what the
 * operator is typing (or a script's echoed command), so it erases the line, prints, and
 * redraws the prompt and line after itself, as readline-style editors do. The redraw starts
 * on the fresh line the message ended with, so the typed text stays one unbroken run of
 * bytes (a script waiting for its echoed command still finds it).
 */
static char g_edit[CONSOLE_EDIT_MAX];
static size_t g_edit_len; /* 0: no line is being edited; under g_out_lock */

/* out_locked: bytes to the UART ring, or straight out before interrupts (g_out_lock held). */
static void out_locked(const char *s, size_t n)
{
	if (g_async) {
		queue_raw(s, n);
		tx_pump();
	} else {
		put_raw(s, n);
	}
}

/* write_common: serialised output, with the edit line taken down and put back around it if
 * `interrupting` (lock-free once a panic started). */
static void write_common(const char *s, size_t n, bool interrupting)
{
	if (capture_write(s, n))
		return;
	if (g_emergency) {
		flush_sync();
		put_raw(s, n);
		return;
	}
	static const char erase[] = "\r\x1b[K"; /* column 0, erase to end of line (ECMA-48 EL) */
	spin_lock(&g_out_lock);
	bool redraw = interrupting && g_edit_len;
	if (redraw)
		out_locked(erase, sizeof(erase) - 1);
	out_locked(s, n);
	if (redraw)
		out_locked(g_edit, g_edit_len);
	spin_unlock(&g_out_lock);
}

void console_write(const char *s, size_t n)
{
	write_common(s, n, false);
}

void console_write_log(const char *s, size_t n)
{
	write_common(s, n, true);
}

void console_edit_write(const char *echo, size_t n, const char *redraw, size_t rn)
{
	ASSERT(rn <= sizeof(g_edit));
	if (g_emergency) {
		put_raw(echo, n);
		return;
	}
	spin_lock(&g_out_lock);
	out_locked(echo, n);
	memcpy(g_edit, redraw, rn);
	g_edit_len = rn;
	spin_unlock(&g_out_lock);
}

void console_puts(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	console_write(s, n);
}

/* console_input: queue received bytes; drop them when the ring is full. */
void console_input(const char *s, size_t n)
{
	spin_lock(&g_in_lock);
	for (size_t i = 0; i < n; i++) {
		if (g_rx_head - g_rx_tail >= RX_RING)
			break;
		g_rx[g_rx_head++ % RX_RING] = s[i];
	}
	waitq_wake_all(&g_in_wait);
	spin_unlock(&g_in_lock);
}

/* console_getc_timeout: wait for a byte until the deadline (0 ms = forever). */
int console_getc_timeout(uint64_t timeout_ms)
{
	uint64_t deadline = timeout_ms ? deadline_ms(timeout_ms) : 0;
	int c = -1;
	spin_lock(&g_in_lock);
	while (g_rx_head == g_rx_tail) {
		if (!waitq_wait(&g_in_wait, &g_in_lock, deadline))
			break;
	}
	if (g_rx_head != g_rx_tail)
		c = (unsigned char)g_rx[g_rx_tail++ % RX_RING];
	spin_unlock(&g_in_lock);
	return c;
}

int console_getc(void)
{
	return console_getc_timeout(0);
}

/* console_write_text: untrusted text (files, guest names): control bytes shown as '?'. */
void console_write_text(const char *s, size_t n)
{
	char buf[128];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			c = '?';
		buf[k++] = c;
		if (k == sizeof(buf)) {
			console_write(buf, k);
			k = 0;
		}
	}
	if (k)
		console_write(buf, k);
	if (n && s[n - 1] != '\n')
		console_write("\n", 1);
}
