/*
 * Guest page-table walker (pure; host-tested in tests/unit/test_x86_walk.c).
 *
 * Translates a guest linear address to a guest-physical address the way the CPU would for the
 * guest's current CR0/CR3/CR4/EFER: paging off, 32-bit paging (4 KiB and, with CR4.PSE, 4 MiB
 * PSE-36 pages), PAE (4 KiB / 2 MiB) and 4- or 5-level paging (4 KiB / 2 MiB / 1 GiB) (SDM vol.
 * 3 chapter 4, APM vol. 2 chapter 5). It checks present, reserved bits (against MAXPHYADDR and
 * EFER.NXE), R/W with CR0.WP, U/S, NX, SMEP, SMAP (with RFLAGS.AC and implicit accesses) and
 * protection keys (CR4.PKE, PKRU), and on failure produces the #PF error code (SDM vol. 3 4.7).
 * Guest page tables are read through a callback; they are guest-controlled data and are
 * treated as untrusted. Accessed/dirty bits are set only when the caller supplies cmpxchg_gpa.
 *
 * Not modelled: 1 GiB pages are assumed supported (CPUID.80000001H:EDX.Page1GB), PSE-36 is
 * assumed, supervisor protection keys (CR4.PKS), shadow-stack accesses, HLAT, LAM and CR3 PCID
 * bits (ignored) are not looked at, and the AMD-only MBZ bit 8 of upper-level entries is not
 * checked.
 */
#ifndef TERN_X86_WALK_H
#define TERN_X86_WALK_H

#include "vmm/x86.h"

/* Access kinds (the W/U/I bits line up with the #PF error code). */
#define X86_ACC_READ  0u
#define X86_ACC_WRITE (1u << 1)
#define X86_ACC_USER  (1u << 2) /* made at CPL 3 (an explicit user-mode access) */
#define X86_ACC_FETCH (1u << 4) /* instruction fetch */
#define X86_ACC_IMPLICIT                                                                           \
	(1u << 8) /* implicit supervisor access (GDT/IDT/TSS...): SMAP applies                     \
	             whatever RFLAGS.AC says */

/* #PF error code bits (SDM vol. 3 4.7). */
#define X86_PF_P    (1u << 0) /* 0: not present; 1: protection / reserved-bit violation */
#define X86_PF_W    (1u << 1)
#define X86_PF_U    (1u << 2)
#define X86_PF_RSVD (1u << 3)
#define X86_PF_I    (1u << 4)
#define X86_PF_PK   (1u << 5)

/* Control-register and EFER bits the walker reads (SDM vol. 3 2.5, 2.2.1). */
#define X86_CR0_WP   (1ULL << 16)
#define X86_CR0_PG   (1ULL << 31)
#define X86_CR4_PSE  (1ULL << 4)
#define X86_CR4_PAE  (1ULL << 5)
#define X86_CR4_LA57 (1ULL << 12)
#define X86_CR4_SMEP (1ULL << 20)
#define X86_CR4_SMAP (1ULL << 21)
#define X86_CR4_PKE  (1ULL << 22)
#define X86_EFER_LMA (1ULL << 10)
#define X86_EFER_NXE (1ULL << 11)

/* Paging-structure entry bits (SDM vol. 3 tables 4-4 .. 4-20). */
#define X86_PTE_P  (1ULL << 0)
#define X86_PTE_RW (1ULL << 1)
#define X86_PTE_US (1ULL << 2)
#define X86_PTE_A  (1ULL << 5)
#define X86_PTE_D  (1ULL << 6)
#define X86_PTE_PS (1ULL << 7)
#define X86_PTE_NX (1ULL << 63)

/* Paging mode selected by CR0.PG, CR4.PAE, EFER.LMA and CR4.LA57. */
enum x86_paging {
	X86_PAGING_OFF,
	X86_PAGING_32,
	X86_PAGING_PAE,
	X86_PAGING_4LEVEL,
	X86_PAGING_5LEVEL,
};

/* The guest state a walk depends on, and how to reach guest-physical memory. */
struct x86_walk_ctx {
	uint64_t cr0, cr3, cr4, efer;
	uint64_t rflags;    /* only AC is used (SMAP) */
	uint32_t pkru;      /* PKRU, used when CR4.PKE is set (4/5-level paging) */
	uint8_t maxphyaddr; /* guest MAXPHYADDR (CPUID 80000008H:EAX[7:0]), 32..52; 0 means 52 */
	/* PAE: the four PDPTEs loaded by the last CR3 write (VMX guest PDPTE fields); NULL reads
	 * them from memory at CR3 on every walk. */
	const uint64_t *pdpte;
	/* Read size (4 or 8) bytes of guest-physical memory (a paging-structure entry). Returns
	 * X86_OK or a negative code, handed back by x86_walk (e.g. table outside guest RAM). */
	int (*read_gpa)(void *ctx, uint64_t gpa, void *buf, unsigned size);
	/* Optional, to set accessed/dirty bits like the CPU: atomically replace the size-byte entry
	 * at gpa with new if it still holds old. Returns X86_OK, X86_ERR_RETRY if the entry
	 * changed (the walk restarts, a few times at most), or another negative code. NULL: A/D
	 * bits are not set (the access that trapped has normally set them in hardware already). */
	int (*cmpxchg_gpa)(void *ctx, uint64_t gpa, uint64_t old, uint64_t new, unsigned size);
	void *ctx;
};

/* x86_paging_mode: the paging mode w's control registers select. */
enum x86_paging x86_paging_mode(const struct x86_walk_ctx *w);

/*
 * x86_walk: translate linear for an access of kind access (X86_ACC_*).
 * Returns X86_OK with *gpa set; X86_ERR_PAGE_FAULT with *pf_error set (inject #PF, CR2 =
 * linear); X86_ERR_NONCANONICAL (4/5-level: inject #GP(0), or #SS(0) for a stack access);
 * X86_ERR_RETRY if cmpxchg_gpa kept reporting concurrent changes; or a callback's code.
 * Outside 4/5-level paging only the low 32 bits of linear are used.
 */
int x86_walk(const struct x86_walk_ctx *w, uint64_t linear, unsigned access, uint64_t *gpa,
             uint32_t *pf_error);

#endif
