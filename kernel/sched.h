/*
 * Kernel threads and the scheduler.
 *
 * Every thread is pinned to one CPU and runs until it blocks, yields, or is preempted when an
 * interrupt returns to it with need_resched set (spinlocks keep interrupts off, so a thread is
 * never preempted holding one). Each CPU round-robins its own run queue; the timer is one-shot,
 * programmed for the nearest sleeper deadline or the end of the time slice, so an idle CPU
 * sleeps in HLT until something happens.
 */
#ifndef TERN_SCHED_H
#define TERN_SCHED_H

#include "kernel/compiler.h"
#include "kernel/spinlock.h"

enum thread_state { T_RUNNABLE, T_RUNNING, T_BLOCKED, T_DEAD };

#define THREAD_NAME_MAX   24
#define THREAD_STACK_SIZE (32 * 1024)

struct console_capture;

struct thread {
	uint64_t rsp;              /* saved stack pointer while switched out; must stay first */
	struct thread *next;       /* run queue link */
	struct thread *sleep_next; /* per-CPU deadline list link */
	struct thread *all_next;   /* list of all threads */
	volatile int state;        /* enum thread_state */
	bool on_runq, on_sleepq, timed_out;
	bool event, event_wait; /* thread_post / thread_wait_event */
	int cpu;
	int id;
	uint64_t deadline; /* TSC deadline while blocked with a timeout, else 0 */
	char name[THREAD_NAME_MAX];
	void *stack;
	void (*fn)(void *);
	void *arg;
	uint64_t run_tsc, switched_in;   /* accumulated run time */
	void *fpu;                       /* XSAVE area for threads that run guest code, else NULL */
	void *priv;                      /* owner data (e.g. the vCPU a thread runs) */
	struct console_capture *capture; /* console output of this thread goes here if set */
};

/* sched_init_cpu: turn the current execution context into this CPU's idle thread. */
void sched_init_cpu(void);
/* sched_idle_loop: run the idle thread forever (called last by each CPU's boot path). */
void sched_idle_loop(void) __noreturn;
/* thread_create: a new runnable thread on the given CPU; NULL on out of memory. */
struct thread *thread_create(const char *name, void (*fn)(void *), void *arg, int cpu);
/* thread_create_fpu: as thread_create, for threads that run guest code: fpu_area (from
 * fpu_alloc, owned by the caller) holds their FPU state while they are switched out. */
struct thread *thread_create_fpu(const char *name, void (*fn)(void *), void *arg, int cpu,
                                 void *fpu_area);
/* sched_set_timer_hint: the running thread wants a timer interrupt at TSC tsc (0 = none). */
void sched_set_timer_hint(uint64_t tsc);
/* thread_exit: end the current thread. */
void thread_exit(void) __noreturn;
/* thread_yield: let other runnable threads on this CPU run. */
void thread_yield(void);
/* thread_sleep_ns: block for at least ns nanoseconds. */
void thread_sleep_ns(uint64_t ns);
/* current: the running thread. */
struct thread *current(void);
/* current_or_null: as current(), NULL early in boot. */
struct thread *current_or_null(void);

/* A wait queue: a condition variable. Callers hold `lock` around the condition test. */
struct wait_entry {
	struct thread *t;
	struct wait_entry *next;
};
struct waitq {
	struct wait_entry *head;
};
/*
 * waitq_wait: with lock held, sleep until woken or until the TSC reaches deadline (0 = never);
 * lock is released while asleep and held again on return. Returns false on timeout.
 */
bool waitq_wait(struct waitq *wq, struct spinlock *lock, uint64_t deadline);
/* waitq_wake_all: with the waitq's lock held, make every waiter runnable. */
void waitq_wake_all(struct waitq *wq);

/* thread_wake: make a blocked thread runnable (any CPU, any context). */
void thread_wake(struct thread *t);
/*
 * thread_post: give t an event (any CPU, any context, no lock needed); wakes t if it waits in
 * thread_wait_event. Events do not count: several posts before a wait are one event.
 * thread_wait_event: the current thread sleeps until it has an event or the TSC reaches
 * deadline (0 = never); consumes the event; false on timeout. A post that arrives while the
 * thread is not waiting is kept, so no wake-up is lost and the poster takes no lock of the
 * waiter's (a lock-free alternative to a waitq for a single consumer thread).
 */
void thread_post(struct thread *t);
bool thread_wait_event(uint64_t deadline);
/* sched_timer_irq: the per-CPU timer interrupt: wake expired sleepers, end time slices. */
void sched_timer_irq(void);
/* sched_irq_exit: called when an interrupt returns to thread context; may switch threads. */
void sched_irq_exit(void);
/* sched_for_each_thread: call fn on every thread (for the `threads` command). */
void sched_for_each_thread(void (*fn)(struct thread *t, void *arg), void *arg);

#endif
