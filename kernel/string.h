/*
 * String and memory helpers. The kernel provides its own (kernel/string.c); host builds of the
 * pure-logic modules (TERN_HOST) use the C library's, so the same sources build both ways.
 */
#ifndef TERN_STRING_H
#define TERN_STRING_H

#include "kernel/compiler.h"

#ifdef TERN_HOST
#include <string.h>
#include <stdlib.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
/*
 * -ffreestanding implies -fno-builtin, so without these every memcpy(&v, p, 8) that loads a
 * word (checksums, ciphers, stream parsers) would be a function call. The builtins inline
 * small constant sizes as plain moves and call the functions above for the rest (string.c
 * defines them with parenthesised names, which these function-like macros leave alone).
 */
#define memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define memset(d, c, n) __builtin_memset((d), (c), (n))
#define memcmp(a, b, n) __builtin_memcmp((a), (b), (n))
#endif

/* strlcpy: copy at most size-1 bytes and always NUL-terminate; returns strlen(src). */
size_t tern_strlcpy(char *dst, const char *src, size_t size);
/* mem_is_zero: true if all n bytes are zero. */
bool mem_is_zero(const void *p, size_t n);

#endif
