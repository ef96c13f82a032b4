/*
 * Extended page tables (SDM 3C 29.3): the entry format vmm/npt.c builds the tables with, the
 * EPT pointer, and TLB invalidation (INVEPT, SDM 3C 29.4.3).
 *
 * Entries: R/W/X in bits 2:0 (an entry with none of them is not present), the memory type of
 * a leaf in bits 5:3 (write-back: guest RAM is ordinary memory; the guest's PAT still applies,
 * "ignore PAT" bit 6 stays 0), bit 7 makes a level-1 entry a 2 MiB page, bit 8 accessed and
 * bit 9 dirty when EPTP bit 6 enables them (SDM 3C 29.3.5).
 */
#include "kernel/fmt.h"
#include "kernel/mmu.h"
#include "vmm/npt.h"
#include "vmm/vm.h"
#include "vmm/vmx/vmcs.h"
#include "vmm/vmx/vmx.h"

#define EPT_R     (1ULL << 0)
#define EPT_W     (1ULL << 1)
#define EPT_X     (1ULL << 2)
#define EPT_MT_WB (6ULL << 3)
#define EPT_LARGE (1ULL << 7)
#define EPT_DIRTY (1ULL << 9)
#define EPT_ADDR  0x000ffffffffff000ULL

/* ept_leaf: a 4 KiB (level 0) or 2 MiB (level 1) page, write-back. */
static uint64_t ept_leaf(uint64_t hpa, int level, unsigned perm)
{
	return hpa | ((perm & NPT_R) ? EPT_R : 0) | ((perm & NPT_W) ? EPT_W : 0) |
	       ((perm & NPT_X) ? EPT_X : 0) | EPT_MT_WB | (level ? EPT_LARGE : 0);
}

/* ept_table: a non-leaf entry; the leaves below decide the permissions. */
static uint64_t ept_table(uint64_t hpa)
{
	return hpa | EPT_R | EPT_W | EPT_X;
}

/* ept_present: any of R/W/X (SDM 3C 29.3.2). */
static bool ept_present(uint64_t e)
{
	return (e & (EPT_R | EPT_W | EPT_X)) != 0;
}

/* ept_perm: the NPT_* permissions of a leaf. */
static unsigned ept_perm(uint64_t e)
{
	return ((e & EPT_R) ? NPT_R : 0) | ((e & EPT_W) ? NPT_W : 0) | ((e & EPT_X) ? NPT_X : 0);
}

const struct npt_format ept_format = {
    .name = "EPT",
    .leaf = ept_leaf,
    .table = ept_table,
    .present = ept_present,
    .perm = ept_perm,
    .addr_mask = EPT_ADDR,
    .large_bit = EPT_LARGE,
    .dirty_bit = EPT_DIRTY,
};

/* ept_pointer: write-back paging structures, 4-level walk, A/D flags when the CPU has them
 * (SDM 3C 25.6.11). */
uint64_t ept_pointer(uint64_t root)
{
	return root | EPTP_WB | EPTP_WALK4 | (vmx_caps.ept_ad ? EPTP_AD : 0);
}

/* ept_invalidate: drop guest-physical and combined translations derived from eptp:
 * single-context where offered, else all-context (SDM 3C 29.4.3.1). */
void ept_invalidate(uint64_t eptp)
{
	if (vmx_caps.invept_single)
		invept(INVEPT_SINGLE, eptp);
	else
		invept(INVEPT_ALL, 0);
}

/* ept_describe: "PML4E x PDPTE y PDE z PTE w" for gpa, stopping at a leaf or a hole. */
void ept_describe(struct vcpu *v, uint64_t gpa, char *buf, size_t len)
{
	static const char *const names[4] = {"PTE", "PDE", "PDPTE", "PML4E"};
	uint64_t table = v->vm->npt.root;
	size_t n = 0;
	buf[0] = 0;
	for (int l = 3; l >= 0 && table && n < len; l--) {
		uint64_t e = ((uint64_t *)P2V(table))[(gpa >> (12 + 9 * l)) & 511];
		n += (size_t)fmt_snprintf(buf + n, len - n, "%s%s %#llx", n ? " " : "", names[l],
		                          (unsigned long long)e);
		if (!ept_present(e) || (l && (e & EPT_LARGE)))
			break;
		table = e & EPT_ADDR;
	}
}
