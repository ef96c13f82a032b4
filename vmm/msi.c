/* MSI delivery: address bits 19:12 destination, bit 2 logical mode; data bits 7:0 vector,
 * 10:8 delivery mode, 15 trigger mode (SDM 3A 11.11.1, 11.11.2). */
#include "vmm/msi.h"
#include "vmm/vm.h"

bool vm_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	if ((addr >> 20) != 0xfee)
		return false;
	uint32_t dest = (uint32_t)(addr >> 12) & 0xff;
	bool logical = (addr >> 2) & 1;
	unsigned mode = (data >> 8) & 7;
	uint8_t vector = data & 0xff;
	bool level = (data >> 15) & 1;
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vlapic *a = &vm->vcpu[i]->lapic;
		if (!vlapic_match_dest(a, dest, logical))
			continue;
		if (mode == APIC_DM_NMI) {
			a->nmi_pending = true;
			vcpu_kick(a->vcpu);
		} else if (mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) {
			vlapic_accept(a, vector, level);
			if (mode == APIC_DM_LOWEST)
				break;
		}
	}
	return true;
}
