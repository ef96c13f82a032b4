/* Small language helpers shared by every Tern source file, freestanding and host. */
#ifndef TERN_COMPILER_H
#define TERN_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a)                 (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)                (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a)              ((x) & ~((__typeof__(x))(a)-1))
#define IS_ALIGNED(x, a)              (((x) & ((__typeof__(x))(a)-1)) == 0)
#define MIN(a, b)                     ((a) < (b) ? (a) : (b))
#define MAX(a, b)                     ((a) > (b) ? (a) : (b))
#define likely(x)                     __builtin_expect(!!(x), 1)
#define unlikely(x)                   __builtin_expect(!!(x), 0)
#define __packed                      __attribute__((packed))
#define __aligned(n)                  __attribute__((aligned(n)))
#define __noreturn                    __attribute__((noreturn))
#define __unused                      __attribute__((unused))
#define __printf(a, b)                __attribute__((format(printf, a, b)))
#define STATIC_ASSERT(c, m)           _Static_assert(c, m)
#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))
#define READ_ONCE(x)                  (*(volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)              (*(volatile __typeof__(x) *)&(x) = (v))
#define barrier()                     __asm__ volatile("" ::: "memory")

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

/* add_overflows: true if a + b wraps around 64 bits (used for every guest-supplied range). */
static inline bool add_overflows(uint64_t a, uint64_t b)
{
	return a + b < a;
}

/* range_within: true if [addr, addr+len) lies inside [base, base+size) without wrapping. */
static inline bool range_within(uint64_t addr, uint64_t len, uint64_t base, uint64_t size)
{
	if (add_overflows(addr, len) || add_overflows(base, size))
		return false;
	return addr >= base && addr + len <= base + size;
}

/* popcount64: set bits in x (SWAR; the kernel has no libgcc and no POPCNT guarantee). */
static inline unsigned popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

/* muldiv64: a * b / c with a 128-bit intermediate; the quotient must fit in 64 bits. */
static inline uint64_t muldiv64(uint64_t a, uint64_t b, uint64_t c)
{
#ifdef TERN_HOST
	return (uint64_t)((unsigned __int128)a * b / c);
#else
	uint64_t q, r;
	__asm__("mulq %3\n\tdivq %4" : "=a"(q), "=&d"(r) : "a"(a), "rm"(b), "rm"(c) : "cc");
	(void)r;
	return q;
#endif
}

#endif
