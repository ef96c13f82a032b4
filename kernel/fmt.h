/* Formatted output into buffers: a small, freestanding vsnprintf (pure; host-tested). */
#ifndef TERN_FMT_H
#define TERN_FMT_H

#include <stdarg.h>
#include "kernel/compiler.h"

/*
 * Supports %d %i %u %x %X %o %p %s %c %%, flags '-' '0' ' ' '+' '#', width, precision (for %s),
 * length modifiers hh h l ll z t j. Always NUL-terminates when size > 0; returns the length the
 * full output would have had (like C99 vsnprintf).
 */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...) __printf(3, 4);

#endif
