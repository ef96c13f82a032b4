/*
 * Ticket spinlocks. spin_lock() disables interrupts on this CPU for as long as the lock is held
 * (and so also preemption), saving the previous state in the lock: locks here are short and may
 * be taken from interrupt handlers.
 */
#ifndef TERN_SPINLOCK_H
#define TERN_SPINLOCK_H

#include "kernel/x86.h"

struct spinlock {
	volatile uint32_t next;
	volatile uint32_t owner;
	uint64_t saved_flags;
	int holder; /* CPU id + 1 of the holder, 0 when free (so zeroed memory is a free lock) */
	const char *name;
};

#define SPINLOCK_INIT(n)                                                                           \
	{                                                                                          \
		0, 0, 0, 0, n                                                                      \
	}

void spin_init(struct spinlock *l, const char *name);
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
bool spin_trylock(struct spinlock *l);
bool spin_held(struct spinlock *l);

#endif
