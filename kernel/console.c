/* The operator console on COM1; see console.h. */
#include "kernel/console.h"
#include "drivers/uart.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"

#define RX_RING 1024

static struct spinlock g_out_lock = SPINLOCK_INIT("console-out");
static struct spinlock g_in_lock = SPINLOCK_INIT("console-in");
static struct waitq g_in_wait;
static char g_rx[RX_RING];
static uint32_t g_rx_head, g_rx_tail; /* free-running */
static volatile bool g_emergency;

void console_init(void)
{
	uart_init(COM1_PORT);
}

void console_set_emergency(void)
{
	g_emergency = true;
}

static char g_last; /* last byte sent, so that "\r\n" is not expanded twice */

/* put_raw: bytes to the UART with a lone \n expanded to \r\n. */
static void put_raw(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' && g_last != '\r')
			uart_putc(COM1_PORT, '\r');
		uart_putc(COM1_PORT, s[i]);
		g_last = s[i];
	}
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

/* console_write: serialised output (lock-free once a panic started). */
void console_write(const char *s, size_t n)
{
	if (capture_write(s, n))
		return;
	if (g_emergency) {
		put_raw(s, n);
		return;
	}
	spin_lock(&g_out_lock);
	put_raw(s, n);
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
