/* Kernel threads and the per-CPU scheduler; see sched.h. */
#include "kernel/sched.h"
#include "kernel/apic.h"
#include "kernel/fpu.h"
#include "kernel/panic.h"
#include "kernel/percpu.h"
#include "kernel/pmm.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/heap.h"
#include "kernel/fmt.h"

#define SLICE_NS 10000000ULL /* 10 ms round-robin slice */

void switch_to(uint64_t *prev_rsp, uint64_t next_rsp);
void thread_start(void);

static struct spinlock g_all_lock = SPINLOCK_INIT("threads");
static struct thread *g_all;
static int g_next_id;

/* current_or_null: the running thread, or NULL before the scheduler is set up. */
struct thread *current_or_null(void)
{
	return this_cpu()->current;
}

/* current: the thread this CPU runs. */
struct thread *current(void)
{
	return this_cpu()->current;
}

/* enqueue: append t to c's run queue (runq_lock held). */
static void enqueue(struct cpu *c, struct thread *t)
{
	if (t->on_runq)
		return;
	t->on_runq = true;
	t->next = NULL;
	if (c->runq_tail)
		c->runq_tail->next = t;
	else
		c->runq_head = t;
	c->runq_tail = t;
}

/* dequeue: first runnable thread of c, or NULL (runq_lock held). */
static struct thread *dequeue(struct cpu *c)
{
	struct thread *t = c->runq_head;
	if (!t)
		return NULL;
	c->runq_head = t->next;
	if (!c->runq_head)
		c->runq_tail = NULL;
	t->on_runq = false;
	return t;
}

/* sleepq_remove: take t off c's deadline list (runq_lock held). */
static void sleepq_remove(struct cpu *c, struct thread *t)
{
	if (!t->on_sleepq)
		return;
	for (struct thread **pp = &c->sleepq; *pp; pp = &(*pp)->sleep_next) {
		if (*pp == t) {
			*pp = t->sleep_next;
			break;
		}
	}
	t->on_sleepq = false;
}

/*
 * timer_rearm / timer_commit: this CPU's one-shot timer for its next event. timer_rearm
 * chooses the deadline under runq_lock (0: none); timer_commit programs it after the lock is
 * dropped (interrupts still off), and only if it changed: a LAPIC write is an exit when Tern runs
 * virtualised, and another CPU waking a thread here must not spin on runq_lock meanwhile.
 * Other CPUs only ever remove sleepers from this CPU's list, which can make the programmed
 * deadline early (a spurious tick), never late.
 */
static void timer_commit(struct cpu *c, uint64_t next)
{
	if (next == c->timer_armed)
		return;
	c->timer_armed = next;
	lapic_timer_deadline(next);
}

static uint64_t timer_rearm(struct cpu *c)
{
	uint64_t next = 0;
	for (struct thread *t = c->sleepq; t; t = t->sleep_next)
		if (!next || t->deadline < next)
			next = t->deadline;
	if (c->timer_hint && (!next || c->timer_hint < next))
		next = c->timer_hint;
	if (c->runq_head && c->current) {
		uint64_t slice_end = c->current->switched_in + ns_to_tsc(SLICE_NS);
		if (!next || slice_end < next)
			next = slice_end;
	}
	return next;
}

/* wake_locked: BLOCKED -> RUNNABLE on c's queue; the caller holds c->runq_lock. */
static bool wake_locked(struct cpu *c, struct thread *t)
{
	if (t->state != T_BLOCKED)
		return false;
	sleepq_remove(c, t);
	t->state = T_RUNNABLE;
	enqueue(c, t);
	c->need_resched = true;
	return true;
}

/*
 * runq_release: drop c's runq_lock (taken after irq_save gave flags) once a thread may have
 * become runnable there (woke): re-time this CPU's timer, or poke c if it is another CPU.
 */
static void runq_release(struct cpu *c, bool woke, uint64_t flags)
{
	bool here = c == this_cpu();
	uint64_t next = woke && here ? timer_rearm(c) : 0;
	spin_unlock(&c->runq_lock);
	if (woke && here)
		timer_commit(c, next);
	irq_restore(flags);
	if (woke && !here)
		lapic_send_resched(c->apic_id);
}

/* thread_wake: make t runnable and poke its CPU if it is idle or another CPU. */
void thread_wake(struct thread *t)
{
	struct cpu *c = &cpus[t->cpu];
	uint64_t flags = irq_save();
	spin_lock(&c->runq_lock);
	runq_release(c, wake_locked(c, t), flags);
}

/* thread_post: see sched.h. */
void thread_post(struct thread *t)
{
	struct cpu *c = &cpus[t->cpu];
	uint64_t flags = irq_save();
	spin_lock(&c->runq_lock);
	t->event = true;
	runq_release(c, t->event_wait && wake_locked(c, t), flags);
}

/* finish_switch: work that must happen after a switch, on the new thread's stack. */
static void finish_switch(struct cpu *c)
{
	struct thread *z = c->zombie;
	if (z) {
		c->zombie = NULL;
		pmm_free_kva(z->stack, THREAD_STACK_SIZE);
		kfree(z);
	}
}

/* schedule: pick the next runnable thread on this CPU and switch to it. */
static void schedule(void)
{
	struct cpu *c = this_cpu();
	uint64_t flags = irq_save();
	spin_lock(&c->runq_lock);
	struct thread *prev = c->current;
	uint64_t now = rdtsc();
	if (prev->state == T_RUNNING) {
		prev->state = T_RUNNABLE;
		if (prev != c->idle)
			enqueue(c, prev);
	}
	struct thread *next = dequeue(c);
	if (!next)
		next = c->idle;
	prev->run_tsc += now - prev->switched_in;
	next->state = T_RUNNING;
	next->switched_in = now;
	if (next != prev)
		c->timer_hint = 0;
	c->current = next;
	c->need_resched = false;
	if (prev->state == T_DEAD)
		c->zombie = prev;
	uint64_t deadline = timer_rearm(c);
	spin_unlock(&c->runq_lock);
	timer_commit(c, deadline); /* interrupts are still off (irq_save above) */
	if (next != prev) {
		fpu_switch(c, prev, next);
		switch_to(&prev->rsp, next->rsp);
		finish_switch(this_cpu());
	}
	irq_restore(flags);
}

/* thread_entry: C entry of every new thread (from thread_start). */
void thread_entry(void)
{
	finish_switch(this_cpu());
	sti();
	struct thread *t = current();
	t->fn(t->arg);
	thread_exit();
}

/* create: allocate stack, control block (and an FPU area), queue it on its CPU. */
static struct thread *create(const char *name, void (*fn)(void *), void *arg, int cpu, void *fpu)
{
	ASSERT(cpu >= 0 && cpu < MAX_CPUS && cpus[cpu].online);
	struct thread *t = kzalloc(sizeof(*t));
	if (!t)
		return NULL;
	t->stack = pmm_alloc_kva(THREAD_STACK_SIZE);
	t->fpu = fpu; /* owned by the caller, which frees it after the thread has exited */
	if (!t->stack) {
		kfree(t);
		return NULL;
	}
	tern_strlcpy(t->name, name, sizeof(t->name));
	t->fn = fn;
	t->arg = arg;
	t->cpu = cpu;
	uint64_t *sp = (uint64_t *)((char *)t->stack + THREAD_STACK_SIZE);
	*--sp = 0;                      /* alignment: thread_start sees rsp % 16 == 8 */
	*--sp = (uint64_t)thread_start; /* switch_to's ret */
	for (int i = 0; i < 6; i++)
		*--sp = 0; /* rbp rbx r12 r13 r14 r15 */
	t->rsp = (uint64_t)sp;
	t->state = T_RUNNABLE;
	spin_lock(&g_all_lock);
	t->id = ++g_next_id;
	t->all_next = g_all;
	g_all = t;
	spin_unlock(&g_all_lock);
	struct cpu *c = &cpus[cpu];
	uint64_t flags = irq_save();
	spin_lock(&c->runq_lock);
	enqueue(c, t);
	c->need_resched = true;
	runq_release(c, true, flags);
	return t;
}

struct thread *thread_create(const char *name, void (*fn)(void *), void *arg, int cpu)
{
	return create(name, fn, arg, cpu, NULL);
}

struct thread *thread_create_fpu(const char *name, void (*fn)(void *), void *arg, int cpu,
                                 void *fpu_area)
{
	return create(name, fn, arg, cpu, fpu_area);
}

/*
 * sched_set_timer_hint: the running thread needs a timer interrupt at tsc (0: none). The hint
 * stays until the thread is switched out or the interrupt comes, so a vCPU thread that sets
 * the same hint before every guest entry reprograms nothing (a LAPIC write is an exit when
 * Tern runs virtualised).
 */
void sched_set_timer_hint(uint64_t tsc)
{
	struct cpu *c = this_cpu(); /* threads are pinned: stays this CPU */
	if (c->timer_hint == tsc)
		return;
	uint64_t flags = irq_save();
	spin_lock(&c->runq_lock);
	c->timer_hint = tsc;
	uint64_t deadline = timer_rearm(c);
	spin_unlock(&c->runq_lock);
	timer_commit(c, deadline);
	irq_restore(flags);
}

/* unlist: remove t from the all-threads list. */
static void unlist(struct thread *t)
{
	spin_lock(&g_all_lock);
	for (struct thread **pp = &g_all; *pp; pp = &(*pp)->all_next) {
		if (*pp == t) {
			*pp = t->all_next;
			break;
		}
	}
	spin_unlock(&g_all_lock);
}

/* thread_exit: the thread is freed by the next thread this CPU runs. */
void thread_exit(void)
{
	struct thread *t = current();
	ASSERT(t != this_cpu()->idle);
	unlist(t);
	fpu_release(this_cpu(), t);
	cli();
	t->state = T_DEAD;
	schedule();
	panic("dead thread %s scheduled", t->name);
}

/* thread_yield: go to the back of the run queue. */
void thread_yield(void)
{
	schedule();
}

/* block_current: sleep until thread_wake or the deadline (0: none); false on timeout. */
static bool block_current(uint64_t deadline)
{
	struct cpu *c = this_cpu();
	struct thread *t = c->current;
	spin_lock(&c->runq_lock);
	t->timed_out = false;
	if (t->state == T_BLOCKED && deadline) {
		t->deadline = deadline;
		t->on_sleepq = true;
		t->sleep_next = c->sleepq;
		c->sleepq = t;
	}
	spin_unlock(&c->runq_lock);
	schedule();
	return !t->timed_out;
}

/* thread_sleep_ns: block with only a deadline. */
void thread_sleep_ns(uint64_t ns)
{
	uint64_t flags = irq_save();
	current()->state = T_BLOCKED;
	block_current(rdtsc() + ns_to_tsc(ns));
	irq_restore(flags);
}

/* thread_wait_event: see sched.h. */
bool thread_wait_event(uint64_t deadline)
{
	struct cpu *c = this_cpu();
	struct thread *t = c->current;
	uint64_t flags = irq_save();
	spin_lock(&c->runq_lock);
	if (t->event) {
		t->event = false;
		spin_unlock(&c->runq_lock);
		irq_restore(flags);
		return true;
	}
	t->state = T_BLOCKED;
	t->event_wait = true;
	t->timed_out = false;
	if (deadline) {
		t->deadline = deadline;
		t->on_sleepq = true;
		t->sleep_next = c->sleepq;
		c->sleepq = t;
	}
	spin_unlock(&c->runq_lock);
	schedule();
	spin_lock(&c->runq_lock);
	t->event_wait = false;
	bool got = t->event;
	t->event = false;
	spin_unlock(&c->runq_lock);
	irq_restore(flags);
	return got;
}

/* waitq_wait: condition-variable wait; see sched.h. */
bool waitq_wait(struct waitq *wq, struct spinlock *lock, uint64_t deadline)
{
	struct thread *t = current();
	struct wait_entry e = {t, wq->head};
	wq->head = &e;
	t->state = T_BLOCKED; /* before the lock drops: a wake-up in between is not lost */
	uint64_t flags = lock->saved_flags;
	lock->saved_flags = 0; /* keep interrupts off across the unlock */
	spin_unlock(lock);
	bool ok = block_current(deadline);
	spin_lock(lock);
	lock->saved_flags = flags;
	for (struct wait_entry **pp = &wq->head; *pp; pp = &(*pp)->next) {
		if (*pp == &e) {
			*pp = e.next; /* timed out: still queued */
			break;
		}
	}
	return ok;
}

/* waitq_wake_all: wake and dequeue every waiter (caller holds the waitq's lock). */
void waitq_wake_all(struct waitq *wq)
{
	struct wait_entry *e = wq->head;
	wq->head = NULL;
	while (e) {
		struct wait_entry *n = e->next;
		thread_wake(e->t);
		e = n;
	}
}

/* sched_timer_irq: expire deadlines, request a switch at the end of a slice. */
void sched_timer_irq(void)
{
	struct cpu *c = this_cpu();
	uint64_t now = rdtsc();
	spin_lock(&c->runq_lock);
	c->ticks++;
	c->timer_armed = 0; /* it fired (or an earlier count was replaced: rewritten below) */
	if (c->timer_hint && c->timer_hint <= now)
		c->timer_hint = 0; /* it came; the thread sets a new one if it needs one */
	for (struct thread *t = c->sleepq, *n; t; t = n) {
		n = t->sleep_next;
		if (t->deadline <= now) {
			t->timed_out = true;
			wake_locked(c, t);
		}
	}
	if (c->runq_head && now - c->current->switched_in >= ns_to_tsc(SLICE_NS))
		c->need_resched = true;
	uint64_t deadline = timer_rearm(c);
	spin_unlock(&c->runq_lock);
	timer_commit(c, deadline); /* interrupt context: interrupts are off */
}

/* sched_irq_exit: preempt the interrupted thread if a switch is due. */
void sched_irq_exit(void)
{
	if (this_cpu()->need_resched)
		schedule();
}

/* sched_init_cpu: the boot context of this CPU becomes its idle thread. */
void sched_init_cpu(void)
{
	struct cpu *c = this_cpu();
	struct thread *t = kzalloc(sizeof(*t));
	ASSERT(t);
	fmt_snprintf(t->name, sizeof(t->name), "idle%d", c->id);
	t->cpu = c->id;
	t->state = T_RUNNING;
	t->switched_in = rdtsc();
	spin_init(&c->runq_lock, "runq");
	c->idle = c->current = t;
}

/* sched_idle_loop: halt until there is work; interrupts switch to woken threads. */
void sched_idle_loop(void)
{
	struct cpu *c = this_cpu();
	for (;;) {
		cli();
		if (c->runq_head) {
			sti();
			schedule();
			continue;
		}
		c->in_idle = true;
		sti_hlt();
		c->in_idle = false;
	}
}

/* sched_for_each_thread: iterate over all threads (idle threads excluded). */
void sched_for_each_thread(void (*fn)(struct thread *t, void *arg), void *arg)
{
	spin_lock(&g_all_lock);
	for (struct thread *t = g_all; t; t = t->all_next)
		fn(t, arg);
	spin_unlock(&g_all_lock);
}
