/* Freestanding string and memory functions (the host build takes libc's, see string.h). */
#include "kernel/string.h"

#ifndef TERN_HOST
/*
 * memcpy and memset move 8-byte words with rep movsq/stosq and only the 0-7 byte tail with
 * rep movsb/stosb (the classic x86-64 form, as Linux uses on CPUs without ERMSB/FSRM). On
 * hardware this is as fast as rep movsb for large copies; QEMU's TCG runs string
 * instructions one element per iteration, so words make every copy up to 8x faster there.
 */

/* memcpy: copy n bytes, regions must not overlap. */
void *(memcpy)(void *dst, const void *src, size_t n)
{
	void *ret = dst;
	size_t words = n / 8, tail = n % 8;
	__asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(words) : : "memory");
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(tail) : : "memory");
	return ret;
}

/* memmove: copy n bytes, regions may overlap. */
void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d == s || n == 0)
		return dst;
	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n--)
		d[n] = s[n];
	return dst;
}

/* memset: fill n bytes with c (see memcpy for the word form). */
void *(memset)(void *dst, int c, size_t n)
{
	void *ret = dst;
	uint64_t pattern = (uint8_t)c * 0x0101010101010101ULL;
	size_t words = n / 8, tail = n % 8;
	__asm__ volatile("rep stosq" : "+D"(dst), "+c"(words) : "a"(pattern) : "memory");
	__asm__ volatile("rep stosb" : "+D"(dst), "+c"(tail) : "a"(pattern) : "memory");
	return ret;
}

/* memcmp: compare n bytes. */
int(memcmp)(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

/* strlen: length of a NUL-terminated string. */
size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* strnlen: length of s, at most max. */
size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;
	while (n < max && s[n])
		n++;
	return n;
}

/* strcmp: compare two strings. */
int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

/* strncmp: compare at most n characters. */
int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b || !*a)
			return (unsigned char)*a - (unsigned char)*b;
	}
	return 0;
}

/* strchr: first occurrence of c in s, or NULL. */
char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

/* strrchr: last occurrence of c in s, or NULL. */
char *strrchr(const char *s, int c)
{
	const char *last = NULL;
	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)last;
	}
}
#endif

/* tern_strlcpy: bounded copy that always terminates dst. */
size_t tern_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	if (size) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = 0;
	}
	return len;
}

/* mem_is_zero: true if every byte of p[0..n) is zero. */
bool mem_is_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n && ((uintptr_t)b & 7)) {
		if (*b++)
			return false;
		n--;
	}
	for (; n >= 8; n -= 8, b += 8)
		if (*(const uint64_t *)b)
			return false;
	while (n--)
		if (*b++)
			return false;
	return true;
}
