/* Guest MSR policy; see msr.h. MSR numbers: SDM vol. 4, APM vol. 2 appendix A. */
#include "vmm/msr.h"
#include "vmm/kvmclock.h"
#include "kernel/log.h"
#include "kernel/x86.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define MSR_TSC           0x10
#define MSR_PLATFORM_ID   0x17
#define MSR_UCODE_REV     0x8b /* AMD patch level / Intel BIOS_SIGN_ID */
#define MSR_AMD_HWCR      0xc0010015
#define HWCR_TSC_FREQ_SEL (1ULL << 24) /* TscFreqSel: the TSC counts at the P0 rate (BKDG) */
#define MSR_AMD_DE_CFG    0xc0011029
#define MSR_AMD_NB_CFG    0xc001001f
#define APIC_BASE_ENABLE  (1ULL << 11)
#define APIC_BASE_X2APIC  (1ULL << 10)

/* log_refused: rate-limited note of an MSR the guest may not use. */
static void log_refused(struct vcpu *v, const char *op, uint32_t msr, uint64_t val)
{
	struct vm *vm = v->vm;
	if (vm->unhandled_io_logged++ < 32)
		klog_quiet("vm %s: vcpu %d: %s of MSR %#x (value %#llx) refused: #GP", vm->cfg.name,
		           v->id, op, msr, (unsigned long long)val);
}

int msr_guest_read(struct vcpu *v, uint32_t msr, uint64_t *val)
{
	if (vmm->msr_read(v, msr, val) || kvmclock_msr_read(v, msr, val))
		return 0;
	switch (msr) {
	case MSR_TSC:
		*val = vcpu_guest_tsc(v);
		return 0;
	case MSR_APIC_BASE:
		*val = v->lapic.apic_base_msr;
		return 0;
	case MSR_TSC_DEADLINE:
		*val = vlapic_tsc_deadline_read(&v->lapic);
		return 0;
	case MSR_AMD_HWCR:
		*val = HWCR_TSC_FREQ_SEL;
		return 0;
	case MSR_UCODE_REV:
	case MSR_AMD_DE_CFG:
	case MSR_AMD_NB_CFG:
		*val = 0;
		return 0;
	default:
		log_refused(v, "read", msr, 0);
		return -1;
	}
}

/* apic_base_write: the enable bit may change; relocation and x2APIC are not offered. */
static int apic_base_write(struct vcpu *v, uint64_t val)
{
	uint64_t cur = v->lapic.apic_base_msr;
	uint64_t fixed = ~(APIC_BASE_ENABLE | 0xfffULL);
	if ((val & fixed) != (cur & fixed) || (val & APIC_BASE_X2APIC))
		return -1;
	v->lapic.apic_base_msr = (cur & ~APIC_BASE_ENABLE) | (val & APIC_BASE_ENABLE);
	return 0;
}

int msr_guest_write(struct vcpu *v, uint32_t msr, uint64_t val)
{
	if (vmm->msr_write(v, msr, val) || kvmclock_msr_write(v, msr, val))
		return 0;
	switch (msr) {
	case MSR_TSC:
		v->tsc_offset = val - rdtsc();
		kvmclock_tsc_written(v);
		return 0;
	case MSR_APIC_BASE:
		if (apic_base_write(v, val) == 0)
			return 0;
		break;
	case MSR_TSC_DEADLINE:
		vlapic_tsc_deadline_write(&v->lapic, val);
		return 0;
	case MSR_UCODE_REV:
	case MSR_AMD_HWCR:
	case MSR_AMD_DE_CFG:
	case MSR_AMD_NB_CFG:
		return 0; /* accepted and ignored: no effect inside a VM */
	default:
		break;
	}
	log_refused(v, "write", msr, val);
	return -1;
}
