/* Time: the TSC, calibrated at boot, is the kernel's clock (assumed invariant and synchronous). */
#ifndef TERN_TIME_H
#define TERN_TIME_H

#include "kernel/compiler.h"

extern uint64_t tsc_hz;

/* time_init: calibrate the TSC against the PIT (or the ACPI PM timer). */
void time_init(void);
/* time_set_origin: make the given TSC value time zero (called first thing at boot). */
void time_set_origin(uint64_t tsc);
/* time_ns: nanoseconds since the kernel started. */
uint64_t time_ns(void);
/* tsc_to_ns / ns_to_tsc: conversions at the calibrated rate. */
uint64_t tsc_to_ns(uint64_t tsc);
uint64_t ns_to_tsc(uint64_t ns);
/* udelay: busy-wait at least us microseconds. */
void udelay(uint64_t us);
/* deadline_ms: TSC value ms milliseconds from now (for waitq_wait). */
uint64_t deadline_ms(uint64_t ms);

#endif
