/* The KVM paravirtual clock interface offered to guests; see kvmclock.h. */
#include "vmm/kvmclock.h"
#include "kernel/endian.h"
#include "kernel/log.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/wallclock.h"
#include "vmm/pvclock.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* CPUID 0x40000101 EAX feature bits (Linux arch/x86/include/uapi/asm/kvm_para.h) */
#define KVM_FEATURE_NOP_IO_DELAY           (1u << 1)
#define KVM_FEATURE_CLOCKSOURCE2           (1u << 3)
#define KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)
#define PV_ENABLE                          1ULL /* SYSTEM_TIME_NEW bit 0 */

bool kvmclock_cpuid(uint32_t leaf, uint32_t out[4])
{
	if (leaf == KVM_CPUID_BASE) {
		out[0] = KVM_CPUID_BASE + 1; /* highest leaf */
		memcpy(&out[1], "KVMKVMKVM\0\0\0", 12);
		return true;
	}
	if (leaf == KVM_CPUID_BASE + 1) {
		out[0] = KVM_FEATURE_NOP_IO_DELAY | KVM_FEATURE_CLOCKSOURCE2 |
		         KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;
		out[1] = out[2] = out[3] =
		    0; /* EDX: no hints (not a dedicated-CPU "realtime" VM) */
		return true;
	}
	return false;
}

/* record_ptr: the host address of a size-byte record at gpa, if it lies in one page of RAM
 * and is 4-byte aligned; else NULL (nothing is published, as KVM does). */
static uint8_t *record_ptr(struct vm *vm, uint64_t gpa, uint64_t size)
{
	if ((gpa & 3) || (gpa & 4095) + size > 4096)
		return NULL;
	return gmem_hva(&vm->mem, gpa, size);
}

/* store_record: write rec (version in its first 4 bytes, even) the way readers expect:
 * version odd, the body, then the final version (pvclock's seqcount). */
static void store_record(struct vm *vm, uint64_t gpa, uint8_t *dst, const uint8_t *rec,
                         uint64_t size)
{
	volatile uint32_t *ver = (volatile uint32_t *)dst;
	*ver = le32_load(rec) - 1;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	memcpy(dst + 4, rec + 4, size - 4);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*ver = le32_load(rec);
	gmem_mark_dirty(&vm->mem, gpa, size); /* moves with a migration */
}

/* publish: write vCPU v's time record: the point on the VM's line at its TSC now. */
static void publish(struct vcpu *v, uint8_t flags)
{
	struct vm *vm = v->vm;
	if (!(v->pv_msr & PV_ENABLE))
		return;
	uint64_t gpa = v->pv_msr & ~PV_ENABLE;
	uint8_t *dst = record_ptr(vm, gpa, PVCLOCK_SIZE);
	if (!dst) {
		if (vm->unhandled_io_logged++ < 32)
			klog_quiet(
			    "vm %s: vcpu %d: kvmclock record at %#llx is not in one page of RAM",
			    vm->cfg.name, v->id, (unsigned long long)gpa);
		return;
	}
	uint64_t tsc = vcpu_guest_tsc(v);
	struct pvclock_point pt = {tsc, pvclock_read(vm->pv_line, vm->pv_scale, tsc)};
	uint8_t rec[PVCLOCK_SIZE];
	v->pv_version = (v->pv_version | 1) + 1; /* even; odd while being written */
	pvclock_encode(rec, v->pv_version, pt, vm->pv_scale, PVCLOCK_TSC_STABLE | flags);
	store_record(vm, gpa, dst, rec, PVCLOCK_SIZE);
}

/* publish_wall: the time of day at system time zero into the record at gpa. */
static void publish_wall(struct vcpu *v, uint64_t gpa)
{
	struct vm *vm = v->vm;
	uint8_t *dst = record_ptr(vm, gpa, PVCLOCK_WALL_SIZE);
	if (!dst)
		return;
	uint64_t tsc = vcpu_guest_tsc(v);
	uint64_t sys = pvclock_read(vm->pv_line, vm->pv_scale, tsc);
	int64_t secs = (int64_t)wallclock_now() + vm->plat.rtc.offset; /* the guest's RTC */
	uint64_t now = secs > 0 ? (uint64_t)secs * PVCLOCK_NSEC_PER_SEC : 0;
	uint8_t rec[PVCLOCK_WALL_SIZE];
	uint32_t version = le32_load(dst);
	pvclock_encode_wall(rec, (version | 1) + 1, now > sys ? now - sys : 0);
	store_record(vm, gpa, dst, rec, PVCLOCK_WALL_SIZE);
}

bool kvmclock_msr_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	if (msr == MSR_KVM_SYSTEM_TIME_NEW)
		*val = v->pv_msr;
	else if (msr == MSR_KVM_WALL_CLOCK_NEW)
		*val = v->pv_wall_msr;
	else
		return false;
	return true;
}

bool kvmclock_msr_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	if (msr == MSR_KVM_SYSTEM_TIME_NEW) {
		v->pv_msr = val; /* 0 (or bit 0 clear) turns the record off: kexec, reboot */
		publish(v, 0);
	} else if (msr == MSR_KVM_WALL_CLOCK_NEW) {
		v->pv_wall_msr = val;
		publish_wall(v, val);
	} else {
		return false;
	}
	return true;
}

void kvmclock_tsc_written(struct vcpu *v)
{
	/* the line maps guest TSC to time: a TSC moved by the guest moves its clock with it,
	 * as on KVM; the record only needs a fresh point near the new TSC */
	publish(v, 0);
}

void kvmclock_boot(struct vm *vm)
{
	/* the vCPUs' MSRs start at 0: every boot allocates them zeroed (make_vcpus) */
	vm->pv_line = (struct pvclock_point){0, 0};
	vm->pv_scale = pvclock_scale_for(tsc_hz);
}

void kvmclock_resume(struct vm *vm)
{
	if (!vm->nvcpus)
		return;
	/* the line is the saved one, or kvmclock_boot's for a stream from before kvmclock */
	uint64_t tsc = vcpu_guest_tsc(vm->vcpu[0]);
	vm->pv_line = (struct pvclock_point){tsc, pvclock_read(vm->pv_line, vm->pv_scale, tsc)};
	vm->pv_scale = pvclock_scale_for(tsc_hz);
	for (int i = 0; i < vm->nvcpus; i++)
		publish(vm->vcpu[i], PVCLOCK_GUEST_STOPPED);
}
