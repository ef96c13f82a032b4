/*
 * common.h: small helpers shared by the Tern guest test programs (tools/guest/tern-*.c).
 *
 * Header-only (everything static) so that each program still builds on its own with
 * `gcc -static -O2 -o tern-x tern-x.c` and so that mkguest.sh can link all of them into one
 * multi-call binary without symbol clashes. Plain C11 + POSIX, glibc static friendly.
 */
#ifndef TERN_GUEST_COMMON_H
#define TERN_GUEST_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Parses a decimal (or 0x hex) unsigned integer in [min, max]; 0 on success, -1 otherwise. */
static inline int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Reads a clock in nanoseconds. */
static inline uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Monotonic time in nanoseconds (does not count suspend; use for rates and deadlines). */
static inline uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Sleeps until an absolute CLOCK_MONOTONIC time; returns early (EINTR) on a signal. */
static inline void sleep_until_ns(uint64_t when)
{
	struct timespec ts = {.tv_sec = (time_t)(when / 1000000000ull),
	                      .tv_nsec = (long)(when % 1000000000ull)};

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* splitmix64 step: a fast, well-mixed 64-bit hash used for the test patterns. */
static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Writes a formatted line to fd in one write() so lines from several processes do not mix. */
__attribute__((format(printf, 2, 3))) static inline int fdprintf_line(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	for (int off = 0; off < n;) {
		ssize_t w = write(fd, buf + off, (size_t)(n - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (int)w;
	}
	return 0;
}

/*
 * tern-tcpsrv/tern-tcpcli stream format: back-to-back 16-byte records
 *   "TSQ1" | sequence number (u64, big-endian) | check (u32 big-endian) = low 32 bits of
 *   mix64(sequence number)
 * The first record of every connection has sequence number 0.
 */
#define TSQ_REC   16
#define TSQ_MAGIC "TSQ1"

/* Encodes record number seq into rec. */
static inline void tsq_encode(unsigned char rec[TSQ_REC], uint64_t seq)
{
	uint32_t chk = (uint32_t)mix64(seq);

	memcpy(rec, TSQ_MAGIC, 4);
	for (int i = 0; i < 8; i++)
		rec[4 + i] = (unsigned char)(seq >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		rec[12 + i] = (unsigned char)(chk >> (24 - 8 * i));
}

/* Decodes a record; 0 and *seq on success, -1 if the magic or check is wrong. */
static inline int tsq_decode(const unsigned char rec[TSQ_REC], uint64_t *seq)
{
	uint64_t s = 0;
	uint32_t chk = 0;

	if (memcmp(rec, TSQ_MAGIC, 4) != 0)
		return -1;
	for (int i = 0; i < 8; i++)
		s = (s << 8) | rec[4 + i];
	for (int i = 0; i < 4; i++)
		chk = (chk << 8) | rec[12 + i];
	if (chk != (uint32_t)mix64(s))
		return -1;
	*seq = s;
	return 0;
}

#define say(...)    fdprintf_line(STDOUT_FILENO, __VA_ARGS__)
#define sayerr(...) fdprintf_line(STDERR_FILENO, __VA_ARGS__)

#endif
