/*
 * Intel VMX architecture: VMCS field encodings (SDM vol. 3D appendix B), control bits (SDM 3C
 * 25.6-25.8), capability MSRs (SDM 3D appendix A), exit reasons (appendix C), exit
 * qualifications (SDM 3C 28.2.1) and the VMX instructions as inline functions.
 */
#ifndef TERN_VMCS_H
#define TERN_VMCS_H

#include "kernel/compiler.h"

/* ---- capability MSRs (SDM 3D A.1-A.10) ------------------------------------------------- */
#define MSR_VMX_BASIC               0x480
#define MSR_VMX_PINBASED_CTLS       0x481
#define MSR_VMX_PROCBASED_CTLS      0x482
#define MSR_VMX_EXIT_CTLS           0x483
#define MSR_VMX_ENTRY_CTLS          0x484
#define MSR_VMX_MISC                0x485
#define MSR_VMX_CR0_FIXED0          0x486
#define MSR_VMX_CR0_FIXED1          0x487
#define MSR_VMX_CR4_FIXED0          0x488
#define MSR_VMX_CR4_FIXED1          0x489
#define MSR_VMX_PROCBASED_CTLS2     0x48b
#define MSR_VMX_EPT_VPID_CAP        0x48c
#define MSR_VMX_TRUE_PINBASED_CTLS  0x48d
#define MSR_VMX_TRUE_PROCBASED_CTLS 0x48e
#define MSR_VMX_TRUE_EXIT_CTLS      0x48f
#define MSR_VMX_TRUE_ENTRY_CTLS     0x490

/* IA32_FEATURE_CONTROL (SDM 3C 24.7). */
#define FEATURE_CONTROL_LOCK            (1ULL << 0)
#define FEATURE_CONTROL_VMX_IN_SMX      (1ULL << 1)
#define FEATURE_CONTROL_VMX_OUTSIDE_SMX (1ULL << 2)

/* IA32_VMX_BASIC (A.1). */
#define VMX_BASIC_REVISION(b)  ((uint32_t)(b)&0x7fffffffu)
#define VMX_BASIC_VMCS_SIZE(b) ((uint32_t)((b) >> 32) & 0x1fffu)
#define VMX_BASIC_32BIT_PA     (1ULL << 48)
#define VMX_BASIC_MEMTYPE(b)   ((uint32_t)((b) >> 50) & 0xfu)
#define VMX_BASIC_INOUT_INFO   (1ULL << 54)
#define VMX_BASIC_TRUE_CTLS    (1ULL << 55)

/* IA32_VMX_MISC (A.6). */
#define VMX_MISC_STORE_LMA        (1ULL << 5) /* exits store EFER.LMA in "IA-32e mode guest" */
#define VMX_MISC_PREEMPT_SHIFT(m) ((unsigned)(m)&0x1f) /* a tick is 2^n TSC cycles */

/* IA32_VMX_EPT_VPID_CAP (A.10). */
#define EPT_CAP_WALK4         (1ULL << 6)
#define EPT_CAP_WB            (1ULL << 14)
#define EPT_CAP_2M            (1ULL << 16)
#define EPT_CAP_INVEPT        (1ULL << 20)
#define EPT_CAP_AD            (1ULL << 21)
#define EPT_CAP_INVEPT_SINGLE (1ULL << 25)
#define EPT_CAP_INVEPT_ALL    (1ULL << 26)
#define VPID_CAP_INVVPID      (1ULL << 32)
#define VPID_CAP_SINGLE       (1ULL << 41)
#define VPID_CAP_ALL          (1ULL << 42)

/* ---- VMCS field encodings (SDM 3D B.1-B.4) ---------------------------------------------- */
/* 16-bit */
#define VMCS_VPID            0x0000
#define VMCS_GUEST_SEL(s)    (0x0800 + 2 * (s)) /* s: ES CS SS DS FS GS LDTR TR */
#define VMCS_GUEST_PML_INDEX 0x0812
#define VMCS_HOST_ES_SEL     0x0c00
#define VMCS_HOST_CS_SEL     0x0c02
#define VMCS_HOST_SS_SEL     0x0c04
#define VMCS_HOST_DS_SEL     0x0c06
#define VMCS_HOST_FS_SEL     0x0c08
#define VMCS_HOST_GS_SEL     0x0c0a
#define VMCS_HOST_TR_SEL     0x0c0c
/* 64-bit */
#define VMCS_IO_BITMAP_A     0x2000
#define VMCS_IO_BITMAP_B     0x2002
#define VMCS_MSR_BITMAP      0x2004
#define VMCS_EXIT_MSR_STORE  0x2006
#define VMCS_EXIT_MSR_LOAD   0x2008
#define VMCS_ENTRY_MSR_LOAD  0x200a
#define VMCS_PML_ADDRESS     0x200e
#define VMCS_TSC_OFFSET      0x2010
#define VMCS_EPTP            0x201a
#define VMCS_GUEST_PHYS_ADDR 0x2400
#define VMCS_LINK_POINTER    0x2800
#define VMCS_GUEST_DEBUGCTL  0x2802
#define VMCS_GUEST_PAT       0x2804
#define VMCS_GUEST_EFER      0x2806
#define VMCS_GUEST_PDPTE(i)  (0x280a + 2 * (i))
#define VMCS_HOST_PAT        0x2c00
#define VMCS_HOST_EFER       0x2c02
/* 32-bit */
#define VMCS_PIN_CTLS               0x4000
#define VMCS_PROC_CTLS              0x4002
#define VMCS_EXCEPTION_BITMAP       0x4004
#define VMCS_PF_ERR_MASK            0x4006
#define VMCS_PF_ERR_MATCH           0x4008
#define VMCS_CR3_TARGET_COUNT       0x400a
#define VMCS_EXIT_CTLS              0x400c
#define VMCS_EXIT_MSR_STORE_CNT     0x400e
#define VMCS_EXIT_MSR_LOAD_CNT      0x4010
#define VMCS_ENTRY_CTLS             0x4012
#define VMCS_ENTRY_MSR_LOAD_CNT     0x4014
#define VMCS_ENTRY_INTR_INFO        0x4016
#define VMCS_ENTRY_EXC_ERROR        0x4018
#define VMCS_ENTRY_INSN_LEN         0x401a
#define VMCS_TPR_THRESHOLD          0x401c
#define VMCS_PROC_CTLS2             0x401e
#define VMCS_VM_INSN_ERROR          0x4400
#define VMCS_EXIT_REASON            0x4402
#define VMCS_EXIT_INTR_INFO         0x4404
#define VMCS_EXIT_INTR_ERROR        0x4406
#define VMCS_IDT_VECT_INFO          0x4408
#define VMCS_IDT_VECT_ERROR         0x440a
#define VMCS_EXIT_INSN_LEN          0x440c
#define VMCS_EXIT_INSN_INFO         0x440e
#define VMCS_GUEST_LIMIT(s)         (0x4800 + 2 * (s))
#define VMCS_GUEST_GDTR_LIMIT       0x4810
#define VMCS_GUEST_IDTR_LIMIT       0x4812
#define VMCS_GUEST_AR(s)            (0x4814 + 2 * (s))
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY         0x4826
#define VMCS_GUEST_SYSENTER_CS      0x482a
#define VMCS_PREEMPT_TIMER          0x482e
#define VMCS_HOST_SYSENTER_CS       0x4c00
/* natural width */
#define VMCS_CR0_MASK           0x6000
#define VMCS_CR4_MASK           0x6002
#define VMCS_CR0_SHADOW         0x6004
#define VMCS_CR4_SHADOW         0x6006
#define VMCS_EXIT_QUAL          0x6400
#define VMCS_GUEST_LINEAR       0x640a
#define VMCS_GUEST_CR0          0x6800
#define VMCS_GUEST_CR3          0x6802
#define VMCS_GUEST_CR4          0x6804
#define VMCS_GUEST_BASE(s)      (0x6806 + 2 * (s))
#define VMCS_GUEST_GDTR_BASE    0x6816
#define VMCS_GUEST_IDTR_BASE    0x6818
#define VMCS_GUEST_DR7          0x681a
#define VMCS_GUEST_RSP          0x681c
#define VMCS_GUEST_RIP          0x681e
#define VMCS_GUEST_RFLAGS       0x6820
#define VMCS_GUEST_PENDING_DBG  0x6822
#define VMCS_GUEST_SYSENTER_ESP 0x6824
#define VMCS_GUEST_SYSENTER_EIP 0x6826
#define VMCS_HOST_CR0           0x6c00
#define VMCS_HOST_CR3           0x6c02
#define VMCS_HOST_CR4           0x6c04
#define VMCS_HOST_FS_BASE       0x6c06
#define VMCS_HOST_GS_BASE       0x6c08
#define VMCS_HOST_TR_BASE       0x6c0a
#define VMCS_HOST_GDTR_BASE     0x6c0c
#define VMCS_HOST_IDTR_BASE     0x6c0e
#define VMCS_HOST_SYSENTER_ESP  0x6c10
#define VMCS_HOST_SYSENTER_EIP  0x6c12
#define VMCS_HOST_RSP           0x6c14
#define VMCS_HOST_RIP           0x6c16

/* ---- controls (SDM 3C 25.6.1, 25.6.2, 25.7.1, 25.8.1) ---------------------------------- */
#define PIN_EXTINT_EXITING (1u << 0)
#define PIN_NMI_EXITING    (1u << 3)
#define PIN_VIRTUAL_NMIS   (1u << 5)
#define PIN_PREEMPT_TIMER  (1u << 6)

#define PROC_INTR_WINDOW       (1u << 2)
#define PROC_TSC_OFFSET        (1u << 3)
#define PROC_HLT_EXITING       (1u << 7)
#define PROC_INVLPG_EXITING    (1u << 9)
#define PROC_MWAIT_EXITING     (1u << 10)
#define PROC_RDPMC_EXITING     (1u << 11)
#define PROC_RDTSC_EXITING     (1u << 12)
#define PROC_CR3_LOAD_EXITING  (1u << 15)
#define PROC_CR3_STORE_EXITING (1u << 16)
#define PROC_CR8_LOAD_EXITING  (1u << 19)
#define PROC_CR8_STORE_EXITING (1u << 20)
#define PROC_TPR_SHADOW        (1u << 21)
#define PROC_NMI_WINDOW        (1u << 22)
#define PROC_MOV_DR_EXITING    (1u << 23)
#define PROC_UNCOND_IO         (1u << 24)
#define PROC_IO_BITMAPS        (1u << 25)
#define PROC_MTF               (1u << 27)
#define PROC_MSR_BITMAPS       (1u << 28)
#define PROC_MONITOR_EXITING   (1u << 29)
#define PROC_PAUSE_EXITING     (1u << 30)
#define PROC_SECONDARY         (1u << 31)

#define PROC2_EPT            (1u << 1)
#define PROC2_RDTSCP         (1u << 3)
#define PROC2_VPID           (1u << 5)
#define PROC2_WBINVD_EXITING (1u << 6)
#define PROC2_UNRESTRICTED   (1u << 7)
#define PROC2_INVPCID        (1u << 12)
#define PROC2_PML            (1u << 17)
#define PROC2_XSAVES         (1u << 20)

#define EXIT_SAVE_DEBUG (1u << 2)
#define EXIT_HOST_64    (1u << 9)
#define EXIT_ACK_INTR   (1u << 15)
#define EXIT_SAVE_PAT   (1u << 18)
#define EXIT_LOAD_PAT   (1u << 19)
#define EXIT_SAVE_EFER  (1u << 20)
#define EXIT_LOAD_EFER  (1u << 21)

#define ENTRY_LOAD_DEBUG (1u << 2)
#define ENTRY_IA32E      (1u << 9)
#define ENTRY_LOAD_PAT   (1u << 14)
#define ENTRY_LOAD_EFER  (1u << 15)

/* EPT pointer (SDM 3C 25.6.11). */
#define EPTP_WB    6ULL
#define EPTP_WALK4 (3ULL << 3)
#define EPTP_AD    (1ULL << 6)

/* ---- event information (SDM 3C 25.8.3, 28.2.2, 28.2.4) --------------------------------- */
#define INTR_INFO_VECTOR(i)   ((i)&0xffu)
#define INTR_INFO_TYPE(i)     (((i) >> 8) & 7u)
#define INTR_INFO_HAS_ERROR   (1u << 11)
#define INTR_INFO_NMI_UNBLOCK (1u << 12)
#define INTR_INFO_VALID       (1u << 31)
#define INTR_TYPE_EXT         0u
#define INTR_TYPE_NMI         2u
#define INTR_TYPE_HW_EXC      3u
#define INTR_TYPE_SW_INT      4u
#define INTR_TYPE_PRIV_SW_EXC 5u
#define INTR_TYPE_SW_EXC      6u

/* Guest interruptibility state (SDM 3C 25.4.2, table 25-3). */
#define INTERRUPTIBILITY_STI   (1u << 0)
#define INTERRUPTIBILITY_MOVSS (1u << 1)
#define INTERRUPTIBILITY_NMI   (1u << 3)

/* ---- exit reasons (SDM 3D appendix C) --------------------------------------------------- */
#define VMX_EXIT_EXC_NMI           0
#define VMX_EXIT_EXT_INTR          1
#define VMX_EXIT_TRIPLE_FAULT      2
#define VMX_EXIT_INIT              3
#define VMX_EXIT_SIPI              4
#define VMX_EXIT_INTR_WINDOW       7
#define VMX_EXIT_NMI_WINDOW        8
#define VMX_EXIT_TASK_SWITCH       9
#define VMX_EXIT_CPUID             10
#define VMX_EXIT_GETSEC            11
#define VMX_EXIT_HLT               12
#define VMX_EXIT_INVD              13
#define VMX_EXIT_INVLPG            14
#define VMX_EXIT_RDPMC             15
#define VMX_EXIT_RDTSC             16
#define VMX_EXIT_RSM               17
#define VMX_EXIT_VMCALL            18
#define VMX_EXIT_VMCLEAR           19
#define VMX_EXIT_VMXON             27
#define VMX_EXIT_CR_ACCESS         28
#define VMX_EXIT_DR_ACCESS         29
#define VMX_EXIT_IO                30
#define VMX_EXIT_RDMSR             31
#define VMX_EXIT_WRMSR             32
#define VMX_EXIT_BAD_GUEST         33
#define VMX_EXIT_BAD_MSR_LOAD      34
#define VMX_EXIT_MWAIT             36
#define VMX_EXIT_MTF               37
#define VMX_EXIT_MONITOR           39
#define VMX_EXIT_PAUSE             40
#define VMX_EXIT_MCE_DURING_ENTRY  41
#define VMX_EXIT_EPT_VIOLATION     48
#define VMX_EXIT_EPT_MISCONFIG     49
#define VMX_EXIT_INVEPT            50
#define VMX_EXIT_RDTSCP            51
#define VMX_EXIT_PREEMPT_TIMER     52
#define VMX_EXIT_INVVPID           53
#define VMX_EXIT_WBINVD            54
#define VMX_EXIT_XSETBV            55
#define VMX_EXIT_RDRAND            57
#define VMX_EXIT_INVPCID           58
#define VMX_EXIT_VMFUNC            59
#define VMX_EXIT_RDSEED            61
#define VMX_EXIT_PML_FULL          62
#define VMX_EXIT_XSAVES            63
#define VMX_EXIT_XRSTORS           64
#define VMX_EXIT_REASON_ENTRY_FAIL (1u << 31)

/* I/O qualification (SDM 3C table 28-5). */
#define IO_QUAL_SIZE(q) ((unsigned)((q)&7) + 1)
#define IO_QUAL_IN      (1ULL << 3)
#define IO_QUAL_STRING  (1ULL << 4)
#define IO_QUAL_REP     (1ULL << 5)
#define IO_QUAL_PORT(q) ((uint16_t)((q) >> 16))
/* INS/OUTS instruction information (SDM 3C table 28-8). */
#define IO_INFO_ADDR_SIZE(i) (((i) >> 7) & 7u) /* 0: 16, 1: 32, 2: 64 bits */
#define IO_INFO_SEG(i)       (((i) >> 15) & 7u)

/* EPT violation qualification (SDM 3C table 28-7). */
#define EPT_QUAL_READ         (1ULL << 0)
#define EPT_QUAL_WRITE        (1ULL << 1)
#define EPT_QUAL_FETCH        (1ULL << 2)
#define EPT_QUAL_PERM_MASK    (7ULL << 3) /* what the entry allowed: any bit = present */
#define EPT_QUAL_LINEAR_VALID (1ULL << 7)
#define EPT_QUAL_TRANSLATED   (1ULL << 8)
#define EPT_QUAL_NMI_UNBLOCK  (1ULL << 12)

/* Control-register access qualification (SDM 3C table 28-3). */
#define CR_QUAL_NUM(q)      ((unsigned)((q)&0xf))
#define CR_QUAL_TYPE(q)     ((unsigned)((q) >> 4) & 3u)
#define CR_QUAL_GPR(q)      ((unsigned)((q) >> 8) & 0xfu)
#define CR_QUAL_LMSW_SRC(q) ((uint16_t)((q) >> 16))
#define CR_TYPE_MOV_TO      0
#define CR_TYPE_MOV_FROM    1
#define CR_TYPE_CLTS        2
#define CR_TYPE_LMSW        3

/* ---- instructions (SDM 3C 31; nasm/gas spell them as here) ------------------------------ */
/* Each VMX instruction reports VMfailInvalid in CF and VMfailValid in ZF (SDM 3C 31.2). */

/* vmx_vmread: the field's value (0 for a failed read; callers read only supported fields). */
static inline uint64_t vmread(uint64_t field)
{
	uint64_t v = 0;
	__asm__ volatile("vmread %1, %0" : "=r"(v) : "r"(field) : "cc");
	return v;
}

/* vmwrite: store val in field; false on VMfail. */
static inline bool vmwrite(uint64_t field, uint64_t val)
{
	bool bad;
	__asm__ volatile("vmwrite %2, %1\n\tsetbe %0" : "=qm"(bad) : "r"(field), "rm"(val) : "cc");
	return !bad;
}

/* vmptrld / vmclear / vmxon: pa of a 4 KiB region; false on VMfail. */
static inline bool vmptrld(uint64_t pa)
{
	bool bad;
	__asm__ volatile("vmptrld %1\n\tsetbe %0" : "=qm"(bad) : "m"(pa) : "cc", "memory");
	return !bad;
}

static inline bool vmclear(uint64_t pa)
{
	bool bad;
	__asm__ volatile("vmclear %1\n\tsetbe %0" : "=qm"(bad) : "m"(pa) : "cc", "memory");
	return !bad;
}

static inline bool vmxon(uint64_t pa)
{
	bool bad;
	__asm__ volatile("vmxon %1\n\tsetbe %0" : "=qm"(bad) : "m"(pa) : "cc", "memory");
	return !bad;
}

/* invept / invvpid: type and the 128-bit descriptor (SDM 3C 31.3). */
static inline bool invept(uint64_t type, uint64_t eptp)
{
	struct {
		uint64_t eptp, zero;
	} d = {eptp, 0};
	bool bad;
	__asm__ volatile("invept %1, %2\n\tsetbe %0"
	                 : "=qm"(bad)
	                 : "m"(d), "r"(type)
	                 : "cc", "memory");
	return !bad;
}

static inline bool invvpid(uint64_t type, uint16_t vpid)
{
	struct {
		uint64_t vpid, addr;
	} d = {vpid, 0};
	bool bad;
	__asm__ volatile("invvpid %1, %2\n\tsetbe %0"
	                 : "=qm"(bad)
	                 : "m"(d), "r"(type)
	                 : "cc", "memory");
	return !bad;
}

#define INVEPT_SINGLE  1
#define INVEPT_ALL     2
#define INVVPID_SINGLE 1
#define INVVPID_ALL    2

#endif
