/*
 * Tern test guest: entry from head.asm, environment set-up, and the test sequence chosen by
 * the kernel command line (docs/testguest.md):
 *   tguest.test=basic[,hostile|dirty|count]   tests in order (default basic)
 *   tguest.out=both|com1|e9                     where lines go (default both)
 *   tguest.end=halt|poweroff|reset|triple       what to do after the last test (default halt)
 */
#include "tg.h"

#define ZP_EXT_CMD_LINE_PTR 0x0c8
#define ZP_CMD_LINE_PTR     0x228

extern char _start[], _end[];
struct tg_dirty g_dirty;

_Static_assert(__builtin_offsetof(struct tg_dirty, npt) == 32, "dirty.asm D_NPT");
_Static_assert(__builtin_offsetof(struct tg_dirty, pt) == 40, "dirty.asm D_PT");
_Static_assert(__builtin_offsetof(struct tg_dirty, com1) == 72, "dirty.asm D_COM1");
_Static_assert(__builtin_offsetof(struct tg_dirty, e9) == 73, "dirty.asm D_E9");

/* env_init: command line, memory map, CPU facts. */
static void env_init(const uint8_t *bp)
{
	uint32_t lo, hi, r[4];
	g_env.boot_params = bp;
	memcpy(&lo, bp + ZP_CMD_LINE_PTR, 4);
	memcpy(&hi, bp + ZP_EXT_CMD_LINE_PTR, 4);
	g_env.cmdline = (const char *)((uint64_t)hi << 32 | lo);
	g_env.image_start = (uint64_t)_start;
	g_env.image_end = (uint64_t)_end;
	size_t n;
	const char *o = opt("out", &n);
	if (o && streq_n(o, n, "com1"))
		g_out_e9 = false;
	else if (o && streq_n(o, n, "e9"))
		g_out_com1 = false;
	cpuid(0, 0, r);
	g_env.amd = r[1] == 0x68747541;   /* "Auth" */
	g_env.intel = r[1] == 0x756e6547; /* "Genu" */
	cpuid(1, 0, r);
	g_env.apic_id = r[1] >> 24;
	cpuid(0x80000000, 0, r);
	g_env.maxphys = 36;
	if (r[0] >= 0x80000008) {
		cpuid(0x80000008, 0, r);
		g_env.maxphys = r[0] & 0xff;
	}
	/* RAM: the e820 range holding the image, and RAM above 4 GiB */
	unsigned cnt = bp[0x1e8];
	for (unsigned i = 0; i < cnt && i < 128; i++) {
		uint64_t a, s;
		uint32_t t;
		memcpy(&a, bp + 0x2d0 + 20 * i, 8);
		memcpy(&s, bp + 0x2d0 + 20 * i + 8, 8);
		memcpy(&t, bp + 0x2d0 + 20 * i + 16, 4);
		if (t != 1)
			continue;
		if (g_env.image_start >= a && g_env.image_start < a + s)
			g_env.ram_top = a + s;
		if (a >= (1ULL << 32) && a + s > g_env.ram_above_4g)
			g_env.ram_above_4g = a + s;
	}
}

/* finish: what tguest.end= asks for once every test ran. */
static void finish(void)
{
	size_t n;
	const char *e = opt("end", &n);
	if (e && streq_n(e, n, "poweroff")) {
		say("END poweroff");
		outw(0x604, (5 << 10) | (1 << 13)); /* PM1a_CNT: SLP_TYP S5, SLP_EN */
	} else if (e && streq_n(e, n, "reset")) {
		say("END reset");
		outb(0xcf9, 0x02);
		outb(0xcf9, 0x06); /* reset control register: hard reset */
	} else if (e && streq_n(e, n, "triple")) {
		say("END triple-fault");
		tg_triple_fault();
	}
	say("END halt");
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* run: one test by name; false if the name is unknown. */
static bool run(const char *name, size_t len)
{
	if (streq_n(name, len, "basic"))
		test_basic();
	else if (streq_n(name, len, "hostile"))
		test_hostile();
	else if (streq_n(name, len, "dirty"))
		test_dirty();
	else if (streq_n(name, len, "count"))
		test_count();
	else
		return false;
	return true;
}

void tg_main(const uint8_t *boot_params)
{
	g_test = "init";
	env_init(boot_params);
	out_init();
	trap_init();
	paging_init();
	size_t tl;
	const char *tests = opt("test", &tl);
	if (!tests || !tl)
		tests = "basic", tl = 5;
	char list[64];
	size_t ll = tl < sizeof(list) - 1 ? tl : sizeof(list) - 1;
	memcpy(list, tests, ll);
	list[ll] = 0;
	say("READY tests=%s load=0x%lx end=0x%lx ram_top=0x%lx cmdline=\"%s\"", list,
	    g_env.image_start, g_env.image_end, g_env.ram_top, g_env.cmdline ? g_env.cmdline : "");
	tsc_calibrate();
	lapic_setup();
	say("TSC khz=%lu lapic_timer_khz=%lu", g_env.tsc_hz / 1000, g_env.lapic_hz / 1000);
	const char *p = tests, *end = tests + tl;
	while (p < end) {
		const char *q = p;
		while (q < end && *q != ',')
			q++;
		if (!run(p, (size_t)(q - p))) {
			char name[32];
			size_t l =
			    (size_t)(q - p) < sizeof(name) - 1 ? (size_t)(q - p) : sizeof(name) - 1;
			memcpy(name, p, l);
			name[l] = 0;
			g_test = name;
			say("DONE %s FAIL unknown test (basic, hostile, dirty, count)", name);
		}
		p = q + 1;
	}
	finish();
}
