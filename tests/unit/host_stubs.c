/* Host-side stand-ins for the kernel services pure modules call (panic, klog, spinlocks). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel/spinlock.h"

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

/*
 * Spinlocks: host tests are single-threaded, so taking a lock never waits. The holder field
 * is kept as the kernel keeps it (1 = "this CPU") so spin_held() answers truthfully and a
 * recursive acquire or a release of a free lock panics as it would in the kernel. Tests may
 * override any of these (e.g. to count acquisitions).
 */
__attribute__((weak)) void spin_init(struct spinlock *l, const char *name)
{
	l->next = l->owner = 0;
	l->saved_flags = 0;
	l->holder = 0;
	l->name = name;
}

__attribute__((weak)) void spin_lock(struct spinlock *l)
{
	if (l->holder)
		panic("spinlock %s: recursive acquire", l->name);
	l->holder = 1;
}

__attribute__((weak)) bool spin_trylock(struct spinlock *l)
{
	if (l->holder)
		return false;
	l->holder = 1;
	return true;
}

__attribute__((weak)) void spin_unlock(struct spinlock *l)
{
	if (!l->holder)
		panic("spinlock %s: released while free", l->name);
	l->holder = 0;
}

__attribute__((weak)) bool spin_held(struct spinlock *l)
{
	return l->holder != 0;
}
