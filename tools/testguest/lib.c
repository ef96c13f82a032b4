/* Tern test guest: output protocol, formatting, strings, command line, memory map, time. */
#include "tg.h"

bool g_out_com1 = true, g_out_e9 = true;
const char *g_test; /* set at run time: no pointers in initialised data (PIC) */
struct tg_env g_env;
static unsigned g_checks_failed;
static char g_failed_names[160];

/* ---- strings ------------------------------------------------------------------------------- */
void *memset(void *d, int c, size_t n)
{
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return r;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i] || !a[i])
			return (uint8_t)a[i] - (uint8_t)b[i];
	}
	return 0;
}

bool streq_n(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncmp(a, b, alen) == 0;
}

/* ---- formatting: %s %c %d %u %x %p with l/ll, width and 0 flag ------------------------------- */
struct sink {
	char *buf;
	size_t cap, len;
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->cap)
		s->buf[s->len] = c;
	s->len++;
}

static void put_num(struct sink *s, uint64_t v, unsigned base, bool neg, int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		put(s, pad);
	while (n)
		put(s, tmp[--n]);
}

int tg_vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct sink s = {buf, cap, 0};
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&s, *fmt);
			continue;
		}
		fmt++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*fmt == '0') {
			pad = '0';
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int n = (int)strlen(str);
			for (int i = n; i < width; i++)
				put(&s, ' ');
			while (*str)
				put(&s, *str++);
			break;
		}
		case 'c':
			put(&s, (char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(&s, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
			put_num(&s, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false,
			        width, pad);
			break;
		case 'x':
			put_num(&s, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, false,
			        width, pad);
			break;
		case 'p':
			put(&s, '0');
			put(&s, 'x');
			put_num(&s, (uint64_t)va_arg(ap, void *), 16, false, width, pad);
			break;
		case '%':
			put(&s, '%');
			break;
		default:
			put(&s, '?');
			break;
		}
	}
	if (cap)
		buf[s.len < cap ? s.len : cap - 1] = 0;
	return (int)s.len;
}

int tg_snprintf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = tg_vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- output --------------------------------------------------------------------------------- */
void out_init(void)
{
	outb(COM1 + 1, 0x00); /* IER: no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0xc7); /* FIFOs on, cleared */
	outb(COM1 + 4, 0x03); /* DTR, RTS; OUT2 (the IRQ gate) off */
}

/* emit: a whole line on each enabled output (a line never interleaves with its copy). */
static void emit(const char *s, size_t n)
{
	if (g_out_com1) {
		for (size_t i = 0; i < n; i++) {
			for (unsigned spin = 0; !(inb(COM1 + 5) & 0x20) && spin < 1000000; spin++)
				pause();
			outb(COM1, (uint8_t)s[i]);
		}
	}
	if (g_out_e9) {
		for (size_t i = 0; i < n; i++)
			outb(PORT_E9, (uint8_t)s[i]);
	}
}

static void vsay(const char *fmt, va_list ap)
{
	char line[600];
	memcpy(line, "TGUEST ", 7);
	int n = tg_vsnprintf(line + 7, sizeof(line) - 9, fmt, ap);
	size_t len = 7 + ((size_t)n < sizeof(line) - 10 ? (size_t)n : sizeof(line) - 10);
	line[len++] = '\r';
	line[len++] = '\n';
	emit(line, len);
}

void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

bool check(bool ok, const char *name, const char *fmt, ...)
{
	char detail[400];
	va_list ap;
	va_start(ap, fmt);
	tg_vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	say("CHECK %s.%s %s %s", g_test, name, ok ? "ok" : "FAIL", detail);
	if (!ok) {
		size_t l = strlen(g_failed_names);
		if (g_checks_failed++ < 8 && l + strlen(name) + 2 < sizeof(g_failed_names))
			tg_snprintf(g_failed_names + l, sizeof(g_failed_names) - l, "%s%s",
			            l ? "," : "", name);
	}
	return ok;
}

void test_begin(const char *name)
{
	g_test = name;
	g_checks_failed = 0;
	g_failed_names[0] = 0;
	say("START %s", name);
}

bool test_end(void)
{
	if (g_checks_failed)
		say("DONE %s FAIL %u checks failed: %s", g_test, g_checks_failed, g_failed_names);
	else
		say("DONE %s ok", g_test);
	return g_checks_failed == 0;
}

void fail_stop(const char *why)
{
	say("DONE %s FAIL %s", g_test, why);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- command line --------------------------------------------------------------------------- */
const char *opt(const char *key, size_t *len)
{
	const char *p = g_env.cmdline;
	size_t kl = strlen(key);
	if (!p)
		return NULL;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *tok = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - tok) > 7 + kl && !strncmp(tok, "tguest.", 7) &&
		    !strncmp(tok + 7, key, kl) && tok[7 + kl] == '=') {
			*len = (size_t)(p - tok) - 8 - kl;
			return tok + 8 + kl;
		}
	}
	return NULL;
}

uint64_t opt_u64(const char *key, uint64_t dflt)
{
	size_t n;
	const char *v = opt(key, &n);
	if (!v || !n)
		return dflt;
	uint64_t r = 0;
	unsigned base = 10;
	size_t i = 0;
	if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X'))
		base = 16, i = 2;
	for (; i < n; i++) {
		char c = v[i];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
		             : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
		             : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
		                                    : 99;
		if (d >= base)
			return dflt;
		r = r * base + d;
	}
	return r;
}

/* ---- memory map (boot_params e820 table: count at 0x1e8, entries at 0x2d0) ----------------- */
#define ZP_E820_COUNT 0x1e8
#define ZP_E820_TABLE 0x2d0

bool e820_is_ram(uint64_t addr, uint64_t len)
{
	const uint8_t *zp = g_env.boot_params;
	unsigned n = zp[ZP_E820_COUNT];
	for (unsigned i = 0; i < n && i < 128; i++) {
		const uint8_t *e = zp + ZP_E820_TABLE + 20 * i;
		uint64_t a, s;
		uint32_t t;
		memcpy(&a, e, 8);
		memcpy(&s, e + 8, 8);
		memcpy(&t, e + 16, 4);
		if (t == 1 && addr >= a && addr + len <= a + s)
			return true;
	}
	return false;
}

/* ---- time ------------------------------------------------------------------------------------ */
/* tsc_calibrate: count TSC ticks while PIT channel 2 (gated by port 0x61) counts 50 ms. */
void tsc_calibrate(void)
{
	const uint32_t count = (uint32_t)(PIT_HZ / 20);
	outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01)); /* gate 2 on, speaker off */
	outb(0x43, 0xb0);                                  /* channel 2, lo/hi, mode 0 */
	outb(0x42, count & 0xff);
	outb(0x42, count >> 8);
	uint64_t t0 = rdtsc(), t1 = t0;
	for (uint64_t spins = 0; spins < 100000000; spins++) {
		t1 = rdtsc();
		if (inb(0x61) & 0x20)
			break;
	}
	g_env.tsc_hz = (t1 - t0) * 20;
	if (g_env.tsc_hz < 1000000)
		g_env.tsc_hz = 1000000000; /* the PIT never fired: guess 1 GHz (checked by basic) */
}

void delay_us(uint64_t us)
{
	uint64_t end = rdtsc() + g_env.tsc_hz / 1000000 * us;
	while (rdtsc() < end)
		pause();
}

uint64_t tsc_ms(uint64_t ticks)
{
	return ticks / (g_env.tsc_hz / 1000);
}
