/* kprintf and the kernel log ring; see log.h. */
#include "kernel/log.h"
#include "kernel/console.h"
#include "kernel/fmt.h"
#include "kernel/spinlock.h"
#include "kernel/time.h"

static char g_ring[LOG_RING_SIZE];
static uint64_t g_written; /* total bytes ever written; the ring keeps the last LOG_RING_SIZE */
static struct spinlock g_lock = SPINLOCK_INIT("log");

/* kprintf: format and write to the console. */
int kprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = fmt_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console_write(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
	return n;
}

/* ring_append: add bytes to the ring (lock held). */
static void ring_append(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		g_ring[g_written++ % LOG_RING_SIZE] = s[i];
}

/* vlog: "[seconds.micros] message\n" into the ring, and to the console if echo. */
static void vlog(bool echo, const char *fmt, va_list ap)
{
	char buf[512];
	uint64_t ns = time_ns();
	int h = fmt_snprintf(buf, sizeof(buf), "[%5llu.%06llu] ",
	                     (unsigned long long)(ns / 1000000000ULL),
	                     (unsigned long long)(ns / 1000 % 1000000));
	int n = fmt_vsnprintf(buf + h, sizeof(buf) - h - 1, fmt, ap);
	size_t len = (size_t)h + (n < (int)(sizeof(buf) - h - 1) ? (size_t)n : sizeof(buf) - h - 2);
	buf[len++] = '\n';
	spin_lock(&g_lock);
	ring_append(buf, len);
	spin_unlock(&g_lock);
	if (echo)
		console_write_log(buf, len);
}

void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(true, fmt, ap);
	va_end(ap);
}

void klog_quiet(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(false, fmt, ap);
	va_end(ap);
}

/* log_read: read from the oldest byte still kept, at offset pos. */
size_t log_read(size_t pos, char *buf, size_t cap)
{
	spin_lock(&g_lock);
	uint64_t oldest = g_written > LOG_RING_SIZE ? g_written - LOG_RING_SIZE : 0;
	uint64_t start = oldest + pos;
	size_t n = 0;
	while (n < cap && start + n < g_written) {
		buf[n] = g_ring[(start + n) % LOG_RING_SIZE];
		n++;
	}
	spin_unlock(&g_lock);
	return n;
}
