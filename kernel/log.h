/* Console output and the kernel log ring buffer. */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include "kernel/compiler.h"

#define LOG_RING_SIZE (64 * 1024)

/* kprintf: formatted text on the console only. */
int kprintf(const char *fmt, ...) __printf(1, 2);
/* klog: a timestamped line in the kernel log ring, echoed on the console. */
void klog(const char *fmt, ...) __printf(1, 2);
/* klog_quiet: as klog, but not echoed on the console. */
void klog_quiet(const char *fmt, ...) __printf(1, 2);
/* log_read: copy up to cap bytes of the ring starting at byte offset pos of the oldest kept
 * text; returns the bytes copied (0 at the end). */
size_t log_read(size_t pos, char *buf, size_t cap);

#endif
