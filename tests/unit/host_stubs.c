/* Host-side stand-ins for the kernel services pure modules call (panic, klog). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* panic: in host tests an invariant violation aborts the test binary loudly. */
__attribute__((weak, noreturn)) void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "PANIC: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* klog: log lines go to stderr (tests may override with a capturing version). */
__attribute__((weak)) void klog(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}
