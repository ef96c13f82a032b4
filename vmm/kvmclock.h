/*
 * kvmclock: the KVM paravirtual clock interface, offered to every guest (Linux
 * Documentation/virt/kvm/x86/cpuid.rst and msr.rst). A Linux guest then takes its TSC
 * frequency from Tern instead of calibrating it against the PIT or the ACPI PM timer: under
 * nested emulation that calibration fails and the guest falls back to the acpi_pm clocksource,
 * an I/O exit for every clock read. With it the guest reads time from the TSC and memory.
 *
 * CPUID: leaves 0x40000100 and 0x40000101 carry the "KVMKVMKVM\0\0\0" signature and the
 * feature bits (Tern's own leaves stay at 0x40000000; Linux looks for each hypervisor's
 * signature from 0x40000000 to 0x4000ff00 in steps of 0x100, as with KVM's own Hyper-V
 * leaves). Offered: CLOCKSOURCE2 (bit 3), NOP_IO_DELAY (bit 1, port 0x80 delays are useless in
 * a VM) and CLOCKSOURCE_STABLE_BIT (bit 24). Nothing else: no hypercalls, PV EOI, steal time,
 * async page faults or PV TLB flush.
 *
 * MSRs: 0x4b564d01 SYSTEM_TIME_NEW (bit 0 enable, the rest the 4-byte aligned GPA of the
 * vCPU's 32-byte time record, which must lie in one page of RAM) and 0x4b564d00
 * WALL_CLOCK_NEW (the GPA of a 12-byte record Tern fills once with the time of day at system
 * time zero, from the VM's RTC).
 *
 * The VM's clock line (vm->pv_line, vm->pv_scale) is fixed while the VM runs on one host:
 * every published record is a point on it, so all vCPUs read the same time (TSC_STABLE). It
 * starts at (guest TSC 0, 0 ns) at the host's TSC rate and moves with the VM in its vCPU
 * records; after a restore, migration or failover it is re-anchored at the current guest TSC
 * with this host's rate (continuous by construction) and every record is republished with
 * PVCLOCK_GUEST_STOPPED, which tells the guest's soft-lockup watchdog the gap was the host's.
 */
#ifndef TERN_KVMCLOCK_H
#define TERN_KVMCLOCK_H

#include "kernel/compiler.h"

struct vm;
struct vcpu;

#define KVM_CPUID_BASE          0x40000100u
#define MSR_KVM_WALL_CLOCK_NEW  0x4b564d00u
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u

/* kvmclock_cpuid: the KVM leaves; false for other leaves. */
bool kvmclock_cpuid(uint32_t leaf, uint32_t out[4]);
/* kvmclock_msr_read / kvmclock_msr_write: the two MSRs; false if msr is not one of them. */
bool kvmclock_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val);
bool kvmclock_msr_write(struct vcpu *v, uint32_t msr, uint64_t val);
/* kvmclock_tsc_written: the guest wrote its TSC: republish the record at the new position. */
void kvmclock_tsc_written(struct vcpu *v);
/* kvmclock_boot: before a boot or a load: the fresh-boot line, from TSC 0 at this host's rate
 * (a loaded stream's vCPU records replace it). */
void kvmclock_boot(struct vm *vm);
/* kvmclock_resume: state was loaded: re-anchor the line on this host and republish. */
void kvmclock_resume(struct vm *vm);

#endif
