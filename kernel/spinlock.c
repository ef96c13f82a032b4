/* Ticket spinlocks with interrupt disabling (see spinlock.h). */
#include "kernel/spinlock.h"
#include "kernel/percpu.h"
#include "kernel/panic.h"

/* spin_init: a free lock. */
void spin_init(struct spinlock *l, const char *name)
{
	l->next = l->owner = 0;
	l->holder = 0;
	l->name = name;
}

/* spin_lock: take a ticket, spin until served; interrupts stay off until spin_unlock. */
void spin_lock(struct spinlock *l)
{
	uint64_t flags = irq_save();
	int me = cpu_id() + 1;
	if (l->holder == me)
		panic("spinlock %s: recursive acquire on cpu %d", l->name, me - 1);
	uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
		cpu_relax();
	l->saved_flags = flags;
	l->holder = me;
}

/* spin_trylock: take the lock only if it is free right now. */
bool spin_trylock(struct spinlock *l)
{
	uint64_t flags = irq_save();
	uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
	uint32_t expect = owner;
	if (!__atomic_compare_exchange_n(&l->next, &expect, owner + 1, false, __ATOMIC_ACQUIRE,
	                                 __ATOMIC_RELAXED)) {
		irq_restore(flags);
		return false;
	}
	l->saved_flags = flags;
	l->holder = cpu_id() + 1;
	return true;
}

/* spin_unlock: serve the next ticket and restore this CPU's interrupt state. */
void spin_unlock(struct spinlock *l)
{
	if (l->holder != cpu_id() + 1)
		panic("spinlock %s: released by cpu %d, held by %d", l->name, cpu_id(),
		      l->holder - 1);
	uint64_t flags = l->saved_flags;
	l->holder = 0;
	__atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
	irq_restore(flags);
}

/* spin_held: true if this CPU holds the lock. */
bool spin_held(struct spinlock *l)
{
	return l->holder == cpu_id() + 1;
}
