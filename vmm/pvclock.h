/*
 * The paravirtual clock's data (Linux Documentation/virt/kvm/x86/msr.rst,
 * "MSR_KVM_SYSTEM_TIME_NEW"; the same layout as Xen's vcpu_time_info): pure arithmetic and the
 * in-memory records, built freestanding and on the host (tests/unit/test_pvclock.c). The guest
 * computes time_ns = system_time + scale(tsc - tsc_timestamp), scale(d) = ((shift >= 0 ? d << shift
 * : d >> -shift) * tsc_to_system_mul) >> 32, reading the record between two equal, even version
 * numbers (odd = being updated).
 */
#ifndef TERN_PVCLOCK_H
#define TERN_PVCLOCK_H

#include "kernel/compiler.h"

#define PVCLOCK_NSEC_PER_SEC 1000000000ULL
#define PVCLOCK_SIZE         32 /* struct pvclock_vcpu_time_info */
#define PVCLOCK_WALL_SIZE    12 /* struct pvclock_wall_clock */

/* flags byte (offset 29) */
#define PVCLOCK_TSC_STABLE    0x01 /* the TSC is synchronised across vCPUs: no global max */
#define PVCLOCK_GUEST_STOPPED 0x02 /* the host paused the VM: the guest's watchdogs forgive */

/* Multiplier and shift turning TSC ticks into nanoseconds. */
struct pvclock_scale {
	uint32_t mul;
	int8_t shift;
};

/* One published clock: at guest TSC tsc the clock read ns. */
struct pvclock_point {
	uint64_t tsc, ns;
};

/* pvclock_scale_for: the scale for a TSC of tsc_hz (> 0); mul keeps 31-32 significant bits. */
struct pvclock_scale pvclock_scale_for(uint64_t tsc_hz);
/* pvclock_scale_delta: the guest's conversion of delta ticks to nanoseconds. */
uint64_t pvclock_scale_delta(uint64_t delta, struct pvclock_scale s);
/* pvclock_read: the time on the line through p with slope s at guest TSC tsc (before p.tsc:
 * extrapolated back, never below 0). */
uint64_t pvclock_read(struct pvclock_point p, struct pvclock_scale s, uint64_t tsc);
/* pvclock_rate_ppm: how far rate a is from rate b, in parts per million of b (0 if either is
 * unknown, i.e. 0). */
uint64_t pvclock_rate_ppm(uint64_t a, uint64_t b);
/* pvclock_encode: the 32-byte record for (p, s, flags) with the given version. */
void pvclock_encode(uint8_t out[PVCLOCK_SIZE], uint32_t version, struct pvclock_point p,
                    struct pvclock_scale s, uint8_t flags);
/* pvclock_encode_wall: the 12-byte wall-clock record: the time of day at system time zero. */
void pvclock_encode_wall(uint8_t out[PVCLOCK_WALL_SIZE], uint32_t version, uint64_t epoch_ns);

#endif
