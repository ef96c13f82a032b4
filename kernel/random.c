/* Random generator; see random.h. State: a 32-byte BLAKE2s key ratcheted after every use. */
#include "kernel/random.h"
#include "kernel/log.h"
#include "kernel/spinlock.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/wallclock.h"
#include "kernel/x86.h"
#include "migrate/blake2s.h"

static uint8_t g_key[32];
static uint64_t g_counter;
static bool g_rdrand;
static struct spinlock g_lock = SPINLOCK_INIT("random");

/* rdrand64: one hardware random value (retried as Intel recommends), false on failure. */
static bool rdrand64(uint64_t *v)
{
	for (int i = 0; i < 10; i++) {
		uint8_t ok;
		__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
		if (ok)
			return true;
	}
	return false;
}

/* mix: absorb data into the key. */
static void mix(const void *data, size_t len)
{
	struct blake2s_ctx c;
	blake2s_init(&c, 32, g_key, sizeof(g_key));
	blake2s_update(&c, data, len);
	blake2s_final(&c, g_key);
}

/* random_init: TSC jitter of port reads, wall clock, hardware randomness if present. */
void random_init(void)
{
	uint32_t r[4];
	cpuid(1, 0, r);
	g_rdrand = (r[2] >> 30) & 1;
	uint64_t sample[64];
	for (int i = 0; i < 64; i++) {
		uint64_t t = rdtsc();
		(void)inb(0x61); /* an I/O read: its latency varies */
		sample[i] = rdtsc() - t + (t << 17);
	}
	mix(sample, sizeof(sample));
	uint64_t w = wallclock_now();
	mix(&w, sizeof(w));
	for (int i = 0; g_rdrand && i < 8; i++) {
		uint64_t v;
		if (rdrand64(&v))
			mix(&v, sizeof(v));
	}
	klog("random: seeded from timing jitter%s", g_rdrand ? " and RDRAND" : "");
}

void random_bytes(void *buf, size_t len)
{
	uint8_t *out = buf;
	spin_lock(&g_lock);
	uint64_t extra[2] = {rdtsc(), 0};
	if (g_rdrand)
		rdrand64(&extra[1]);
	mix(extra, sizeof(extra));
	while (len) {
		uint8_t block[32];
		g_counter++;
		blake2s(block, sizeof(block), g_key, sizeof(g_key), &g_counter, sizeof(g_counter));
		size_t n = MIN(len, sizeof(block));
		memcpy(out, block, n);
		out += n;
		len -= n;
	}
	mix("ratchet", 7); /* forward secrecy: the output key cannot be recomputed */
	spin_unlock(&g_lock);
}
