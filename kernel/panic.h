/* Fatal errors: print a message and a stack trace on the console, stop every CPU. */
#ifndef TERN_PANIC_H
#define TERN_PANIC_H

#include "kernel/compiler.h"

void panic(const char *fmt, ...) __printf(1, 2) __noreturn;
/* panic_in_progress: true once some CPU has panicked. */
bool panic_in_progress(void);
/* panic_stop_cpu: halt this CPU for good (on the NMI a panicking CPU sends). */
void panic_stop_cpu(void) __noreturn;

/* ASSERT: an invariant that, if broken, means a Tern bug: panic with the location. */
#define ASSERT(c)                                                                                  \
	do {                                                                                       \
		if (unlikely(!(c)))                                                                \
			panic("assertion failed: %s at %s:%d", #c, __FILE__, __LINE__);            \
	} while (0)

#endif
